"""End to end: sign-up on a live node (`synnefo up`, gunicorn) over real HTTP, with its mails
delivered to a real SMTP server (aiosmtpd) and moderation done with the real snf-manage."""

import re
import subprocess
import sys
from urllib.parse import urlsplit

import pytest
import requests

from tests.live import running_node
from tests.mailhelpers import body, start_server

PASSWORD = "Quartz-Lantern-61"


@pytest.fixture(scope="module")
def mail_node(tmp_path_factory):
    controller, inbox, port = start_server()

    def conf(node):
        return ('EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"\n'
                f'EMAIL_HOST = "127.0.0.1"\nEMAIL_PORT = {port}\n'
                "ASTAKOS_MODERATION_ENABLED = True\n"
                'ACCOUNT_NOTIFICATIONS_RECIPIENTS = ["moderator@example.org"]\n'
                # snf-manage runs apart from the web server: links in its mails need the public URL.
                f'ASTAKOS_BASE_URL = "{node.url}/astakos"\n')

    try:
        with running_node(tmp_path_factory.mktemp("signup-node"), conf) as node:
            yield node, inbox
    finally:
        controller.stop()


def form_post(session, url, data):
    """POST a form the way a browser does: with the CSRF token of a GET of the page."""
    page = session.get(url, timeout=30)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    return session.post(url, data={**data, "csrfmiddlewaretoken": token}, timeout=30, allow_redirects=False)


def snf_manage(node, *args) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "synnefo.manage", *args], env=node.env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_signup_verification_moderation_and_login_on_a_live_node(mail_node):
    node, inbox = mail_node
    browser = requests.Session()
    signup = node.url + "/astakos/ui/signup"
    r = form_post(browser, signup, {
        "email": "zoe@example.com", "first_name": "Zoe", "last_name": "Z",
        "password": PASSWORD, "password2": PASSWORD,
    })
    assert r.status_code == 200 and "Check your mailbox" in r.text
    assert "Pending email verification" in snf_manage(node, "user-list", "-o", "email,status")

    link = re.search(r"https?://\S+", body(inbox.last_to("zoe@example.com"))).group(0)
    assert link.startswith(node.url + "/astakos/ui/verify/")
    r = requests.get(link, timeout=30)
    assert r.status_code == 200 and "administrator will review" in r.text
    assert requests.get(link, timeout=30).status_code == 410
    notice = body(inbox.last_to("moderator@example.org"))
    user_id = re.search(r"snf-manage user-modify (\d+) --accept", notice).group(1)

    tokens_url = node.url + "/astakos/identity/v2.0/tokens"
    credentials = {"auth": {"passwordCredentials": {"username": "zoe@example.com", "password": PASSWORD}}}
    assert requests.post(tokens_url, json=credentials, timeout=30).status_code == 401  # not active yet

    assert "accepted" in snf_manage(node, "user-modify", user_id, "--accept")
    welcome = inbox.last_to("zoe@example.com")
    assert "Welcome" in welcome["Subject"]
    login = re.search(r"https?://\S+", body(welcome)).group(0)
    assert urlsplit(login).path == "/astakos/ui/login"

    r = requests.post(tokens_url, json=credentials, timeout=30)
    assert r.status_code == 200 and r.json()["access"]["token"]["id"]
    r = form_post(browser, login, {"email": "zoe@example.com", "password": PASSWORD})
    assert r.status_code == 302
    # The node's log shows the verification request, without the link's secret.
    log = "".join(node.output)
    assert "/astakos/ui/verify/***" in log and link.rsplit("/", 1)[1] not in log
