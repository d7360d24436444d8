"""Authentication providers: the registry and its policies, Shibboleth login behind a trusted
proxy, account linking and removal on the profile page, the login page, snf-manage."""

import io
import json
import logging
import os
import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.test import Client

from synnefo.astakos.logic import providers
from synnefo.astakos.models import AuthProvider, User

pytestmark = pytest.mark.django_db

LOGIN = "/astakos/ui/login"
SHIB = "/astakos/ui/login/shibboleth"
SHIB_LINK = SHIB + "?link=1"
PROFILE = "/astakos/ui/"


@pytest.fixture
def shib(settings):
    settings.ASTAKOS_IM_MODULES = ["local", "shibboleth"]
    return settings


def shib_headers(eppn="ada@uni.example.org", email="ada@uni.example.org", **extra):
    headers = {"HTTP_SHIB_INETORGPERSON_GIVENNAME": "Ada", "HTTP_SHIB_PERSON_SURNAME": "Lovelace",
               "HTTP_SHIB_EP_AFFILIATION": "staff;member", "HTTP_SHIB_SESSION_ID": "_abc123"}
    if eppn is not None:
        headers["HTTP_EPPN"] = eppn
    if email is not None:
        headers["HTTP_SHIB_INETORGPERSON_MAIL"] = email
    headers.update(extra)
    return headers


def logged_in_as(client) -> User | None:
    r = client.get(PROFILE)
    if r.status_code != 200:
        return None
    return User.objects.get(email=r.context["user"].email)


# --- the registry ---------------------------------------------------------------------------


def test_enabled_modules_have_default_policies_and_settings_override_them(settings):
    settings.ASTAKOS_IM_MODULES = ["shibboleth", "local"]
    settings.ASTAKOS_AUTH_PROVIDER_SHIBBOLETH_CREATE_POLICY = False
    enabled = providers.enabled()
    assert [p.module for p in enabled] == ["shibboleth", "local"]
    assert enabled[1].policies == {"CREATE": True, "LOGIN": True, "ADD": True, "REMOVE": True, "AUTOMODERATE": False}
    assert not enabled[0].allows("CREATE") and enabled[0].allows("LOGIN")
    assert providers.get("ldap") is None


def test_configuration_errors_name_the_culprit(settings):
    settings.ASTAKOS_IM_MODULES = ["local", "facebok"]
    with pytest.raises(ImproperlyConfigured, match="unknown authentication module.*'facebok'"):
        providers.check_configuration()
    settings.ASTAKOS_IM_MODULES = "local"
    with pytest.raises(ImproperlyConfigured, match="must be a list"):
        providers.check_configuration()
    settings.ASTAKOS_IM_MODULES = ["shibboleth"]
    settings.ASTAKOS_SHIBBOLETH_TRUSTED_PROXIES = ["127.0.0.1", "localhost"]
    with pytest.raises(ImproperlyConfigured, match="'localhost' is not an address or network"):
        providers.check_configuration()
    settings.ASTAKOS_IM_MODULES = ["ldap"]
    settings.ASTAKOS_LDAP_USER_ATTR_MAP = {"mail": "mail"}
    with pytest.raises(ImproperlyConfigured, match="ASTAKOS_LDAP_USER_ATTR_MAP must map"):
        providers.check_configuration()
    settings.ASTAKOS_LDAP_USER_ATTR_MAP = {"email": "mail"}
    with pytest.raises(ImproperlyConfigured, match="needs ASTAKOS_LDAP_USER_SEARCH_BASE or ASTAKOS_LDAP_USER_DN_TEMPLATE"):
        providers.check_configuration()
    settings.ASTAKOS_LDAP_USER_SEARCH_BASE = "ou=people,dc=example,dc=org"
    providers.check_configuration()
    settings.ASTAKOS_IM_MODULES = ["local"]
    settings.ASTAKOS_AUTH_PROVIDER_LOCAL_LOGIN_POLICY = "no"
    with pytest.raises(ImproperlyConfigured, match="ASTAKOS_AUTH_PROVIDER_LOCAL_LOGIN_POLICY must be True or False"):
        providers.check_configuration()


def test_an_unknown_module_stops_snf_manage_at_start(tmp_path):
    (tmp_path / "20-astakos.conf").write_text("ASTAKOS_IM_MODULES = ['local', 'twiter']\n")
    env = dict(os.environ, SYNNEFO_SETTINGS_DIR=str(tmp_path), SYNNEFO_DATA_DIR=str(tmp_path / "data"))
    env.pop("DJANGO_SETTINGS_MODULE", None)
    result = subprocess.run([sys.executable, "-m", "synnefo.manage", "check"], env=env, capture_output=True, text=True)
    assert result.returncode != 0
    assert "snf-manage: settings error: ASTAKOS_IM_MODULES names unknown authentication module(s) 'twiter'" in result.stderr
    assert "Traceback" not in result.stderr


def test_provider_identity_logs_in_creates_or_refuses(shib, alice):
    ident = providers.Identity("shibboleth", "x@idp", email="x@uni.example.org", first_name="X", last_name="Y")
    created = providers.login(ident)
    assert created.action == "created" and created.may_log_in
    user = created.user
    assert user.email_verified and user.is_active and user.moderated and user.accepted_policy == "auth_provider_shibboleth"
    assert not user.has_usable_password()
    assert providers.login(ident).user == user and providers.login(ident).action == "login"
    # The same email from another identity does not take the account over.
    other = providers.Identity("shibboleth", "other@idp", email="X@uni.example.org")
    with pytest.raises(providers.ProviderError, match="already exists.*add Shibboleth.*from your profile") as e:
        providers.login(other)
    assert e.value.status == 409
    # Linked to a logged-in user instead of creating one.
    linked = providers.login(other, current_user=alice[0])
    assert linked.action == "linked" and linked.user == alice[0]
    assert User.objects.count() == 2


def test_names_from_providers_are_clipped_not_refused(shib, settings):
    settings.ASTAKOS_MAX_NAME_LENGTH = 5
    out = providers.login(providers.Identity("shibboleth", "long@idp", email="l@uni.example.org", first_name="Bartholomew"))
    assert out.user.first_name == "Barth"


# --- Shibboleth -----------------------------------------------------------------------------


def test_trusted_shibboleth_login_creates_an_account_then_logs_in(shib, client):
    r = client.get(SHIB, REMOTE_ADDR="127.0.0.1", **shib_headers())
    assert r.status_code == 302 and r["Location"] == PROFILE
    user = User.objects.get(email="ada@uni.example.org")
    assert (user.first_name, user.last_name, user.affiliation) == ("Ada", "Lovelace", "staff;member")
    assert user.email_verified and user.is_active and user.accepted_policy == "auth_provider_shibboleth"
    record = user.auth_providers.get()
    assert (record.module, record.identifier) == ("shibboleth", "ada@uni.example.org")
    assert "_abc123" not in str(record.info)  # the session id is the user's cookie: never kept
    assert logged_in_as(client) == user

    fresh = Client()
    r = fresh.get(SHIB + "?next=/astakos/ui/%3Fx%3D1", REMOTE_ADDR="::1", **shib_headers(HTTP_SHIB_PERSON_SURNAME="King"))
    assert r.status_code == 302 and r["Location"] == "/astakos/ui/?x=1"
    assert logged_in_as(fresh) == user and User.objects.count() == 1
    assert user.auth_providers.get().last_login_at is not None


def test_untrusted_peer_is_refused_and_logged(shib, client, caplog, settings):
    settings.SYNNEFO_TRUST_FORWARDED_HEADERS = True
    with caplog.at_level(logging.WARNING, logger="synnefo.astakos.provider_views"):
        r = client.get(SHIB, REMOTE_ADDR="203.0.113.7", HTTP_X_FORWARDED_FOR="127.0.0.1", **shib_headers())
    assert r.status_code == 403 and b"must come through the web server of this service" in r.content
    assert "untrusted address 203.0.113.7" in caplog.text and "eppn" in caplog.text
    assert not User.objects.exists() and not AuthProvider.objects.exists()
    assert logged_in_as(client) is None


def test_trusted_proxies_take_networks(shib, client):
    shib.ASTAKOS_SHIBBOLETH_TRUSTED_PROXIES = ["10.0.0.0/8", "2001:db8::/32"]
    assert client.get(SHIB, REMOTE_ADDR="127.0.0.1", **shib_headers()).status_code == 403
    assert client.get(SHIB, REMOTE_ADDR="10.1.2.3", **shib_headers()).status_code == 302
    assert Client().get(SHIB, REMOTE_ADDR="2001:db8::5", **shib_headers()).status_code == 302
    assert Client().get(SHIB, REMOTE_ADDR="not-an-ip", **shib_headers()).status_code == 403


@pytest.mark.parametrize(
    "headers, text",
    [(shib_headers(eppn=None), b"no eppn"), (shib_headers(email=None), b"did not give your email"),
     (shib_headers(email="not-an-email"), b"invalid email")],
)
def test_missing_identity_or_email_is_a_clear_400(shib, client, headers, text):
    r = client.get(SHIB, REMOTE_ADDR="127.0.0.1", **headers)
    assert r.status_code == 400 and text in r.content
    assert not User.objects.exists()


def test_remote_user_identifies_when_there_is_no_eppn(shib, client):
    r = client.get(SHIB, REMOTE_ADDR="127.0.0.1", REMOTE_USER="u123@idp", **shib_headers(eppn=None))
    assert r.status_code == 302
    assert AuthProvider.objects.get().identifier == "u123@idp"


def test_utf8_names_and_display_name_fallback(shib, client):
    greek = "Ηλίας Παπαδόπουλος".encode().decode("latin-1")  # as WSGI hands UTF-8 header bytes over
    headers = shib_headers(HTTP_SHIB_INETORGPERSON_DISPLAYNAME=greek)
    del headers["HTTP_SHIB_INETORGPERSON_GIVENNAME"], headers["HTTP_SHIB_PERSON_SURNAME"]
    assert client.get(SHIB, REMOTE_ADDR="127.0.0.1", **headers).status_code == 302
    user = User.objects.get()
    assert (user.first_name, user.last_name) == ("Ηλίας", "Παπαδόπουλος")


def test_shibboleth_disabled_is_404(client):
    assert client.get(SHIB, REMOTE_ADDR="127.0.0.1", **shib_headers()).status_code == 404
    assert not User.objects.exists()


def test_existing_email_is_not_merged(shib, client, make_user):
    user, _, _ = make_user("ada@uni.example.org")
    r = client.get(SHIB, REMOTE_ADDR="127.0.0.1", **shib_headers())
    assert r.status_code == 409
    assert b"Log in with the method you already use" in r.content
    assert list(user.auth_providers.values_list("module", flat=True)) == ["local"]
    assert logged_in_as(client) is None


def test_linking_from_the_profile_then_logging_in_with_it(shib, client, alice):
    user, password, _ = alice
    client.post(LOGIN, {"email": user.email, "password": password})
    profile = client.get(PROFILE)
    assert b'class="add-login" href="/astakos/ui/login/shibboleth?link=1"' in profile.content
    r = client.get(SHIB_LINK, REMOTE_ADDR="127.0.0.1", **shib_headers())
    assert r.status_code == 302 and r["Location"] == PROFILE
    page = client.get(PROFILE)
    assert b"The login method was added" in page.content and b"ada@uni.example.org" in page.content
    assert b'class="add-login"' not in page.content
    assert sorted(user.auth_providers.values_list("module", flat=True)) == ["local", "shibboleth"]
    assert User.objects.count() == 1

    other = Client()
    other.get(SHIB, REMOTE_ADDR="127.0.0.1", **shib_headers())
    assert logged_in_as(other) == user


def test_without_link_intent_a_provider_login_never_links_to_the_session_user(shib, client, alice):
    user, password, _ = alice
    client.post(LOGIN, {"email": user.email, "password": password})  # e.g. a forgotten session
    r = client.get(SHIB, REMOTE_ADDR="127.0.0.1", **shib_headers())
    assert r.status_code == 302
    ada = User.objects.get(email="ada@uni.example.org")
    assert logged_in_as(client) == ada
    assert list(user.auth_providers.values_list("module", flat=True)) == ["local"]


def test_linking_an_identity_of_another_account_or_a_second_one_is_refused(shib, client, alice, make_user):
    Client().get(SHIB, REMOTE_ADDR="127.0.0.1", **shib_headers())  # creates ada's account
    user, password, _ = alice
    client.post(LOGIN, {"email": user.email, "password": password})
    r = client.get(SHIB_LINK, REMOTE_ADDR="127.0.0.1", **shib_headers())
    assert r.status_code == 409 and b"belongs to another account" in r.content
    client.get(SHIB_LINK, REMOTE_ADDR="127.0.0.1", **shib_headers(eppn="alice@idp", email="alice@uni.example.org"))
    r = client.get(SHIB_LINK, REMOTE_ADDR="127.0.0.1", **shib_headers(eppn="alice2@idp", email="alice@uni.example.org"))
    assert r.status_code == 409 and b"already has a Shibboleth" in r.content
    assert list(user.auth_providers.filter(module="shibboleth").values_list("identifier", flat=True)) == ["alice@idp"]


def test_create_policy_off_refuses_unknown_identities(shib, client):
    shib.ASTAKOS_AUTH_PROVIDER_SHIBBOLETH_CREATE_POLICY = False
    r = client.get(SHIB, REMOTE_ADDR="127.0.0.1", **shib_headers())
    assert r.status_code == 403 and b"may not create one" in r.content
    assert not User.objects.exists()


def test_login_policy_off_refuses_known_identities(shib, client):
    client.get(SHIB, REMOTE_ADDR="127.0.0.1", **shib_headers())
    shib.ASTAKOS_AUTH_PROVIDER_SHIBBOLETH_LOGIN_POLICY = False
    fresh = Client()
    r = fresh.get(SHIB, REMOTE_ADDR="127.0.0.1", **shib_headers())
    assert r.status_code == 403 and b"disabled" in r.content
    assert logged_in_as(fresh) is None
    assert b"login-shibboleth" not in fresh.get(LOGIN).content


def test_add_policy_off_refuses_linking(shib, client, alice):
    shib.ASTAKOS_AUTH_PROVIDER_SHIBBOLETH_ADD_POLICY = False
    client.post(LOGIN, {"email": alice[0].email, "password": alice[1]})
    assert b'class="add-login"' not in client.get(PROFILE).content
    r = client.get(SHIB_LINK, REMOTE_ADDR="127.0.0.1", **shib_headers())
    assert r.status_code == 403
    assert not AuthProvider.objects.filter(module="shibboleth").exists()


def test_moderation_holds_new_accounts_unless_automoderate(shib, client):
    shib.ASTAKOS_MODERATION_ENABLED = True
    r = client.get(SHIB, REMOTE_ADDR="127.0.0.1", **shib_headers())
    assert r.status_code == 200 and b"has to accept it" in r.content
    user = User.objects.get()
    assert user.email_verified and not user.is_active and not user.moderated and user.status == "Pending moderation"
    assert logged_in_as(client) is None
    r = client.get(SHIB, REMOTE_ADDR="127.0.0.1", **shib_headers())
    assert r.status_code == 403 and b"waiting for moderation" in r.content

    shib.ASTAKOS_AUTH_PROVIDER_SHIBBOLETH_AUTOMODERATE_POLICY = True
    r = Client().get(SHIB, REMOTE_ADDR="127.0.0.1", **shib_headers(eppn="bo@idp", email="bo@uni.example.org"))
    bo = User.objects.get(email="bo@uni.example.org")
    assert r.status_code == 302 and bo.is_active and bo.moderated and bo.accepted_policy == "auth_provider_shibboleth"


def test_disabled_identity_or_inactive_account_cannot_log_in(shib, client):
    client.get(SHIB, REMOTE_ADDR="127.0.0.1", **shib_headers())
    AuthProvider.objects.update(active=False)
    assert Client().get(SHIB, REMOTE_ADDR="127.0.0.1", **shib_headers()).status_code == 403
    AuthProvider.objects.update(active=True)
    User.objects.update(is_active=False)
    r = Client().get(SHIB, REMOTE_ADDR="127.0.0.1", **shib_headers())
    assert r.status_code == 403 and b"not active" in r.content


# --- login methods on the profile page ------------------------------------------------------


def _two_logins(client, alice):
    user, password, _ = alice
    client.post(LOGIN, {"email": user.email, "password": password})
    client.get(SHIB_LINK, REMOTE_ADDR="127.0.0.1", **shib_headers())
    return user, {p.module: p for p in user.auth_providers.all()}


def test_profile_removes_a_login_with_csrf_but_never_the_last(shib, alice):
    client = Client(enforce_csrf_checks=True)
    client.get(LOGIN)
    user, password, _ = alice
    csrf = client.cookies["csrftoken"].value
    client.post(LOGIN, {"email": user.email, "password": password, "csrfmiddlewaretoken": csrf})
    page = client.get(PROFILE)
    assert b"/remove" not in page.content  # the only login: no remove button
    local = user.auth_providers.get()
    url = f"/astakos/ui/logins/{local.pk}/remove"
    csrf = client.cookies["csrftoken"].value
    r = client.post(url, {"csrfmiddlewaretoken": csrf})
    assert r.status_code == 409 and b"only way to log in" in r.content
    client.get(SHIB_LINK, REMOTE_ADDR="127.0.0.1", **shib_headers())
    shib_login = user.auth_providers.get(module="shibboleth")
    assert f"/astakos/ui/logins/{shib_login.pk}/remove".encode() in client.get(PROFILE).content

    assert client.post(f"/astakos/ui/logins/{shib_login.pk}/remove").status_code == 403  # no CSRF token
    assert client.get(f"/astakos/ui/logins/{shib_login.pk}/remove").status_code == 405
    r = client.post(f"/astakos/ui/logins/{shib_login.pk}/remove", {"csrfmiddlewaretoken": csrf})
    assert r.status_code == 302
    assert b"Removed the Shibboleth" in client.get(PROFILE).content
    assert list(user.auth_providers.values_list("module", flat=True)) == ["local"]


def test_remove_policy_off_and_foreign_ids(shib, client, alice, make_user):
    user, providers_of = _two_logins(client, alice)
    shib.ASTAKOS_AUTH_PROVIDER_SHIBBOLETH_REMOVE_POLICY = False
    assert f"/astakos/ui/logins/{providers_of['shibboleth'].pk}/remove".encode() not in client.get(PROFILE).content
    r = client.post(f"/astakos/ui/logins/{providers_of['shibboleth'].pk}/remove")
    assert r.status_code == 403 and user.auth_providers.count() == 2
    stranger, _, _ = make_user("stranger@example.org")
    r = client.post(f"/astakos/ui/logins/{stranger.auth_providers.get().pk}/remove")
    assert r.status_code == 404 and stranger.auth_providers.count() == 1


def test_removing_the_local_login_retires_the_password(shib, client, alice):
    user, providers_of = _two_logins(client, alice)
    assert client.post(f"/astakos/ui/logins/{providers_of['local'].pk}/remove").status_code == 302
    r = Client().post(LOGIN, {"email": user.email, "password": alice[1]})
    assert r.status_code == 401


# --- the login page -------------------------------------------------------------------------


def test_login_page_shows_only_enabled_providers(client, settings):
    page = client.get(LOGIN).content
    assert b'id="login-local"' in page and b"login-ldap" not in page and b"login-shibboleth" not in page
    settings.ASTAKOS_IM_MODULES = ["shibboleth"]
    page = client.get(LOGIN).content
    assert b'id="login-local"' not in page and b'id="login-shibboleth"' in page


def test_password_login_refused_when_local_is_disabled(client, alice, settings):
    settings.ASTAKOS_IM_MODULES = ["shibboleth"]
    r = client.post(LOGIN, {"email": alice[0].email, "password": alice[1]})
    assert r.status_code == 403 and b"disabled" in r.content
    assert logged_in_as(client) is None


# --- snf-manage -----------------------------------------------------------------------------


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_user_list_and_show_name_the_providers(shib, client, alice, make_user):
    user, _ = _two_logins(client, alice)
    make_user("plain@example.org")
    rows = json.loads(run("user-list", "--auth-providers", "--output-format", "json"))
    assert {row["email"]: row["providers"] for row in rows} == {user.email: "local,shibboleth", "plain@example.org": "local"}
    assert "providers" in run("user-list", "--auth-providers", "-o", "email").splitlines()[0]
    assert "providers" not in run("user-list", "--output-format", "csv").splitlines()[0]
    only = run("user-list", "--filter-by", "provider=shibboleth", "-o", "email", "--no-headers").split()
    assert only == [user.email]
    shown = run("user-show", user.email)
    assert "auth providers" in shown and "local:alice@example.org" in shown and "shibboleth:ada@uni.example.org" in shown
