"""Versioned terms of use: term-add/term-list, the public page and footer link, the accept page
every web page waits for, and user-modify --sign-terms. API tokens never depend on terms."""

import io
import re

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from synnefo.astakos.logic import tokens
from synnefo.astakos.models import ApprovalTerms, User

pytestmark = pytest.mark.django_db

PROFILE = "/astakos/ui/"
TERMS = "/astakos/ui/terms"
ACCEPT = "/astakos/ui/terms/accept"


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def add_terms(tmp_path, html: str, name: str = "terms.html") -> ApprovalTerms:
    path = tmp_path / name
    path.write_text(html, encoding="utf-8")
    out = run("term-add", str(path))
    version = ApprovalTerms.objects.order_by("-pk").first()
    assert f"version {version.pk}" in out
    return version


def logged_in(user, password) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.get("/astakos/ui/login")
    csrf = client.cookies["csrftoken"].value
    r = client.post("/astakos/ui/login", {"email": user.email, "password": password, "csrfmiddlewaretoken": csrf})
    assert r.status_code == 302
    return client


def accept(client, version_id, **extra):
    data = {"csrfmiddlewaretoken": client.cookies["csrftoken"].value, "terms": str(version_id), "accept": "yes"}
    data.update(extra)
    return client.post(ACCEPT, {k: v for k, v in data.items() if v is not None})


# term-add and term-list


def test_term_add_stores_the_html_and_term_list_counts_acceptances(tmp_path, alice):
    first = add_terms(tmp_path, "<h1>~okeanos terms</h1>\nThese are the example terms for ~okeanos\n")
    assert first.html.startswith("<h1>~okeanos terms</h1>") and first.source == str(tmp_path / "terms.html")
    # The stored text is what users see, whatever happens to the file afterwards.
    (tmp_path / "terms.html").write_text("changed")
    assert ApprovalTerms.objects.get(pk=first.pk).html.startswith("<h1>~okeanos")
    run("user-modify", alice[0].email, "--sign-terms")
    second = add_terms(tmp_path, "<p>Version two, with ünïcödé</p>", "v2.html")
    assert second.html == "<p>Version two, with ünïcödé</p>"

    lines = run("term-list", "--no-headers").splitlines()
    assert len(lines) == 2
    assert re.match(rf"{first.pk}\s+\S+ \S+\s+\S*terms\.html\s+1\s+False$", lines[0])
    assert re.match(rf"{second.pk}\s+\S+ \S+\s+\S*v2\.html\s+0\s+True$", lines[1])
    assert run("term-list", "--filter-by", f"id={second.pk}", "-o", "id,accepted", "--output-format", "csv") == (
        f"id,accepted\n{second.pk},0\n"
    )


def test_term_add_bom_is_dropped(tmp_path):
    path = tmp_path / "bom.html"
    path.write_bytes(b"\xef\xbb\xbf<p>terms</p>")
    run("term-add", str(path))
    assert ApprovalTerms.objects.get().html == "<p>terms</p>"


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "No such file"),
        (b"", "is empty"),
        (b"  \n\t\n", "is empty"),
        (b"<p>caf\xe9</p>", "is not UTF-8"),
        (b"<p>a\x00b</p>", "NUL"),
        ("dir", "Cannot read"),
    ],
    ids=["missing", "empty", "blank", "latin-1", "nul", "directory"],
)
def test_term_add_refuses_bad_files(tmp_path, content, message):
    path = tmp_path / "terms.html"
    if content == "dir":
        path.mkdir()
    elif content is not None:
        path.write_bytes(content)
    with pytest.raises(CommandError, match=message):
        run("term-add", str(path))
    assert ApprovalTerms.objects.count() == 0


def test_term_add_refuses_a_file_over_the_size_limit(tmp_path, settings):
    settings.ASTAKOS_TERMS_MAX_SIZE = 100
    path = tmp_path / "big.html"
    path.write_text("<p>" + "x" * 200 + "</p>")
    with pytest.raises(CommandError, match="larger than 100 bytes"):
        run("term-add", str(path))
    assert ApprovalTerms.objects.count() == 0


# The public page and the footer link


def test_no_terms_no_footer_link_and_the_page_says_so(client):
    login_page = client.get("/astakos/ui/login")
    assert b'id="terms-link"' not in login_page.content
    r = client.get(TERMS)
    assert r.status_code == 404 and b"No terms of use have been published" in r.content


def test_terms_page_shows_newest_and_older_versions_and_every_page_links_it(client, tmp_path, alice):
    first = add_terms(tmp_path, "<h1>First terms</h1>")
    second = add_terms(tmp_path, "<h1>Second terms</h1>", "v2.html")
    for page in ("/astakos/ui/login", TERMS):
        assert b'<a href="/astakos/ui/terms" id="terms-link">Terms of use</a>' in client.get(page).content
    newest = client.get(TERMS)
    assert newest.status_code == 200 and b"<h1>Second terms</h1>" in newest.content
    assert b"First terms" not in newest.content
    older = client.get(TERMS, {"id": first.pk})
    assert older.status_code == 200 and b"<h1>First terms</h1>" in older.content and b"an older version" in older.content
    assert f'?id={second.pk}">Version {second.pk}</a>'.encode() in older.content

    bad = client.get(TERMS, {"id": "1 OR 1=1"})
    assert bad.status_code == 400 and b"must be a number" in bad.content
    assert client.get(TERMS, {"id": "99999"}).status_code == 404
    assert client.post(TERMS).status_code == 405

    # A logged-in user who has not accepted them still reads them (and logs out) freely.
    web = logged_in(alice[0], alice[1])
    assert web.get(TERMS).status_code == 200
    assert b'id="terms-link"' in web.get(ACCEPT).content


# Accepting


def test_web_pages_wait_until_the_user_accepts_and_a_new_version_asks_again(tmp_path, alice):
    user, password, _ = alice
    web = logged_in(user, password)
    assert web.get(PROFILE).status_code == 200  # no terms yet: nothing to accept

    first = add_terms(tmp_path, "<h1>First terms</h1>")
    r = web.get(PROFILE + "?tab=token")
    assert r.status_code == 302 and r["Location"] == ACCEPT + "?next=%2Fastakos%2Fui%2F%3Ftab%3Dtoken"
    # A form posted before accepting is not carried out, and comes back to the profile.
    r = web.post("/astakos/ui/renew-token", {"csrfmiddlewaretoken": web.cookies["csrftoken"].value})
    assert r.status_code == 302 and r["Location"] == ACCEPT + "?next=%2Fastakos%2Fui%2F"
    assert tokens.lookup(alice[2]) is not None  # the main token was not renewed

    page = web.get(r["Location"])
    assert page.status_code == 200 and b"<h1>First terms</h1>" in page.content
    assert f'name="terms" value="{first.pk}"'.encode() in page.content and b'type="checkbox" name="accept"' in page.content

    # Without the box ticked, or without CSRF, nothing is recorded.
    r = accept(web, first.pk, accept=None, next="/astakos/ui/?tab=token")
    assert r.status_code == 400 and b"Tick the box" in r.content
    assert web.post(ACCEPT, {"terms": first.pk, "accept": "yes"}).status_code == 403
    r = accept(web, "x1")
    assert r.status_code == 400
    assert User.objects.get(pk=user.pk).signed_terms_id is None

    r = accept(web, first.pk, next="/astakos/ui/?tab=token")
    assert r.status_code == 302 and r["Location"] == "/astakos/ui/?tab=token"
    user.refresh_from_db()
    assert user.signed_terms_id == first.pk and user.signed_terms_at is not None
    assert web.get(PROFILE).status_code == 200
    # Accepted already: the accept page just sends the user on.
    assert web.get(ACCEPT).status_code == 302

    second = add_terms(tmp_path, "<h1>Second terms</h1>", "v2.html")
    r = web.get(PROFILE)
    assert r.status_code == 302 and r["Location"].startswith(ACCEPT)
    page = web.get(ACCEPT)
    assert b"have changed since you accepted" in page.content and b"Second terms" in page.content
    # Accepting the version read before a newer one appeared is refused.
    third = add_terms(tmp_path, "<h1>Third terms</h1>", "v3.html")
    r = accept(web, second.pk)
    assert r.status_code == 409 and b"changed while you were reading" in r.content and b"Third terms" in r.content
    assert User.objects.get(pk=user.pk).signed_terms_id == first.pk
    assert accept(web, third.pk)["Location"] == PROFILE
    assert User.objects.get(pk=user.pk).signed_terms_id == third.pk
    assert web.get(PROFILE).status_code == 200


def test_accept_page_needs_login_and_next_stays_on_site(client, tmp_path, alice):
    version = add_terms(tmp_path, "<p>terms</p>")
    r = client.get(ACCEPT)
    assert r.status_code == 302 and r["Location"].startswith("/astakos/ui/login")
    web = logged_in(alice[0], alice[1])
    assert accept(web, version.pk, next="https://evil.example.com/")["Location"] == PROFILE


def test_logging_in_and_out_work_before_accepting(tmp_path, alice):
    add_terms(tmp_path, "<p>terms</p>")
    web = logged_in(alice[0], alice[1])
    assert web.get("/astakos/ui/login").status_code == 200
    r = web.post("/astakos/ui/logout", {"csrfmiddlewaretoken": web.cookies["csrftoken"].value})
    assert r.status_code == 200 and b"You have logged out" in r.content


def test_api_tokens_keep_working_without_accepting(tmp_path, alice):
    user, password, token = alice
    add_terms(tmp_path, "<p>terms</p>")
    web = logged_in(user, password)  # a session too: the APIs must not look at it
    for path in ("/astakos/account/v1.0/quotas", "/astakos/identity/v3/auth/catalog"):
        r = web.get(path, HTTP_X_AUTH_TOKEN=token)
        assert r.status_code == 200, (path, r.status_code)
    r = web.post(
        "/astakos/identity/v2.0/tokens",
        data='{"auth": {"passwordCredentials": {"username": "%s", "password": "%s"}}}' % (user.email, password),
        content_type="application/json",
    )
    assert r.status_code == 200 and "access" in r.json()
    assert web.get(PROFILE).status_code == 302  # the web pages do wait


def test_user_modify_sign_terms(tmp_path, alice):
    user, password, _ = alice
    with pytest.raises(CommandError, match="No terms of use have been added"):
        run("user-modify", user.email, "--sign-terms", "--first-name", "Changed")
    assert User.objects.get(pk=user.pk).first_name == "First"  # nothing changed

    version = add_terms(tmp_path, "<p>terms</p>")
    out = run("user-modify", str(user.pk), "--sign-terms")
    assert f"accepted terms version {version.pk}" in out
    assert User.objects.get(pk=user.pk).signed_terms_id == version.pk
    assert re.search(rf"signed terms\s*: {version.pk}$", run("user-show", user.email), re.M)
    assert logged_in(user, password).get(PROFILE).status_code == 200
