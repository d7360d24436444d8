"""Sign-up, email verification and activation (automatic, by email pattern, by a moderator),
over HTTP with a real SMTP server: every link is followed from the mail as received."""

import hashlib
import io
import os
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from synnefo.astakos.models import AuditEntry, AuthProvider, EmailLink, User
from tests.mailhelpers import body, free_port, link_path, smtp  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db

SIGNUP = "/astakos/ui/signup"
LOGIN = "/astakos/ui/login"
GOOD_PASSWORD = "Tangerine-Voyage-42"


def signup(client, email="new@example.org", password=GOOD_PASSWORD, password2=None, first="Nina", last="Newman", **meta):
    return client.post(
        SIGNUP,
        {"email": email, "first_name": first, "last_name": last, "password": password, "password2": password2 or password},
        **meta,
    )


def can_log_in(email, password) -> bool:
    r = Client().post(LOGIN, {"email": email, "password": password})
    return r.status_code == 302


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_signup_verify_activates_and_logs_in(client, smtp):
    page = client.get(SIGNUP)
    assert page.status_code == 200 and b'name="password2"' in page.content and b"at least 8 characters" in page.content
    r = signup(client, email="Nina@Example.org")
    assert r.status_code == 200 and b"Check your mailbox" in r.content

    user = User.objects.get(email__iexact="nina@example.org")
    assert not user.is_active and user.status == "Pending email verification"
    assert user.activation_sent is not None and user.check_password(GOOD_PASSWORD)
    assert AuthProvider.objects.filter(user=user, module="local", identifier="nina@example.org").exists()
    assert "Pending email verification" in run("user-list", "-o", "email,status")
    assert not can_log_in("nina@example.org", GOOD_PASSWORD)

    mail = smtp.last_to(user.email)
    assert "verify your email" in mail["Subject"] and "Nina Newman" in body(mail)
    path = link_path(mail)
    secret = path.rsplit("/", 1)[1]
    link = EmailLink.objects.get(user=user, purpose="verify")
    # Only the SHA-256 of a 256-bit secret is stored.
    assert link.digest == hashlib.sha256(secret.encode()).hexdigest() and secret not in link.digest
    assert len(secret) >= 43

    r = client.get(path)
    assert r.status_code == 200 and b"Account activated" in r.content and "no-store" in r["Cache-Control"]
    user.refresh_from_db()
    assert user.is_active and user.email_verified and user.accepted_policy == "email"
    assert user.status == "Accepted/Active"
    welcome = smtp.last_to(user.email)
    assert "Welcome" in welcome["Subject"] and "/astakos/ui/login" in body(welcome)
    assert can_log_in("nina@example.org", GOOD_PASSWORD)

    # The link works once.
    r = client.get(path)
    assert r.status_code == 410 and b"already been used" in r.content
    assert len(smtp.to(user.email)) == 2


def test_signup_form_needs_csrf_and_the_local_module(settings, smtp):
    strict = Client(enforce_csrf_checks=True)
    strict.get(SIGNUP)
    assert signup(strict).status_code == 403
    settings.ASTAKOS_IM_MODULES = ["shibboleth"]
    assert Client().get(SIGNUP).status_code == 404
    assert signup(Client()).status_code == 404
    assert not User.objects.exists() and not smtp.messages


@pytest.mark.parametrize(
    "password, password2, message",
    [
        ("Sh0rt!", None, b"too short"),
        ("password123", None, b"too common"),
        ("83920174615", None, b"entirely numeric"),
        ("ninanewman", None, b"too similar"),
        (GOOD_PASSWORD, "Tangerine-Voyage-43", b"The two passwords differ"),
        ("", None, b"required"),
    ],
)
def test_weak_or_mismatched_passwords_are_refused(client, smtp, password, password2, message):
    r = signup(client, email="nina.newman@example.org", password=password, password2=password2)
    assert r.status_code == 400 and message in r.content and b'role="alert"' in r.content
    assert not User.objects.exists() and not smtp.messages


@pytest.mark.parametrize(
    "fields",
    [
        {"email": "not-an-email"},
        {"first": ""},
        {"last": "x" * 101},
        {"email": "a" * 250 + "@example.org"},
    ],
)
def test_bad_signup_input_is_refused(client, smtp, fields):
    r = signup(client, **fields)
    assert r.status_code == 400 and b'role="alert"' in r.content
    assert not User.objects.exists() and not smtp.messages


def test_signing_up_again_replaces_the_pending_registration(client, smtp):
    signup(client, first="Old")
    first_link = link_path(smtp.last_to("new@example.org"))
    r = signup(client, email="NEW@example.org", first="Nina", password="Second-Choice-77")
    assert r.status_code == 200
    assert User.objects.count() == 1
    second_link = link_path(smtp.last_to("new@example.org"))
    r = client.get(first_link)  # replaced: only the newest mail works
    assert r.status_code == 410 and b"expired" in r.content
    assert client.get(second_link).status_code == 200
    user = User.objects.get()
    assert user.first_name == "Nina" and user.is_active
    assert can_log_in("new@example.org", "Second-Choice-77") and not can_log_in("new@example.org", GOOD_PASSWORD)


def test_the_email_of_a_verified_account_is_refused(client, smtp, alice):
    r = signup(client, email="ALICE@example.org")
    assert r.status_code == 409 and b"already exists" in r.content
    assert User.objects.count() == 1 and not smtp.messages
    assert can_log_in("alice@example.org", alice[1])


def _verified_pending(client, smtp, settings, email="newcomer@example.com"):
    settings.ASTAKOS_MODERATION_ENABLED = True
    settings.ACCOUNT_NOTIFICATIONS_RECIPIENTS = ["moderator@example.org"]
    signup(client, email=email)
    r = client.get(link_path(smtp.last_to(email)))
    assert r.status_code == 200 and b"administrator will review" in r.content
    return User.objects.get(email=email)


def test_moderation_notifies_and_waits_for_accept(client, smtp, settings):
    user = _verified_pending(client, smtp, settings)
    assert user.email_verified and not user.is_active and user.status == "Pending moderation"
    assert not can_log_in(user.email, GOOD_PASSWORD)
    notice = smtp.last_to("moderator@example.org")
    assert user.email in notice["Subject"] and f"snf-manage user-modify {user.pk} --accept" in body(notice)
    assert user.email in run("user-list", "--pending-moderation", "-o", "email")
    assert len(smtp.to(user.email)) == 1  # the verification mail only, no welcome yet

    out = run("user-modify", str(user.pk), "--accept")
    assert "accepted" in out
    user.refresh_from_db()
    assert user.is_active and user.accepted_policy == "manual" and user.status == "Accepted/Active"
    assert "Welcome" in smtp.last_to(user.email)["Subject"]
    assert can_log_in(user.email, GOOD_PASSWORD)
    assert AuditEntry.objects.filter(action="user.accept", target=user, actor_email="snf-manage").exists()
    with pytest.raises(CommandError, match="already accepted"):
        run("user-modify", str(user.pk), "--accept")


def test_moderation_with_matching_email_pattern_activates(client, smtp, settings):
    settings.ASTAKOS_RE_USER_EMAIL_PATTERNS = [r".*@trusted\.example\.org"]
    user = _verified_pending(client, smtp, settings, email="outsider@example.com")
    assert user.status == "Pending moderation"
    signup(client, email="insider@Trusted.example.org")
    r = client.get(link_path(smtp.last_to("insider@trusted.example.org")))
    assert r.status_code == 200 and b"Account activated" in r.content
    insider = User.objects.get(email__iexact="insider@trusted.example.org")
    assert insider.is_active and insider.accepted_policy == "regex"
    assert "Welcome" in smtp.last_to(insider.email)["Subject"]
    # A pattern must match the whole address.
    settings.ASTAKOS_RE_USER_EMAIL_PATTERNS = [r"trusted\.example\.org"]
    assert User.objects.get(email="outsider@example.com").status == "Pending moderation"
    assert len(smtp.to("moderator@example.org")) == 1


def test_reject_tells_the_user_and_blocks_login(client, smtp, settings):
    user = _verified_pending(client, smtp, settings)
    run("user-modify", user.email, "--reject", "--reject-reason", "not a member")
    user.refresh_from_db()
    assert user.status == "Rejected (not a member)" and not user.is_active
    rejection = smtp.last_to(user.email)
    assert "not accepted" in rejection["Subject"] and "not a member" in body(rejection)
    assert not can_log_in(user.email, GOOD_PASSWORD)
    assert AuditEntry.objects.filter(action="user.reject", target=user, detail__reason="not a member").exists()
    with pytest.raises(CommandError, match="reject-reason goes with --reject"):
        run("user-modify", user.email, "--reject-reason", "again")
    # A rejected email cannot be signed up again.
    r = signup(client, email=user.email)
    assert r.status_code == 409 and User.objects.count() == 1


def test_accept_before_verification_activates_on_verification(client, smtp, settings):
    settings.ASTAKOS_MODERATION_ENABLED = True
    signup(client)
    user = User.objects.get()
    run("user-modify", user.email, "--accept")
    user.refresh_from_db()
    assert user.moderated and not user.is_active and len(smtp.to(user.email)) == 1
    client.get(link_path(smtp.to(user.email)[0]))
    user.refresh_from_db()
    assert user.is_active and "Welcome" in smtp.last_to(user.email)["Subject"]


@pytest.mark.parametrize("moderation", [False, True])
def test_user_modify_verify_and_accept_together(client, smtp, settings, moderation):
    settings.ASTAKOS_MODERATION_ENABLED = moderation
    signup(client)
    run("user-modify", "new@example.org", "--verify", "--accept")
    user = User.objects.get()
    assert user.is_active and user.accepted_policy == ("manual" if moderation else "email")
    assert [m["Subject"].startswith("Welcome") for m in smtp.to(user.email)] == [False, True]


def test_user_modify_verify_applies_the_policy(client, smtp):
    signup(client)
    out = run("user-modify", "new@example.org", "--verify")
    assert "email verified, activated" in out
    assert User.objects.get().is_active and "Welcome" in smtp.last_to("new@example.org")["Subject"]
    with pytest.raises(CommandError, match="already verified"):
        run("user-modify", "new@example.org", "--verify")
    # The link of the sign-up mail, still in the mailbox, says it is used.
    r = client.get(link_path(smtp.to("new@example.org")[0]))
    assert r.status_code == 410 and b"already been used" in r.content


def test_user_activation_send(client, smtp, alice):
    signup(client)
    user = User.objects.get(email="new@example.org")
    old_link = link_path(smtp.last_to(user.email))
    out = run("user-activation-send", str(user.uuid))
    assert f"user {user.pk}" in out
    assert len(smtp.to(user.email)) == 2
    new_link = link_path(smtp.last_to(user.email))
    assert new_link != old_link
    assert client.get(old_link).status_code == 410
    assert client.get(new_link).status_code == 200
    assert User.objects.get(pk=user.pk).is_active

    with pytest.raises(CommandError, match="already verified"):
        run("user-activation-send", alice[0].email)
    with pytest.raises(CommandError, match="No user"):
        run("user-activation-send", "nobody@example.org")


def test_signup_changes_nothing_when_the_mail_server_is_down(client, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()  # nothing listens there
    r = signup(client)
    assert r.status_code == 503 and b"nothing was changed" in r.content
    assert not User.objects.exists() and not EmailLink.objects.exists()


def test_mail_sending_requests_are_throttled_per_address(client, smtp, settings):
    settings.ASTAKOS_EMAIL_REQUESTS_PER_ADDRESS = 2
    assert signup(client, email="a@example.org").status_code == 200
    assert signup(client, email="b@example.org").status_code == 200
    r = signup(client, email="c@example.org")
    assert r.status_code == 429 and r["Retry-After"]
    assert not User.objects.filter(email="c@example.org").exists() and len(smtp.messages) == 2
    # Another address has its own budget, and logins are not affected.
    assert signup(client, email="c@example.org", REMOTE_ADDR="192.0.2.7").status_code == 200
    assert can_log_in(*_activate_by_link(client, smtp, "a@example.org"))


def _activate_by_link(client, smtp, email):
    client.get(link_path(smtp.last_to(email)))
    return email, GOOD_PASSWORD


def test_embedded_default_writes_mail_files_under_the_data_directory(client, settings, tmp_path):
    from synnefo.settings import finalize

    derived = {
        "SYNNEFO_DATA_DIR": str(tmp_path),
        "DATABASES": {"default": {}},
        "SECRET_KEY": "x",
        "EMAIL_BACKEND": None,
        "SYNNEFO_BIND": None,
        "SYNNEFO_TRUST_FORWARDED_HEADERS": False,
        "LOGGING_SETUP": {},
    }
    finalize(derived)
    assert derived["EMAIL_FILE_PATH"] == str(tmp_path / "mail")
    settings.EMAIL_BACKEND = derived["EMAIL_BACKEND"]
    settings.EMAIL_FILE_PATH = derived["EMAIL_FILE_PATH"]
    signup(client)
    files = list(Path(tmp_path, "mail").iterdir())
    assert len(files) == 1 and os.path.getsize(files[0]) > 0
    content = files[0].read_text()
    assert "To: new@example.org" in content and "/astakos/ui/verify/" in content


def test_rejecting_an_unverified_account_ends_its_link(client, smtp):
    signup(client)
    link = link_path(smtp.last_to("new@example.org"))
    run("user-modify", "new@example.org", "--reject")
    r = client.get(link)
    assert r.status_code == 410
    user = User.objects.get()
    assert not user.email_verified and user.is_rejected and not user.is_active
    with pytest.raises(CommandError, match="is rejected"):
        run("user-activation-send", user.email)


def test_resend_the_verification_mail_from_the_web(client, smtp, alice):
    RESEND = "/astakos/ui/signup/resend"
    assert b"signup/resend" in client.get(SIGNUP).content
    signup(client)
    old_link = link_path(smtp.last_to("new@example.org"))
    answers = [client.post(RESEND, {"email": address}) for address in ("NEW@example.org", alice[0].email, "nobody@example.org")]
    # The same answer whoever is asked about; only the pending account gets a mail.
    assert {r.status_code for r in answers} == {200} and len({r.content for r in answers}) == 1
    assert len(smtp.to("new@example.org")) == 2 and not smtp.to(alice[0].email) and len(smtp.messages) == 2
    assert client.get(old_link).status_code == 410
    assert client.get(link_path(smtp.last_to("new@example.org"))).status_code == 200
    assert client.post(RESEND, {"email": "bad"}).status_code == 400
