"""End to end over real HTTP: `synnefo up`, `snf-manage term-add` in its own process, a browser-
like session that must accept the terms before the web pages, an API token that keeps working,
and the login captcha verified by a local verification service (a real HTTP server)."""

import re
import subprocess
import sys

import pytest
import requests

from tests.live import running_node
from tests.recaptcha_server import GOOD_ANSWER, VerifyServer


@pytest.fixture(scope="module")
def verify_server():
    server = VerifyServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def node(tmp_path_factory, verify_server):
    conf = ("ASTAKOS_RECAPTCHA_ENABLED = True\n"
            "ASTAKOS_RECAPTCHA_PUBLIC_KEY = 'e2e-site-key'\n"
            "ASTAKOS_RECAPTCHA_PRIVATE_KEY = 'e2e-secret'\n"
            f"ASTAKOS_RECAPTCHA_VERIFY_URL = {verify_server.url!r}\n"
            "ASTAKOS_RATELIMIT_RETRIES_ALLOWED = 2\n")
    with running_node(tmp_path_factory.mktemp("node"), conf) as live:
        yield live


def snf_manage(node, *args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "synnefo.manage", *args], env=node.env, capture_output=True, text=True, timeout=120
    )


def form_post(session, url, **data):
    data["csrfmiddlewaretoken"] = session.cookies["csrftoken"]
    return session.post(url, data=data, allow_redirects=False, timeout=30)


def test_terms_and_captcha_through_a_running_node(node, verify_server, tmp_path):
    ui = f"{node.url}/astakos/ui"
    email, password, token = (node.credentials[k] for k in ("email", "password", "token"))
    terms_file = tmp_path / "terms.html"
    terms_file.write_text("<h1>~okeanos terms</h1>\nThese are the example terms for ~okeanos\n")

    added = snf_manage(node, "term-add", str(terms_file))
    assert added.returncode == 0, added.stderr
    bad = snf_manage(node, "term-add", str(tmp_path / "missing.html"))
    assert bad.returncode != 0 and "No such file" in bad.stderr
    listed = snf_manage(node, "term-list", "--no-headers", "-o", "id,accepted,current")
    assert re.fullmatch(r"1\s+0\s+True\n", listed.stdout), listed.stdout

    web = requests.Session()
    login_page = web.get(f"{ui}/login", timeout=30)
    assert 'href="/astakos/ui/terms" id="terms-link"' in login_page.text
    assert "g-recaptcha" not in login_page.text
    assert form_post(web, f"{ui}/login", email=email, password=password).status_code == 302

    # The profile waits for the terms; the API token does not.
    r = web.get(f"{ui}/", allow_redirects=False, timeout=30)
    assert r.status_code == 302 and r.headers["Location"].startswith("/astakos/ui/terms/accept")
    catalog = requests.get(f"{node.url}/astakos/identity/v3/auth/catalog", headers={"X-Auth-Token": token}, timeout=30)
    assert catalog.status_code == 200
    page = web.get(node.url + r.headers["Location"], timeout=30)
    assert "These are the example terms for ~okeanos" in page.text
    assert form_post(web, f"{ui}/terms/accept", terms="1").status_code == 400  # box not ticked
    r = form_post(web, f"{ui}/terms/accept", terms="1", accept="yes", next="/astakos/ui/")
    assert r.status_code == 302 and r.headers["Location"] == "/astakos/ui/"
    assert web.get(f"{ui}/", timeout=30).status_code == 200
    assert re.fullmatch(r"1\s+1\s+True\n", snf_manage(node, "term-list", "--no-headers", "-o", "id,accepted,current").stdout)

    # Two wrong passwords, then the login form needs the captcha.
    other = requests.Session()
    other.get(f"{ui}/login", timeout=30)
    for _ in range(2):
        assert form_post(other, f"{ui}/login", email=email, password="wrong").status_code == 401
    page = other.get(f"{ui}/login", timeout=30)
    assert 'class="g-recaptcha" data-sitekey="e2e-site-key"' in page.text
    r = form_post(other, f"{ui}/login", email=email, password=password)
    assert r.status_code == 400 and "Please complete the captcha" in r.text
    r = form_post(other, f"{ui}/login", email=email, password=password, **{"g-recaptcha-response": "guess"})
    assert r.status_code == 400 and "captcha was not solved" in r.text
    r = form_post(other, f"{ui}/login", email=email, password=password, **{"g-recaptcha-response": GOOD_ANSWER})
    assert r.status_code == 302
    assert verify_server.requests[-1] == {"secret": "e2e-secret", "response": GOOD_ANSWER, "remoteip": "127.0.0.1"}
    assert other.get(f"{ui}/", timeout=30).status_code == 200
