"""End to end over real HTTP: `synnefo up` with the local, LDAP (a real slapd) and Shibboleth
modules, driven like a browser; the Shibboleth headers cross gunicorn under their real names and
are believed only from the trusted peer address."""

import http.client
import re

import pytest
import requests

from tests.ldap_helpers import PEOPLE, slapd  # noqa: F401 (a fixture)
from tests.live import running_node

SHIB_HEADERS = {
    "eppn": "grace@uni.example.org",
    "Shib-InetOrgPerson-mail": "grace@uni.example.org",
    "Shib-InetOrgPerson-givenName": "Grace",
    "Shib-Person-surname": "Hopper",
    "Shib-EP-Affiliation": "faculty",
    "Shib-Session-ID": "_f00",
}


@pytest.fixture(scope="module")
def node(tmp_path_factory, slapd):  # noqa: F811
    conf = ('ASTAKOS_IM_MODULES = ["local", "ldap", "shibboleth"]\n'
            f'ASTAKOS_LDAP_SERVER_URI = {slapd["SLAPD_SANDBOX_URI"]!r}\n'
            f'ASTAKOS_LDAP_BIND_DN = {slapd["SLAPD_SANDBOX_BIND_DN"]!r}\n'
            f'ASTAKOS_LDAP_BIND_PASSWORD = {slapd["SLAPD_SANDBOX_BIND_PASSWORD"]!r}\n'
            f'ASTAKOS_LDAP_USER_SEARCH_BASE = {PEOPLE!r}\n'
            'ASTAKOS_SHIBBOLETH_TRUSTED_PROXIES = ["127.0.0.1"]\n'
            "ASTAKOS_AUTH_PROVIDER_LDAP_AUTOMODERATE_POLICY = True\n"
            "AUTH_LDAP_CACHE_TIMEOUT = 0  # a django-auth-ldap setting, accepted as is\n")
    with running_node(tmp_path_factory.mktemp("node"), conf) as live:
        yield live


def test_login_page_offers_the_three_modules(node):
    page = requests.get(node.url + "/astakos/ui/login", timeout=30).text
    assert all(f'id="login-{m}"' in page for m in ("local", "ldap", "shibboleth"))


def test_shibboleth_headers_through_gunicorn_log_in(node):
    browser = requests.Session()
    r = browser.get(node.url + "/astakos/ui/login/shibboleth", headers=SHIB_HEADERS, allow_redirects=False, timeout=30)
    assert r.status_code == 302 and r.headers["Location"] == "/astakos/ui/"
    profile = browser.get(node.url + "/astakos/ui/", timeout=30).text
    assert "grace@uni.example.org" in profile and "Grace Hopper" in profile and "faculty" in profile


def test_shibboleth_headers_from_another_address_are_refused(node):
    # 127.0.0.2 is this machine too, but not a trusted proxy; X-Forwarded-For does not help.
    conn = http.client.HTTPConnection("127.0.0.1", node.port, timeout=30, source_address=("127.0.0.2", 0))
    headers = {**SHIB_HEADERS, "eppn": "mallory@uni.example.org", "X-Forwarded-For": "127.0.0.1"}
    conn.request("GET", "/astakos/ui/login/shibboleth", headers=headers)
    response = conn.getresponse()
    assert response.status == 403 and response.getheader("Set-Cookie", "").find("sessionid") < 0
    conn.close()


def ldap_form_post(node, password):
    browser = requests.Session()
    page = browser.get(node.url + "/astakos/ui/login", timeout=30).text
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    form = {"username": "bob", "password": password, "csrfmiddlewaretoken": csrf}
    headers = {"Referer": node.url + "/astakos/ui/login"}
    r = browser.post(node.url + "/astakos/ui/login/ldap", data=form, headers=headers, allow_redirects=False, timeout=30)
    return browser, r


def test_ldap_form_with_csrf_logs_in(node):
    assert ldap_form_post(node, "x")[1].status_code == 401
    browser, r = ldap_form_post(node, "bob-ldap-pw")
    assert r.status_code == 302
    assert "bob@example.org" in browser.get(node.url + "/astakos/ui/", timeout=30).text
