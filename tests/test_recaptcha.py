"""reCAPTCHA on the login form: asked after ASTAKOS_RATELIMIT_RETRIES_ALLOWED failed logins of
an account or an address, verified server-side against a local verification service (a real
HTTP server on 127.0.0.1), refused when wrong or when the service is down."""

import logging

import pytest

from synnefo.astakos.logic import recaptcha
from synnefo.astakos.models import LoginFailure
from tests.live import free_port
from tests.recaptcha_server import GOOD_ANSWER, VerifyServer

pytestmark = pytest.mark.django_db

LOGIN = "/astakos/ui/login"
WIDGET = b'class="g-recaptcha" data-sitekey="site-key-123"'
SECRET = "private-key-!@#$%^&*("


@pytest.fixture
def verify_server():
    server = VerifyServer().start()
    yield server
    server.stop()


@pytest.fixture
def captcha(settings, verify_server):
    settings.ASTAKOS_RECAPTCHA_ENABLED = True
    settings.ASTAKOS_RECAPTCHA_PUBLIC_KEY = "site-key-123"
    settings.ASTAKOS_RECAPTCHA_PRIVATE_KEY = SECRET
    settings.ASTAKOS_RECAPTCHA_VERIFY_URL = verify_server.url
    settings.ASTAKOS_RATELIMIT_RETRIES_ALLOWED = 2
    settings.ASTAKOS_LOGIN_FAILURES_PER_ACCOUNT = 10
    return verify_server


def post_login(client, email, password, answer=None, address="10.0.0.1"):
    data = {"email": email, "password": password}
    if answer is not None:
        data[recaptcha.FIELD] = answer
    return client.post(LOGIN, data, REMOTE_ADDR=address)


def fail_logins(client, email, times, address="10.0.0.1"):
    for _ in range(times):
        r = post_login(client, email, "wrong-password", address=address)
        assert r.status_code == 401


def logged_in(client) -> bool:
    return client.get("/astakos/ui/", REMOTE_ADDR="10.0.0.9").status_code == 200


def test_disabled_by_default_never_asks(client, alice, settings):
    assert settings.ASTAKOS_RECAPTCHA_ENABLED is False
    fail_logins(client, alice[0].email, 4)
    r = client.get(LOGIN, REMOTE_ADDR="10.0.0.1")
    assert b"g-recaptcha" not in r.content
    assert post_login(client, alice[0].email, alice[1]).status_code == 302


def test_not_asked_before_the_limit_then_asked(client, alice, captcha):
    email = alice[0].email
    assert b"g-recaptcha" not in client.get(LOGIN, REMOTE_ADDR="10.0.0.1").content
    fail_logins(client, email, 1)
    # One failure (limit 2): a right password still logs in without a captcha.
    assert post_login(client, email, alice[1]).status_code == 302
    assert captcha.requests == []

    client.logout()
    fail_logins(client, email, 2)
    # The form that answered the second failure shows the widget, with the configured key.
    page = client.post(LOGIN, {"email": email, "password": "wrong"}, REMOTE_ADDR="10.0.0.1")
    assert WIDGET in page.content and b'src="https://www.google.com/recaptcha/api.js"' in page.content
    # The address is over the limit too: the empty form asks for it.
    assert WIDGET in client.get(LOGIN, REMOTE_ADDR="10.0.0.1").content
    # From another address, the account's failures alone make the form ask.
    r = post_login(client, email, alice[1], address="10.0.0.2")
    assert r.status_code == 400 and b"Please complete the captcha" in r.content and WIDGET in r.content
    assert not logged_in(client)


def test_wrong_answer_is_refused_and_the_password_is_not_checked(client, alice, captcha):
    email = alice[0].email
    fail_logins(client, email, 2)
    failures = LoginFailure.objects.count()
    r = post_login(client, email, alice[1], answer="a-guess")
    assert r.status_code == 400 and b"captcha was not solved" in r.content and WIDGET in r.content
    assert not logged_in(client)
    # The password was not tried: no failure counted, and the server got what it should.
    assert LoginFailure.objects.count() == failures
    assert captcha.requests == [{"secret": SECRET, "response": "a-guess", "remoteip": "10.0.0.1"}]
    # Too long to be an answer: refused without asking the service.
    r = post_login(client, email, alice[1], answer="x" * 10_000)
    assert r.status_code == 400 and len(captcha.requests) == 1


def test_right_answer_then_the_password_decides(client, alice, captcha):
    email = alice[0].email
    fail_logins(client, email, 2)
    r = post_login(client, email, "still-wrong", answer=GOOD_ANSWER)
    assert r.status_code == 401 and b"Wrong email or password" in r.content and WIDGET in r.content
    r = post_login(client, email, alice[1], answer=GOOD_ANSWER)
    assert r.status_code == 302 and r["Location"] == "/astakos/ui/"
    assert logged_in(client)
    assert captcha.requests[-1] == {"secret": SECRET, "response": GOOD_ANSWER, "remoteip": "10.0.0.1"}
    # A successful login clears the account's failures.
    client.logout()
    assert post_login(client, email, alice[1], address="10.0.0.3").status_code == 302


@pytest.mark.parametrize("trouble", ["down", "error status", "not json"])
def test_verification_service_trouble_refuses_the_form(client, alice, captcha, settings, caplog, trouble):
    email = alice[0].email
    fail_logins(client, email, 2)
    if trouble == "down":
        settings.ASTAKOS_RECAPTCHA_VERIFY_URL = f"http://127.0.0.1:{free_port()}/siteverify"
    elif trouble == "error status":
        captcha.reply_status = 500
    else:
        captcha.raw_reply = b"<html>maintenance</html>"
    with caplog.at_level(logging.WARNING, logger="synnefo.astakos.recaptcha"):
        r = post_login(client, email, alice[1], answer=GOOD_ANSWER)
    assert r.status_code == 503 and b"cannot be checked right now" in r.content
    assert not logged_in(client)
    assert any("refusing the form" in rec.getMessage() for rec in caplog.records)
    assert SECRET not in caplog.text


def test_enabled_without_a_private_key_refuses(client, alice, captcha, settings):
    settings.ASTAKOS_RECAPTCHA_PRIVATE_KEY = ""
    fail_logins(client, alice[0].email, 2)
    r = post_login(client, alice[0].email, alice[1], answer=GOOD_ANSWER)
    assert r.status_code == 503 and captcha.requests == []


def test_widget_options_and_script_url(client, alice, captcha, settings):
    settings.ASTAKOS_RECAPTCHA_OPTIONS = {"theme": "dark", "size": "compact", 'x" onload="evil': "1"}
    settings.ASTAKOS_RECAPTCHA_SCRIPT_URL = "https://captcha.example.org/api.js"
    fail_logins(client, alice[0].email, 2)
    page = client.get(LOGIN, REMOTE_ADDR="10.0.0.1").content
    assert b'data-sitekey="site-key-123" data-size="compact" data-theme="dark"></div>' in page
    assert b'src="https://captcha.example.org/api.js"' in page and b"onload" not in page


def test_check_is_one_call_for_other_forms(rf, captcha, settings):
    """What the sign-up form calls: None to go on, else the message (with its status)."""
    request = rf.post("/astakos/ui/signup", {recaptcha.FIELD: GOOD_ANSWER}, REMOTE_ADDR="10.1.1.1")
    assert recaptcha.check(request) is None
    refusal = recaptcha.check(rf.post("/astakos/ui/signup", {}))
    assert refusal == recaptcha.MISSING and refusal.status == 400
    settings.ASTAKOS_RECAPTCHA_ENABLED = False
    assert recaptcha.check(rf.post("/astakos/ui/signup", {})) is None


def test_sign_up_form_always_asks_and_verifies(client, captcha, mailoutbox):
    from synnefo.astakos.models import User

    assert WIDGET in client.get("/astakos/ui/signup").content
    form = {"email": "new@example.org", "first_name": "New", "last_name": "User",
            "password": "correct-horse-battery", "password2": "correct-horse-battery"}
    r = client.post("/astakos/ui/signup", form)
    assert r.status_code == 400 and not User.objects.exists() and not mailoutbox
    r = client.post("/astakos/ui/signup", {**form, recaptcha.FIELD: "a wrong answer"})
    assert r.status_code == 400 and not User.objects.exists()
    r = client.post("/astakos/ui/signup", {**form, recaptcha.FIELD: GOOD_ANSWER})
    assert r.status_code == 200 and User.objects.filter(email="new@example.org").exists() and len(mailoutbox) == 1
