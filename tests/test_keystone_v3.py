"""Keystone v3 subset: what keystoneauth, openstacksdk, the openstack CLI and swift need."""

import pytest

from synnefo.astakos.models import AuthToken
from tests.helpers import V3, post_json

pytestmark = pytest.mark.django_db


def password_body(name, password, project=None, user_domain={"name": "Default"}):
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": name, "password": password}}}}}
    if user_domain is not None:
        body["auth"]["identity"]["password"]["user"]["domain"] = user_domain
    if project is not None:
        body["auth"]["scope"] = {"project": project}
    return body


def token_body(token, project=None):
    body = {"auth": {"identity": {"methods": ["token"], "token": {"id": token}}}}
    if project is not None:
        body["auth"]["scope"] = {"project": project}
    return body


def test_version_documents_need_no_token(client):
    r = client.get(V3)
    assert r.status_code == 200
    version = r.json()["version"]
    assert version["id"].startswith("v3") and version["status"] == "stable"
    assert version["links"][0]["href"] == "http://testserver/astakos/identity/v3/"
    r = client.get("/astakos/identity")
    assert r.status_code == 300
    ids = [v["id"] for v in r.json()["versions"]["values"]]
    assert ids[0].startswith("v3") and "v2.0" in ids


def test_password_login_with_project_name(client, alice):
    user, password, _ = alice
    r = post_json(client, f"{V3}/auth/tokens", password_body(user.email, password, {"name": user.email, "domain": {"name": "Default"}}))
    assert r.status_code == 201
    token = r["X-Subject-Token"]
    body = r.json()["token"]
    assert body["user"]["id"] == str(user.uuid) and body["user"]["name"] == user.email
    assert body["project"] == {"id": str(user.uuid), "name": user.email, "domain": {"id": "default", "name": "Default"}}
    assert body["expires_at"].endswith("Z") and body["methods"] == ["password"]
    catalog = {entry["type"]: entry for entry in body["catalog"]}
    assert catalog["identity"]["endpoints"][0]["url"] == "http://testserver/astakos/identity/v3"
    assert catalog["identity"]["endpoints"][0]["interface"] == "public"
    assert "astakos_ui" not in {e["type"] for e in body["catalog"]}
    assert AuthToken.objects.filter(user=user, is_main=False).count() == 1
    assert token not in AuthToken.objects.get(user=user, is_main=False).digest


@pytest.mark.parametrize("how", ["id", "uuid-as-name"])
def test_password_login_with_project_id_or_uuid(client, alice, how):
    user, password, _ = alice
    project = {"id": str(user.uuid)} if how == "id" else {"name": str(user.uuid), "domain": {"id": "default"}}
    r = post_json(client, f"{V3}/auth/tokens", password_body(str(user.uuid), password, project))
    assert r.status_code == 201


def test_token_method_and_token_as_password(client, alice):
    user, _, token = alice
    r = post_json(client, f"{V3}/auth/tokens", token_body(token, {"id": str(user.uuid)}))
    assert r.status_code == 201 and r["X-Subject-Token"] == token
    r = post_json(client, f"{V3}/auth/tokens", password_body(user.email, token))
    assert r.status_code == 201 and r["X-Subject-Token"] == token


def test_nocatalog(client, alice):
    r = post_json(client, f"{V3}/auth/tokens?nocatalog", token_body(alice[2]))
    assert r.status_code == 201 and "catalog" not in r.json()["token"]


@pytest.mark.parametrize(
    "mutate, status",
    [
        (lambda b: b["auth"].update(scope={"project": {"id": "someone-else"}}), 401),
        (lambda b: b["auth"].update(scope={"domain": {"id": "default"}}), 401),
        (lambda b: b["auth"]["identity"]["password"]["user"].update(domain={"name": "Other"}), 401),
        (lambda b: b["auth"]["identity"]["password"]["user"].update(password="wrong"), 401),
        (lambda b: b["auth"]["identity"].update(methods=[]), 400),
        (lambda b: b["auth"]["identity"].update(methods=["totp"]), 401),
        (lambda b: b["auth"]["identity"]["password"]["user"].pop("password"), 400),
        (lambda b: b["auth"].pop("identity"), 400),
    ],
)
def test_bad_logins_get_keystone_errors_and_issue_nothing(client, alice, mutate, status):
    user, password, _ = alice
    body = password_body(user.email, password)
    mutate(body)
    before = AuthToken.objects.count()
    r = post_json(client, f"{V3}/auth/tokens", body)
    assert r.status_code == status
    assert r.json()["error"]["code"] == status and r.json()["error"]["message"]
    assert "X-Subject-Token" not in r
    assert AuthToken.objects.count() == before


def test_validate_and_revoke_subject_token(client, alice, make_user):
    user, password, main = alice
    r = post_json(client, f"{V3}/auth/tokens", password_body(user.email, password))
    second = r["X-Subject-Token"]
    r = client.get(f"{V3}/auth/tokens", HTTP_X_AUTH_TOKEN=main, HTTP_X_SUBJECT_TOKEN=second)
    assert r.status_code == 200 and r["X-Subject-Token"] == second
    assert r.json()["token"]["user"]["id"] == str(user.uuid)
    assert client.head(f"{V3}/auth/tokens", HTTP_X_AUTH_TOKEN=main, HTTP_X_SUBJECT_TOKEN=second).status_code == 200

    # Someone else may not look at or revoke alice's token; an admin may look.
    _, _, mallory = make_user()
    assert client.get(f"{V3}/auth/tokens", HTTP_X_AUTH_TOKEN=mallory, HTTP_X_SUBJECT_TOKEN=second).status_code == 403
    assert client.delete(f"{V3}/auth/tokens", HTTP_X_AUTH_TOKEN=mallory, HTTP_X_SUBJECT_TOKEN=second).status_code == 403
    _, _, admin = make_user(admin=True)
    assert client.get(f"{V3}/auth/tokens", HTTP_X_AUTH_TOKEN=admin, HTTP_X_SUBJECT_TOKEN=second).status_code == 200

    r = client.delete(f"{V3}/auth/tokens", HTTP_X_AUTH_TOKEN=main, HTTP_X_SUBJECT_TOKEN=second)
    assert r.status_code == 204 and r.content == b""
    assert client.get(f"{V3}/auth/tokens", HTTP_X_AUTH_TOKEN=main, HTTP_X_SUBJECT_TOKEN=second).status_code == 404
    assert post_json(client, f"{V3}/auth/tokens", token_body(second)).status_code == 401
    assert client.get(f"{V3}/auth/tokens", HTTP_X_SUBJECT_TOKEN=main).status_code == 401


def test_auth_catalog_projects_users(client, alice, make_user):
    user, _, token = alice
    r = client.get(f"{V3}/auth/catalog", HTTP_X_AUTH_TOKEN=token)
    assert r.status_code == 200 and any(e["type"] == "identity" for e in r.json()["catalog"])
    r = client.get(f"{V3}/auth/projects", HTTP_X_AUTH_TOKEN=token)
    assert [p["id"] for p in r.json()["projects"]] == [str(user.uuid)]
    r = client.get(f"{V3}/users/{user.uuid}", HTTP_X_AUTH_TOKEN=token)
    assert r.status_code == 200 and r.json()["user"]["email"] == user.email
    r = client.get(f"{V3}/projects/{user.uuid}", HTTP_X_AUTH_TOKEN=token)
    assert r.status_code == 200 and r.json()["project"]["name"] == user.email
    other, _, _ = make_user()
    assert client.get(f"{V3}/users/{other.uuid}", HTTP_X_AUTH_TOKEN=token).status_code == 403
    assert client.get(f"{V3}/auth/projects").status_code == 401
