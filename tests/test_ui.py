"""Web pages: log in, profile with token renewal, log out."""

import re

import pytest
from django.test import Client

from synnefo.astakos.logic import tokens

pytestmark = pytest.mark.django_db

LOGIN = "/astakos/ui/login"
PROFILE = "/astakos/ui/"


def test_profile_needs_login(client):
    r = client.get(PROFILE)
    assert r.status_code == 302 and r["Location"].startswith(LOGIN)


def test_login_renew_token_logout():
    user_client = Client(enforce_csrf_checks=True)
    from synnefo.astakos.logic import users

    user = users.create_user("carol@example.org", "Carol", "C", password="carol-pass-1")
    page = user_client.get(LOGIN)
    assert page.status_code == 200 and b'<label for="email">' in page.content
    csrf = user_client.cookies["csrftoken"].value

    # Without the CSRF token the form is refused.
    assert user_client.post(LOGIN, {"email": "carol@example.org", "password": "carol-pass-1"}).status_code == 403

    r = user_client.post(LOGIN, {"email": "CAROL@example.org", "password": "carol-pass-1", "csrfmiddlewaretoken": csrf})
    assert r.status_code == 302 and r["Location"] == PROFILE
    profile = user_client.get(PROFILE)
    assert str(user.uuid).encode() in profile.content and b"no API token yet" in profile.content

    csrf = user_client.cookies["csrftoken"].value
    r = user_client.post("/astakos/ui/renew-token", {"csrfmiddlewaretoken": csrf})
    token = re.search(rb'<code class="token" id="new-token">([^<]+)</code>', r.content).group(1).decode()
    assert tokens.lookup(token).user == user
    # Shown once: the next page view does not show it.
    assert token.encode() not in user_client.get(PROFILE).content
    # Renewing again revokes the previous token.
    r = user_client.post("/astakos/ui/renew-token", {"csrfmiddlewaretoken": csrf})
    assert tokens.lookup(token) is None

    r = user_client.post("/astakos/ui/logout", {"csrfmiddlewaretoken": csrf})
    assert r.status_code == 200
    assert user_client.get(PROFILE).status_code == 302


def test_wrong_password_shows_an_error_and_is_throttled(client, alice, settings):
    settings.ASTAKOS_LOGIN_FAILURES_PER_ACCOUNT = 2
    for _ in range(2):
        r = client.post(LOGIN, {"email": alice[0].email, "password": "wrong"})
        assert r.status_code == 401 and b'role="alert"' in r.content
    r = client.post(LOGIN, {"email": alice[0].email, "password": alice[1]})
    assert r.status_code == 429 and b"Too many failed attempts" in r.content


def test_next_must_stay_on_this_site(client, alice):
    r = client.post(LOGIN, {"email": alice[0].email, "password": alice[1], "next": "https://evil.example.com/"})
    assert r["Location"] == PROFILE
    r = client.post(LOGIN, {"email": alice[0].email, "password": alice[1], "next": "/astakos/ui/?x=1"})
    assert r["Location"] == "/astakos/ui/?x=1"
