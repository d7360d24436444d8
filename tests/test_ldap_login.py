"""LDAP login against a real slapd (deploy/slapd-sandbox): accounts created through the
provider registry with the mapped attributes, policies, linking, and no password in the logs."""

import logging

import pytest
from django.test import Client

from synnefo.astakos.models import AuthProvider, User
from tests.ldap_helpers import PEOPLE, slapd  # noqa: F401 (a fixture)
from tests.live import free_port

pytestmark = pytest.mark.django_db

LDAP_LOGIN = "/astakos/ui/login/ldap"
PROFILE = "/astakos/ui/"


@pytest.fixture
def ldap_settings(settings, slapd):
    settings.ASTAKOS_IM_MODULES = ["local", "ldap"]
    settings.ASTAKOS_LDAP_SERVER_URI = slapd["SLAPD_SANDBOX_URI"]
    settings.ASTAKOS_LDAP_BIND_DN = slapd["SLAPD_SANDBOX_BIND_DN"]
    settings.ASTAKOS_LDAP_BIND_PASSWORD = slapd["SLAPD_SANDBOX_BIND_PASSWORD"]
    settings.ASTAKOS_LDAP_USER_SEARCH_BASE = PEOPLE
    settings.ASTAKOS_LDAP_TIMEOUT = 5
    return settings


def ldap_login(client, username, password, **extra):
    return client.post(LDAP_LOGIN, {"username": username, "password": password, **extra})


def test_first_login_creates_the_account_then_logs_in_to_it(ldap_settings, client):
    page = client.get("/astakos/ui/login")
    assert b'id="login-ldap"' in page.content and b'action="/astakos/ui/login/ldap"' in page.content
    r = ldap_login(client, "alice", "alice-ldap-pw")
    assert r.status_code == 302 and r["Location"] == PROFILE
    user = User.objects.get()
    assert (user.email, user.first_name, user.last_name) == ("alice@example.org", "Alice", "Liddell")
    assert user.email_verified and user.is_active and user.accepted_policy == "auth_provider_ldap"
    record = user.auth_providers.get()
    assert (record.module, record.identifier) == ("ldap", "alice")
    assert record.info["dn"] == f"uid=alice,{PEOPLE}"
    assert client.get(PROFILE).status_code == 200

    again = Client()
    assert ldap_login(again, "Alice", "alice-ldap-pw").status_code == 302
    assert again.get(PROFILE).context["user"] == user and User.objects.count() == 1


def test_wrong_password_or_unknown_user_is_refused(ldap_settings, client):
    for username, password in (("alice", "wrong"), ("nobody", "alice-ldap-pw"), ("alice", "")):
        r = ldap_login(client, username, password)
        assert r.status_code == 401 and b"Wrong username or password" in r.content
    assert not User.objects.exists() and client.get(PROFILE).status_code == 302


def test_login_policy_off_is_refused(ldap_settings, client):
    assert ldap_login(Client(), "alice", "alice-ldap-pw").status_code == 302
    ldap_settings.ASTAKOS_AUTH_PROVIDER_LDAP_LOGIN_POLICY = False
    assert b'id="login-ldap"' not in client.get("/astakos/ui/login").content
    for username, password in (("alice", "alice-ldap-pw"), ("bob", "bob-ldap-pw")):
        r = ldap_login(client, username, password)
        assert r.status_code == 403 and b"disabled" in r.content
    assert User.objects.count() == 1 and client.get(PROFILE).status_code == 302


def test_create_policy_off_refuses_unknown_users(ldap_settings, client):
    ldap_settings.ASTAKOS_AUTH_PROVIDER_LDAP_CREATE_POLICY = False
    r = ldap_login(client, "bob", "bob-ldap-pw")
    assert r.status_code == 403 and b"may not create one" in r.content
    assert not User.objects.exists()


def test_existing_email_is_not_merged_but_can_be_linked(ldap_settings, client, make_user):
    user, password, _ = make_user("alice@example.org")
    r = ldap_login(client, "alice", "alice-ldap-pw")
    assert r.status_code == 409 and b"Log in with the method you already use" in r.content
    client.post("/astakos/ui/login", {"email": user.email, "password": password})
    assert b'class="add-login" href="/astakos/ui/login/ldap?link=1"' in client.get(PROFILE).content
    page = client.get(LDAP_LOGIN + "?link=1").content
    assert b"Add LDAP login" in page and b'name="link" value="1"' in page
    r = ldap_login(client, "alice", "alice-ldap-pw", link="1")
    assert r.status_code == 302 and r["Location"] == PROFILE
    assert sorted(user.auth_providers.values_list("module", flat=True)) == ["ldap", "local"]
    fresh = Client()
    ldap_login(fresh, "alice", "alice-ldap-pw")
    assert fresh.get(PROFILE).context["user"] == user


def test_dn_template_binds_as_the_user(ldap_settings, client):
    ldap_settings.ASTAKOS_LDAP_BIND_DN = ""
    ldap_settings.ASTAKOS_LDAP_BIND_PASSWORD = ""
    ldap_settings.ASTAKOS_LDAP_USER_SEARCH_BASE = ""
    ldap_settings.ASTAKOS_LDAP_USER_DN_TEMPLATE = f"uid=%(user)s,{PEOPLE}"
    assert ldap_login(client, "bob", "bob-ldap-pw").status_code == 302
    assert User.objects.get().last_name == "Builder"
    assert ldap_login(Client(), "bob", "nope").status_code == 401


@pytest.mark.parametrize("mode", ["search", "dn template"])
def test_a_mapped_identifier_attribute_identifies_the_person(ldap_settings, client, mode):
    import re

    ldap_settings.ASTAKOS_LDAP_USER_ATTR_MAP = {"identifier": "entryUUID", "email": "mail", "last_name": "sn"}
    if mode == "dn template":
        ldap_settings.ASTAKOS_LDAP_USER_DN_TEMPLATE = f"uid=%(user)s,{PEOPLE}"
    assert ldap_login(client, "alice", "alice-ldap-pw").status_code == 302
    record = AuthProvider.objects.get()
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", record.identifier)
    assert record.user.last_name == "Liddell" and record.user.first_name == ""


def test_explicit_auth_ldap_settings_win(ldap_settings, slapd, client):
    ldap_settings.ASTAKOS_LDAP_SERVER_URI = f"ldap://127.0.0.1:{free_port()}"
    ldap_settings.AUTH_LDAP_SERVER_URI = slapd["SLAPD_SANDBOX_URI"]
    assert ldap_login(client, "alice", "alice-ldap-pw").status_code == 302


def test_unreachable_directory_is_a_503(ldap_settings, client):
    ldap_settings.ASTAKOS_LDAP_SERVER_URI = f"ldap://127.0.0.1:{free_port()}"
    r = ldap_login(client, "alice", "alice-ldap-pw")
    assert r.status_code == 503 and b"not available" in r.content
    assert not User.objects.exists()


def test_start_tls_is_used_when_asked(ldap_settings, client, caplog):
    ldap_settings.ASTAKOS_LDAP_START_TLS = True  # the sandbox offers no TLS: the login must fail
    with caplog.at_level(logging.DEBUG, logger="django_auth_ldap"):
        assert ldap_login(client, "alice", "alice-ldap-pw").status_code == 503
    assert "Initiating TLS" in caplog.text
    assert not User.objects.exists()


def test_passwords_never_reach_the_log(ldap_settings, client, caplog):
    with caplog.at_level(logging.DEBUG):
        ldap_login(client, "alice", "alice-ldap-pw")
        ldap_login(Client(), "bob", "wrong-bob-pw")
        ldap_settings.ASTAKOS_LDAP_BIND_PASSWORD = "wrong-reader-pw"
        assert ldap_login(Client(), "bob", "bob-ldap-pw").status_code == 503
    assert "cn=reader" in caplog.text  # the bind DN is logged, so the log was captured
    for secret in ("reader-pw", "alice-ldap-pw", "wrong-bob-pw", "bob-ldap-pw"):
        assert secret not in caplog.text


def test_ldap_form_needs_csrf_and_is_throttled(ldap_settings):
    strict = Client(enforce_csrf_checks=True)
    assert strict.post(LDAP_LOGIN, {"username": "alice", "password": "alice-ldap-pw"}).status_code == 403
    ldap_settings.ASTAKOS_LOGIN_FAILURES_PER_ACCOUNT = 2
    client = Client()
    for _ in range(2):
        assert ldap_login(client, "bob", "wrong").status_code == 401
    r = ldap_login(client, "bob", "bob-ldap-pw")
    assert r.status_code == 429 and not AuthProvider.objects.exists()


def test_ldap_disabled_is_404(settings, client):
    assert client.get(LDAP_LOGIN).status_code == 404
    assert ldap_login(client, "alice", "alice-ldap-pw").status_code == 404
