"""End to end: the admin pages of a live node (`synnefo up`) over real HTTP, with a browser-like
session (login form, CSRF cookie and token), and `snf-manage user-modify --type ADMIN` run
against the node's own database."""

import re
import subprocess
import sys

import pytest
import requests






def manage(node, *args) -> str:
    result = subprocess.run([sys.executable, "-m", "synnefo.manage", *args], env=node.env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


def browser_login(node, email, password) -> requests.Session:
    session = requests.Session()
    session.get(f"{node.url}/astakos/ui/login", timeout=30)
    r = session.post(f"{node.url}/astakos/ui/login?next=/admin/", timeout=30, allow_redirects=False, data={
        "email": email, "password": password, "next": "/admin/", "csrfmiddlewaretoken": session.cookies["csrftoken"],
    })
    assert r.status_code == 302 and r.headers["Location"] == "/admin/", r.text
    return session


def test_admin_moderates_a_user_over_http(node):
    anonymous = requests.get(f"{node.url}/admin/", timeout=30, allow_redirects=False)
    assert anonymous.status_code == 302 and anonymous.headers["Location"].startswith("/astakos/ui/login?next=/admin/")

    out = manage(node, "user-add", "eve@example.org", "Eve", "Example", "--password", "eve-pass-123")
    eve_id = re.search(r"Created user (\d+)", out).group(1)
    eve = browser_login(node, "eve@example.org", "eve-pass-123")
    assert eve.get(f"{node.url}/admin/", timeout=30).status_code == 403

    admin = browser_login(node, node.credentials["email"], node.credentials["password"])
    listing = admin.get(f"{node.url}/admin/", params={"q": "eve@"}, timeout=30)
    assert listing.status_code == 200 and "eve@example.org" in listing.text
    url = f"{node.url}/admin/users/{eve_id}/deactivate"
    # Without the CSRF token: refused, nothing changed.
    assert admin.post(url, data={"reason": "testing"}, timeout=30).status_code == 403
    r = admin.post(url, data={"reason": "testing", "csrfmiddlewaretoken": admin.cookies["csrftoken"]},
                   timeout=30, allow_redirects=False)
    assert r.status_code == 303
    page = admin.get(f"{node.url}{r.headers['Location']}", timeout=30).text
    assert "Accepted/Inactive (testing)" in page
    audit = admin.get(f"{node.url}/admin/audit", params={"action": "user.deactivate"}, timeout=30).text
    assert node.credentials["email"] in audit and "eve@example.org" in audit and "reason: testing" in audit

    # The seed's way to make an administrator, then that user gets in.
    manage(node, "user-modify", eve_id, "--set-active")
    manage(node, "user-modify", eve_id, "--type", "ADMIN")
    eve = browser_login(node, "eve@example.org", "eve-pass-123")
    assert eve.get(f"{node.url}/admin/", timeout=30).status_code == 200
    audit = admin.get(f"{node.url}/admin/audit", params={"actor": "snf-manage"}, timeout=30).text
    assert "user.set_admin" in audit and "user.activate" in audit
