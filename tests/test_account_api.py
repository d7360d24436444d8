import pytest

from tests.helpers import ACCOUNT, post_json

pytestmark = pytest.mark.django_db


def test_user_catalogs_map_both_ways(client, alice, make_user):
    user, _, token = alice
    bob, _, _ = make_user("Bob@Example.org")
    body = {"uuids": [str(bob.uuid), "not-a-uuid", "00000000-0000-4000-8000-000000000000"], "displaynames": ["bob@example.org", "nobody@x.org"]}
    r = post_json(client, f"{ACCOUNT}/user_catalogs", body, HTTP_X_AUTH_TOKEN=token)
    assert r.status_code == 200
    assert r.json() == {"uuid_catalog": {str(bob.uuid): "Bob@example.org"}, "displayname_catalog": {"bob@example.org": str(bob.uuid)}}


def test_user_catalogs_token_in_query_parameter(client, alice):
    r = post_json(client, f"{ACCOUNT}/user_catalogs?X-Auth-Token={alice[2]}", {"uuids": [str(alice[0].uuid)]})
    assert r.status_code == 200 and r.json()["uuid_catalog"] == {str(alice[0].uuid): alice[0].email}


@pytest.mark.parametrize(
    "body, token_ok, status",
    [
        ({"uuids": []}, False, 401),
        ({"uuids": "abc"}, True, 400),
        ({"uuids": [1, 2]}, True, 400),
        ({"displaynames": ["x"] * 1001}, True, 400),
    ],
)
def test_user_catalogs_bad_input(client, alice, body, token_ok, status):
    headers = {"HTTP_X_AUTH_TOKEN": alice[2] if token_ok else "bogus"}
    r = post_json(client, f"{ACCOUNT}/user_catalogs", body, **headers)
    assert r.status_code == status
    assert next(iter(r.json().values()))["code"] == status
