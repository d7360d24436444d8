"""Property tests: no input makes the identity APIs fail with a 500 or leak a secret to the logs."""

import json

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from synnefo.common.logging import redact
from tests.helpers import V2, V3, post_json

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=3),
    max_leaves=12,
)
auth_like = st.fixed_dictionaries(
    {"auth": st.dictionaries(st.sampled_from(["token", "passwordCredentials", "identity", "scope", "tenantName"]), json_values, max_size=3)}
)


@pytest.mark.django_db
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.one_of(json_values, auth_like))
def test_no_body_makes_the_token_apis_fail(client, body):
    for path in (f"{V2}/tokens", f"{V3}/auth/tokens"):
        r = post_json(client, path, body)
        assert r.status_code < 500, (path, body, r.content)
        assert r.status_code in (200, 400, 401, 415) or (path.startswith(V3) and r.status_code == 201)


@given(secret=st.text(min_size=1, max_size=40).filter(lambda s: s.strip() == s and s.strip()))
def test_passwords_in_json_dumps_are_redacted(secret):
    def body(password):
        return "login body " + json.dumps({"auth": {"passwordCredentials": {"username": "u", "password": password}}})

    assert redact(body(secret)) == body("***")


@given(token=st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", min_size=8, max_size=64))
def test_tokens_in_query_strings_and_headers_are_redacted(token):
    assert redact(f"GET /x?X-Auth-Token={token}&y=1") == "GET /x?X-Auth-Token=***&y=1"
    assert redact(f"X-Auth-Token: {token}") == "X-Auth-Token: ***"
    assert redact(f"x-subject-token={token}") == "x-subject-token=***"
