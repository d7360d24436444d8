"""Astakos identity v2.0: what kamaki and the services rely on, and every way to get it wrong."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from synnefo.astakos.models import AuthToken, LoginFailure
from tests.helpers import V2, post_json

pytestmark = pytest.mark.django_db


def token_body(token):
    return {"auth": {"token": {"id": token}}}


def test_token_auth_answers_what_kamaki_needs(client, alice):
    user, _, token = alice
    r = post_json(client, f"{V2}/tokens", token_body(token), HTTP_X_AUTH_TOKEN=token)
    assert r.status_code == 200
    access = r.json()["access"]
    assert access["token"]["id"] == token
    assert access["token"]["tenant"]["id"] == str(user.uuid)
    assert access["user"]["id"] == str(user.uuid)
    assert access["user"]["name"] == "First Last"
    catalog = access["serviceCatalog"]
    assert all("name" in entry for entry in catalog)
    types = [entry["type"] for entry in catalog]
    assert len(types) == len(set(types)), "kamaki needs one entry per type"
    assert all(len(entry["endpoints"]) == 1 for entry in catalog)
    (account,) = [e for e in catalog if e["name"] == "astakos_account"]
    endpoint = account["endpoints"][0]
    assert endpoint["versionId"] == "v1.0"
    assert endpoint["publicURL"] == "http://testserver/astakos/account/v1.0"
    assert endpoint["SNF:uiURL"] == "http://testserver/astakos/ui"
    (identity,) = [e for e in catalog if e["type"] == "identity"]
    assert identity["endpoints"][0]["publicURL"].endswith("/astakos/identity/v2.0")


def test_catalog_urls_follow_configured_base_url(client, alice, settings):
    settings.ASTAKOS_BASE_URL = "https://accounts.example.org/astakos"
    r = post_json(client, f"{V2}/tokens", token_body(alice[2]))
    urls = [e["endpoints"][0]["publicURL"] for e in r.json()["access"]["serviceCatalog"]]
    assert "https://accounts.example.org/astakos/identity/v2.0" in urls


def test_empty_body_answers_catalog_only(client):
    r = client.post(f"{V2}/tokens", data=b"", content_type="application/json")
    assert r.status_code == 200
    access = r.json()["access"]
    assert set(access) == {"serviceCatalog"}
    assert any(e["name"] == "astakos_account" for e in access["serviceCatalog"])


def test_password_credentials_issue_a_new_token(client, alice):
    user, password, main = alice
    body = {"auth": {"passwordCredentials": {"username": "ALICE@example.org", "password": password}}}
    r = post_json(client, f"{V2}/tokens", body)
    assert r.status_code == 200
    new = r.json()["access"]["token"]["id"]
    assert new != main
    assert len(new) >= 43  # 256 bits, URL-safe base64
    # Both the main token and the new one work: several live tokens per user.
    for token in (main, new):
        assert post_json(client, f"{V2}/tokens", token_body(token)).status_code == 200


def test_password_credentials_accept_the_token_as_password_and_uuid_as_username(client, alice):
    user, _, token = alice
    body = {"auth": {"passwordCredentials": {"username": str(user.uuid), "password": token}, "tenantName": str(user.uuid)}}
    r = post_json(client, f"{V2}/tokens", body)
    assert r.status_code == 200
    assert r.json()["access"]["token"]["id"] == token
    assert AuthToken.objects.filter(user=user).count() == 1  # nothing new issued


def test_tokens_are_stored_only_as_hashes(alice):
    user, _, token = alice
    stored = AuthToken.objects.get(user=user)
    assert token not in stored.digest
    assert len(stored.digest) == 64


def test_xml_on_request(client, alice):
    r = post_json(client, f"{V2}/tokens?format=xml", token_body(alice[2]))
    assert r.status_code == 200
    assert r["Content-Type"].startswith("application/xml")
    assert b"<access" in r.content and alice[2].encode() in r.content
    r = post_json(client, f"{V2}/tokens", {"auth": {}}, HTTP_ACCEPT="application/xml")
    assert r.status_code == 400 and b"<badRequest" in r.content


@pytest.mark.parametrize(
    "body, content_type, status",
    [
        (b"{not json", "application/json", 400),
        (b"[1, 2]", "application/json", 400),
        (json.dumps({"auth": "x"}), "application/json", 400),
        (json.dumps({"auth": {}}), "application/json", 400),
        (json.dumps({"auth": {"token": {}}}), "application/json", 400),
        (json.dumps({"auth": {"token": {"id": 5}}}), "application/json", 400),
        (json.dumps({"auth": {"passwordCredentials": {"username": "a@b.c"}}}), "application/json", 400),
        (json.dumps({"auth": {"token": {"id": "x" * 5000}}}), "application/json", 400),
        (json.dumps({"auth": {"token": {"id": "nope"}}}), "application/json", 401),
        (b"auth=1", "application/x-www-form-urlencoded", 415),
    ],
)
def test_bad_requests_get_a_clear_fault_and_change_nothing(client, alice, body, content_type, status):
    before = AuthToken.objects.count()
    r = client.post(f"{V2}/tokens", data=body, content_type=content_type)
    assert r.status_code == status
    ((name, fault),) = r.json().items()
    assert fault["code"] == status and fault["message"]
    assert name == {400: "badRequest", 401: "unauthorized", 415: "badMediaType"}[status]
    assert AuthToken.objects.count() == before


def test_tenant_name_must_be_the_user(client, alice, make_user):
    other, _, _ = make_user()
    body = {"auth": {"token": {"id": alice[2]}, "tenantName": str(other.uuid)}}
    assert post_json(client, f"{V2}/tokens", body).status_code == 400


def test_oversized_body_is_refused_before_reading(client, settings):
    settings.SYNNEFO_MAX_REQUEST_BODY = 100
    r = post_json(client, f"{V2}/tokens", {"auth": {"token": {"id": "x" * 200}}})
    assert r.status_code == 413
    assert r.json()["overLimit"]["code"] == 413


def test_wrong_method_is_405(client):
    r = client.delete(f"{V2}/tokens")
    assert r.status_code == 405
    assert "POST" in r["Allow"]


def test_expired_token_is_refused(client, alice):
    AuthToken.objects.filter(user=alice[0]).update(expires=timezone.now() - timedelta(seconds=1))
    assert post_json(client, f"{V2}/tokens", token_body(alice[2])).status_code == 401


def test_inactive_user_cannot_authenticate(client, make_user):
    user, password, token = make_user(active=False)
    assert post_json(client, f"{V2}/tokens", token_body(token)).status_code == 401
    body = {"auth": {"passwordCredentials": {"username": user.email, "password": password}}}
    assert post_json(client, f"{V2}/tokens", body).status_code == 401


def test_wrong_passwords_are_throttled_per_account(client, alice, settings):
    settings.ASTAKOS_LOGIN_FAILURES_PER_ACCOUNT = 3
    user, password, _ = alice
    wrong = {"auth": {"passwordCredentials": {"username": user.email, "password": "wrong"}}}
    for _ in range(3):
        assert post_json(client, f"{V2}/tokens", wrong).status_code == 401
    right = {"auth": {"passwordCredentials": {"username": user.email, "password": password}}}
    r = post_json(client, f"{V2}/tokens", right)
    assert r.status_code == 429
    assert int(r["Retry-After"]) > 0
    # Once the window has passed, the right password works again.
    LoginFailure.objects.update(at=timezone.now() - timedelta(seconds=settings.ASTAKOS_LOGIN_FAILURE_WINDOW + 1))
    assert post_json(client, f"{V2}/tokens", right).status_code == 200


def test_wrong_passwords_are_throttled_per_address(client, make_user, settings):
    settings.ASTAKOS_LOGIN_FAILURES_PER_ADDRESS = 4
    victims = [make_user() for _ in range(5)]
    for user, _, _ in victims[:4]:
        body = {"auth": {"passwordCredentials": {"username": user.email, "password": "guess"}}}
        assert post_json(client, f"{V2}/tokens", body, REMOTE_ADDR="10.9.9.9").status_code == 401
    user, password, _ = victims[4]
    body = {"auth": {"passwordCredentials": {"username": user.email, "password": password}}}
    assert post_json(client, f"{V2}/tokens", body, REMOTE_ADDR="10.9.9.9").status_code == 429
    assert post_json(client, f"{V2}/tokens", body, REMOTE_ADDR="10.1.1.1").status_code == 200


def test_get_validates_a_token(client, alice):
    user, _, token = alice
    r = client.get(f"{V2}/tokens/{token}")
    assert r.status_code == 200
    assert r.json()["access"]["user"]["id"] == str(user.uuid)
    assert "serviceCatalog" not in r.json()["access"]
    assert client.get(f"{V2}/tokens/{token}?belongsTo={user.uuid}").status_code == 200
    assert client.get(f"{V2}/tokens/{token}?belongsTo=someone-else").status_code == 404
    assert client.get(f"{V2}/tokens/not-a-token").status_code == 404


def test_version_document_needs_no_token(client):
    r = client.get(V2)
    assert r.status_code == 200
    assert r.json()["version"]["id"] == "v2.0"


def test_password_login_with_wrong_tenant_issues_nothing(client, alice, make_user):
    user, password, _ = alice
    other, _, _ = make_user()
    body = {"auth": {"passwordCredentials": {"username": user.email, "password": password}, "tenantName": str(other.uuid)}}
    before = AuthToken.objects.count()
    assert post_json(client, f"{V2}/tokens", body).status_code == 400
    assert AuthToken.objects.count() == before


def test_over_long_password_is_a_400(client, alice, settings):
    settings.ASTAKOS_MAX_PASSWORD_LENGTH = 8
    body = {"auth": {"passwordCredentials": {"username": alice[0].email, "password": "x" * 9}}}
    r = post_json(client, f"{V2}/tokens", body)
    assert r.status_code == 400
    assert not LoginFailure.objects.exists()
