"""The admin pages at /admin/: who gets in, the user list and search, a user's page, the
actions (each recorded in the audit trail), the audit log, and snf-manage user-modify's
--type and audit entries."""

import io
import re

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from synnefo.astakos.logic import audit, tokens
from synnefo.astakos.models import AuditEntry, AuthProvider, User
from synnefo.astakos.quotaholder.models import Holding, UNLIMITED

pytestmark = pytest.mark.django_db

ADMIN = "/admin/"
LOGIN = "/astakos/ui/login"
ACTIONS = ["activate", "deactivate", "accept", "reject", "verify", "resend-activation", "set-admin", "unset-admin"]
FIELDS = ["is_active", "email_verified", "moderated", "is_rejected", "is_superuser", "deactivated_reason", "rejected_reason"]


def state(user):
    user = User.objects.get(pk=user.pk)
    return {f: getattr(user, f) for f in FIELDS}


def csrf(client):
    return client.cookies["csrftoken"].value


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.fixture
def admin(make_user):
    return make_user("root@example.org", admin=True)[0]


@pytest.fixture
def admin_client(admin):
    """An administrator's browser, logged in through the login page, CSRF enforced."""
    client = Client(enforce_csrf_checks=True)
    client.get(LOGIN)
    r = client.post(LOGIN, {"email": admin.email, "password": "secret-pass-1", "next": ADMIN, "csrfmiddlewaretoken": csrf(client)})
    assert r.status_code == 302 and r["Location"] == ADMIN
    return client


def post(client, path, data=None):
    client.get(ADMIN)  # a page view sets the CSRF cookie, as a browser would have it
    return client.post(path, {**(data or {}), "csrfmiddlewaretoken": csrf(client)})


def pending(email, verified=False, moderated=False, **fields):
    return User.objects.create_user(email, "pw-123456", first_name="Pen", last_name="Ding",
                                    email_verified=verified, moderated=moderated, **fields)


@pytest.fixture
def people(make_user):
    """One user in each state."""
    active = make_user("ada@example.org")[0]
    User.objects.filter(pk=active.pk).update(first_name="Ada", last_name="Lovelace")
    inactive = make_user("ina@example.org", active=False)[0]
    unverified = pending("new@example.org")
    unmoderated = pending("wait@example.org", verified=True)
    rejected = pending("spam@example.org", verified=True, moderated=True, is_rejected=True, rejected_reason="spam")
    return {"active": active, "inactive": inactive, "pending_verification": unverified,
            "pending_moderation": unmoderated, "rejected": rejected}


def listed(response) -> set[str]:
    return set(re.findall(r'<td><a href="/admin/users/\d+">([^<]+)</a></td>', response.content.decode()))


def admin_urls(target):
    gets = [ADMIN, f"/admin/users/{target.pk}", "/admin/audit", "/admin/?q=ada&state=active"]
    posts = [f"/admin/users/{target.pk}/{a}" for a in ACTIONS] + [f"/admin/users/{target.pk}/quota"]
    return gets, posts


# --- who gets in ---------------------------------------------------------------------------


def test_anonymous_is_sent_to_login_and_changes_nothing(client, people):
    target = people["pending_moderation"]
    before = state(target)
    gets, posts = admin_urls(target)
    for url in gets:
        r = client.get(url)
        assert r.status_code == 302 and r["Location"].startswith(LOGIN + "?next=/admin/"), url
    for url in posts:
        r = client.post(url, {"reason": "x", "resource": "cyclades.vm", "limit": "9"})
        assert r.status_code == 302 and r["Location"].startswith(LOGIN), url
    assert state(target) == before and not AuditEntry.objects.exists()
    assert client.get("/admin")["Location"] == ADMIN


def test_non_admin_gets_403_everywhere_and_changes_nothing(make_user, people):
    user, password, _ = make_user("plain@example.org")
    client = Client()
    assert client.login(username=user.email, password=password)
    target = people["pending_moderation"]
    before = state(target)
    gets, posts = admin_urls(target)
    for url in gets:
        r = client.get(url)
        assert r.status_code == 403 and b"Only administrators" in r.content, url
    for url in posts:
        assert client.post(url, {"reason": "x", "resource": "cyclades.vm", "limit": "9"}).status_code == 403, url
    assert client.post(f"/admin/users/{user.pk}/set-admin").status_code == 403
    assert state(target) == before and not User.objects.get(pk=user.pk).is_superuser
    assert not AuditEntry.objects.exists()
    assert not Holding.objects.filter(limit=9).exists()


def test_login_page_brings_the_admin_back(admin):
    client = Client()
    r = client.get("/admin/audit")
    assert r.status_code == 302
    next_url = r["Location"].split("next=", 1)[1]
    r = client.post(LOGIN, {"email": admin.email, "password": "secret-pass-1", "next": "/admin/audit"})
    assert r["Location"] == "/admin/audit" and next_url == "/admin/audit"
    assert client.get("/admin/audit").status_code == 200


def test_posts_need_the_csrf_token(admin_client, people):
    target = people["pending_moderation"]
    assert admin_client.post(f"/admin/users/{target.pk}/accept").status_code == 403
    assert not User.objects.get(pk=target.pk).moderated and not AuditEntry.objects.exists()


def test_a_deactivated_admin_is_out(admin_client, admin):
    User.objects.filter(pk=admin.pk).update(is_active=False)
    r = admin_client.get(ADMIN)
    assert r.status_code == 302 and r["Location"].startswith(LOGIN)  # the session no longer logs in


# --- list, search, filters -----------------------------------------------------------------


def test_admin_sees_every_user(admin_client, people):
    r = admin_client.get(ADMIN)
    assert r.status_code == 200 and "no-store" in r["Cache-Control"]
    assert listed(r) == {u.email for u in people.values()} | {"root@example.org"}
    assert b"Pending moderation" in r.content and b"Rejected (spam)" in r.content
    counts = dict(re.findall(r'data-state="(\w+)">[^<]+<span class="count">(\d+)</span>', r.content.decode()))
    assert counts == {"pending_verification": "1", "pending_moderation": "1", "active": "2", "inactive": "1", "rejected": "1"}


@pytest.mark.parametrize("state_key", ["pending_verification", "pending_moderation", "active", "inactive", "rejected"])
def test_state_filters(admin_client, people, state_key):
    r = admin_client.get(ADMIN, {"state": state_key})
    expected = {people[state_key].email} | ({"root@example.org"} if state_key == "active" else set())
    assert r.status_code == 200 and listed(r) == expected


def test_search_by_email_name_uuid_and_id(admin_client, people):
    ada = people["active"]
    assert listed(admin_client.get(ADMIN, {"q": "ADA@"})) == {ada.email}
    assert listed(admin_client.get(ADMIN, {"q": "lovelace"})) == {ada.email}
    assert listed(admin_client.get(ADMIN, {"q": "ada love"})) == {ada.email}
    hex_uuid = ada.uuid.hex
    assert listed(admin_client.get(ADMIN, {"q": hex_uuid[6:14].upper()})) == {ada.email}
    assert listed(admin_client.get(ADMIN, {"q": str(ada.uuid)[4:16]})) == {ada.email}  # across a dash
    assert ada.email in listed(admin_client.get(ADMIN, {"q": str(ada.pk)}))
    assert listed(admin_client.get(ADMIN, {"q": "pen", "state": "rejected"})) == {"spam@example.org"}
    assert listed(admin_client.get(ADMIN, {"type": "ADMIN"})) == {"root@example.org"}
    r = admin_client.get(ADMIN, {"q": "nobody-here"})
    assert r.status_code == 200 and listed(r) == set() and b"No user matches" in r.content


def test_pagination(admin_client, make_user, settings):
    settings.ASTAKOS_ADMIN_PAGE_SIZE = 3
    for i in range(7):
        make_user(f"page{i}@example.org")
    seen = set()
    for page in (1, 2, 3):
        r = admin_client.get(ADMIN, {"q": "page", "page": page})
        assert r.status_code == 200
        seen |= listed(r)
    assert seen == {f"page{i}@example.org" for i in range(7)}
    assert b'rel="next" href="?q=page&amp;page=2"' in admin_client.get(ADMIN, {"q": "page"}).content


@pytest.mark.parametrize("query", [{"state": "happy"}, {"type": "ROOT"}, {"page": "x"}, {"page": "0"}, {"q": "a" * 300}])
def test_bad_list_parameters_are_400(admin_client, people, query):
    r = admin_client.get(ADMIN, query)
    assert r.status_code == 400 and b'role="alert"' in r.content


# --- a user's page -------------------------------------------------------------------------


def test_user_page_shows_state_providers_tokens_quotas_and_audit(admin_client, people, admin):
    ada = people["active"]
    AuthProvider.objects.create(user=ada, module="ldap", identifier="ada.l", affiliation="Analytical Engines")
    Holding.objects.filter(holder=f"user:{ada.uuid}").delete()
    r = admin_client.get(f"/admin/users/{ada.pk}")
    page = r.content.decode()
    assert r.status_code == 200
    assert '<strong id="status">Accepted/Active</strong>' in page and str(ada.uuid) in page
    assert "<td>local</td><td>ada@example.org</td>" in page and "<td>ldap</td><td>ada.l</td>" in page
    assert re.search(r'<dd id="tokens">[1-9]', page)
    vm = re.search(r'data-resource="cyclades.vm">.*?<td class="limit">([^<]+)', page, re.S).group(1)
    assert vm.strip() == "4"  # the system default, from the quotaholder
    assert 'data-resource="pithos.diskspace"' in page
    assert "/admin/users/%d/quota" % ada.pk in page
    assert admin_client.get("/admin/users/99999").status_code == 404


def test_user_page_offers_only_what_applies(admin_client, people):
    page = admin_client.get(f"/admin/users/{people['pending_moderation'].pk}").content.decode()
    assert re.search(r'value="accept">Accept</button>', page)
    assert re.search(r'value="activate" disabled>Activate</button>', page)


# --- actions -------------------------------------------------------------------------------


def _last_entry():
    return AuditEntry.objects.order_by("-id").first()


@pytest.mark.parametrize(
    "who, action, data, expect, detail",
    [
        ("pending_moderation", "accept", {}, {"moderated": True, "is_active": True}, {}),
        ("pending_moderation", "reject", {"reason": "bot"}, {"is_rejected": True, "rejected_reason": "bot"}, {"reason": "bot"}),
        ("rejected", "accept", {}, {"is_rejected": False, "is_active": True}, {}),
        ("active", "deactivate", {"reason": "left"}, {"is_active": False, "deactivated_reason": "left"}, {"reason": "left"}),
        ("inactive", "activate", {}, {"is_active": True}, {}),
        ("pending_verification", "verify", {}, {"email_verified": True}, {}),
        ("active", "set-admin", {}, {"is_superuser": True}, {}),
    ],
)
def test_each_action_changes_the_state_and_is_audited(admin_client, admin, people, who, action, data, expect, detail):
    target = people[who]
    old_status = User.objects.get(pk=target.pk).status
    r = post(admin_client, f"/admin/users/{target.pk}/{action}", data)
    assert r.status_code == 303 and r["Location"] == f"/admin/users/{target.pk}"
    after = state(target)
    assert {k: after[k] for k in expect} == expect
    entry = _last_entry()
    names = {"verify": "user.verify_email", "set-admin": "user.set_admin"}
    assert entry.action == names.get(action, f"user.{action}")
    assert entry.actor == admin and entry.actor_email == admin.email
    assert entry.target == target and entry.target_repr == target.email and entry.at is not None
    assert entry.detail["old"]["status"] == old_status
    assert entry.detail["new"]["status"] == User.objects.get(pk=target.pk).status
    assert {k: entry.detail[k] for k in detail} == detail
    # The page after the redirect says it was done, and lists the entry.
    page = admin_client.get(r["Location"]).content.decode()
    assert 'role="status"' in page and entry.action in page


def test_deactivating_revokes_tokens_and_unset_admin(admin_client, make_user):
    other, _, token = make_user("other-admin@example.org", admin=True)
    assert post(admin_client, f"/admin/users/{other.pk}/unset-admin").status_code == 303
    assert not User.objects.get(pk=other.pk).is_superuser and _last_entry().action == "user.unset_admin"
    assert post(admin_client, f"/admin/users/{other.pk}/deactivate", {"reason": "gone"}).status_code == 303
    assert tokens.lookup(token) is None


def test_resend_activation_mails_a_new_link(admin_client, admin, people, mailoutbox):
    target = people["pending_verification"]
    assert post(admin_client, f"/admin/users/{target.pk}/resend-activation").status_code == 303
    (message,) = mailoutbox
    assert message.to == [target.email] and "/astakos/ui/verify/" in message.body
    assert _last_entry().action == "user.resend_activation" and _last_entry().actor == admin
    # A verified address needs no activation email.
    r = post(admin_client, f"/admin/users/{people['active'].pk}/resend-activation")
    assert r.status_code == 409 and len(mailoutbox) == 1


def test_quota_limit_is_changed_through_the_quotaholder(admin_client, admin, people):
    ada = people["active"]
    url = f"/admin/users/{ada.pk}/quota"
    assert post(admin_client, url, {"resource": "pithos.diskspace", "limit": "20G"}).status_code == 303
    holding = Holding.objects.get(holder=f"user:{ada.uuid}", source=f"project:{ada.uuid}", resource__name="pithos.diskspace")
    assert holding.limit == 20 * 1024**3
    entry = _last_entry()
    assert entry.action == "quota.set_limit" and entry.actor == admin and entry.target == ada
    assert entry.detail == {"resource": "pithos.diskspace", "old": "default", "new": "20G"}
    page = admin_client.get(f"/admin/users/{ada.pk}").content.decode()
    assert re.search(r'data-resource="pithos.diskspace">.*?<td class="limit">20G<', page, re.S)
    assert post(admin_client, url, {"resource": "cyclades.vm", "limit": "inf"}).status_code == 303
    assert Holding.objects.get(holder=f"user:{ada.uuid}", resource__name="cyclades.vm").limit == UNLIMITED
    assert post(admin_client, url, {"resource": "pithos.diskspace", "limit": "default"}).status_code == 303
    holding.refresh_from_db()
    assert holding.limit is None and _last_entry().detail["old"] == "20G"


@pytest.mark.parametrize(
    "data",
    [
        {"resource": "cyclades.vm", "limit": "lots"},
        {"resource": "cyclades.vm", "limit": "-3"},
        {"resource": "cyclades.vm", "limit": ""},
        {"resource": "cyclades.vm", "limit": "99999999999P"},
        {"resource": "no.such", "limit": "4"},
        {"limit": "4"},
    ],
)
def test_bad_quota_values_are_400_and_change_nothing(admin_client, people, data):
    ada = people["active"]
    r = post(admin_client, f"/admin/users/{ada.pk}/quota", data)
    assert r.status_code == 400 and b'role="alert"' in r.content
    assert not Holding.objects.filter(limit__isnull=False).exists() and not AuditEntry.objects.exists()


@pytest.mark.parametrize(
    "who, action, data, status",
    [
        ("pending_moderation", "reject", {}, 400),  # a reason is required
        ("pending_moderation", "reject", {"reason": "   "}, 400),
        ("active", "deactivate", {}, 400),
        ("active", "deactivate", {"reason": "x" * 1001}, 400),
        ("active", "activate", {}, 409),  # already active
        ("active", "accept", {}, 409),
        ("active", "reject", {"reason": "late"}, 409),  # accepted: deactivate instead
        ("rejected", "reject", {"reason": "again"}, 409),
        ("pending_verification", "activate", {}, 409),  # email not verified
        ("pending_moderation", "activate", {}, 409),  # not accepted
        ("active", "verify", {}, 409),
        ("inactive", "deactivate", {"reason": "x"}, 409),
        ("active", "unset-admin", {}, 409),
        ("active", "no-such-action", {}, 404),
    ],
)
def test_refused_actions_change_nothing(admin_client, people, who, action, data, status):
    target = people[who]
    before = state(target)
    r = post(admin_client, f"/admin/users/{target.pk}/{action}", data)
    assert r.status_code == status and b'role="alert"' in r.content
    if status != 404:
        assert f'<a href="/admin/users/{target.pk}">Back to the user</a>' in r.content.decode()
    assert state(target) == before and not AuditEntry.objects.exists()


def test_admins_cannot_lock_themselves_out(admin_client, admin):
    for action, data in [("deactivate", {"reason": "oops"}), ("unset-admin", {}), ("reject", {"reason": "x"})]:
        assert post(admin_client, f"/admin/users/{admin.pk}/{action}", data).status_code == 409
    assert User.objects.get(pk=admin.pk).is_superuser and admin_client.get(ADMIN).status_code == 200


def test_unknown_user_is_404(admin_client):
    for action in ACTIONS + ["quota"]:
        r = post(admin_client, f"/admin/users/424242/{action}", {"reason": "x", "resource": "cyclades.vm", "limit": "1"})
        assert r.status_code == 404, action
    assert not AuditEntry.objects.exists()


def test_actions_are_post_only(admin_client, people):
    target = people["pending_moderation"]
    assert admin_client.get(f"/admin/users/{target.pk}/accept").status_code == 405
    assert not User.objects.get(pk=target.pk).moderated


# --- audit log -----------------------------------------------------------------------------


def test_audit_log_lists_newest_first_and_filters(admin_client, admin, people, make_user):
    other_admin = make_user("second@example.org", admin=True)[0]
    post(admin_client, f"/admin/users/{people['pending_moderation'].pk}/accept")
    post(admin_client, f"/admin/users/{people['active'].pk}/deactivate", {"reason": "audit me"})
    second = Client()
    second.force_login(other_admin)
    post(second, f"/admin/users/{people['pending_verification'].pk}/verify")

    def actions(**query):
        r = admin_client.get("/admin/audit", query)
        assert r.status_code == 200
        return re.findall(r'<tr class="entry" data-action="([^"]+)"', r.content.decode())

    assert actions() == ["user.verify_email", "user.deactivate", "user.accept"]
    assert actions(actor="root@") == ["user.deactivate", "user.accept"]
    assert actions(actor="second") == ["user.verify_email"]
    assert actions(target="ada@example.org") == ["user.deactivate"]
    assert actions(target=str(people["pending_moderation"].pk)) == ["user.accept"]
    assert actions(action="user.accept") == ["user.accept"]
    assert actions(action="user") == ["user.verify_email", "user.deactivate", "user.accept"]
    assert actions(action="quota") == []
    page = admin_client.get("/admin/audit").content.decode()
    assert "reason: audit me; status: Accepted/Active → Accepted/Inactive (audit me)" in page
    assert "status: Pending email verification → Accepted/Active" in page  # verified, and no moderation
    assert admin_client.get("/admin/audit", {"page": "nope"}).status_code == 400


# --- snf-manage ----------------------------------------------------------------------------


def test_user_modify_type_admin_lets_the_user_in(make_user):
    user, password, _ = make_user("soon-admin@example.org")
    client = Client()
    assert client.login(username=user.email, password=password)
    assert client.get(ADMIN).status_code == 403
    run("user-modify", str(user.pk), "--type", "ADMIN")
    assert client.get(ADMIN).status_code == 200
    entry = _last_entry()
    assert entry.action == "user.set_admin" and entry.actor is None and entry.actor_email == "snf-manage"
    assert entry.detail["os_user"] and entry.detail["new"] == {"type": "ADMIN"}
    run("user-modify", user.email, "--type", "user")
    assert client.get(ADMIN).status_code == 403


def test_user_modify_type_bogus_is_an_error(alice):
    with pytest.raises(CommandError, match="invalid choice: 'BOGUS'"):
        run("user-modify", alice[0].email, "--type", "BOGUS")
    assert not User.objects.get(pk=alice[0].pk).is_superuser and not AuditEntry.objects.exists()


def test_user_modify_records_each_change(alice):
    user = alice[0]
    run("user-modify", user.email, "--set-inactive", "--inactive-reason", "holiday", "--renew-password")
    entries = list(AuditEntry.objects.order_by("id"))
    assert [e.action for e in entries] == ["user.deactivate", "user.set_password"]
    assert entries[0].detail["reason"] == "holiday" and entries[0].detail["new"]["status"].startswith("Accepted/Inactive")
    assert all(e.actor_email == "snf-manage" and e.target == user for e in entries)
    assert "password" not in entries[1].detail
    run("quota-modify", user.email, "--resource", "cyclades.vm", "--limit", "7")
    assert _last_entry().action == "quota.set_limit" and _last_entry().detail["new"] == "7"
    assert audit.describe(_last_entry()) == "resource: cyclades.vm; default → 7"


def test_audit_list_command(alice, admin_client, people):
    post(admin_client, f"/admin/users/{people['pending_moderation'].pk}/reject", {"reason": "bot"})
    run("user-modify", alice[0].email, "--set-inactive", "--inactive-reason", "holiday")
    out = run("audit-list", "--output-format", "csv", "-o", "actor,action,target,detail")
    lines = out.strip().splitlines()
    assert lines[0] == "actor,action,target,detail"
    assert lines[1].startswith("snf-manage,user.deactivate,alice@example.org,reason: holiday;")
    assert lines[2].startswith("root@example.org,user.reject,wait@example.org,reason: bot;")
    assert "user.reject" in run("audit-list", "--user", "wait@example.org", "--action", "user")
    assert "user.reject" not in run("audit-list", "--actor", "snf-manage")
    assert run("audit-list", "--action", "quota", "--no-headers").strip() == ""
    with pytest.raises(CommandError, match="No user"):
        run("audit-list", "--user", "nobody@example.org")


def _reload_urls():
    import importlib

    from django.urls import clear_url_caches

    import synnefo.astakos.root_urls as root_urls
    import synnefo.webproject.urls as web_urls

    importlib.reload(root_urls)
    importlib.reload(web_urls)
    clear_url_caches()


def test_admin_prefix_is_configurable(admin_client, settings):
    from django.core.exceptions import ImproperlyConfigured

    try:
        settings.ASTAKOS_ADMIN_PREFIX = "/manage/"
        _reload_urls()
        assert admin_client.get("/manage/").status_code == 200
        assert admin_client.get("/manage/audit").status_code == 200
        assert admin_client.get("/admin/").status_code == 404
        settings.ASTAKOS_ADMIN_PREFIX = "/"
        with pytest.raises(ImproperlyConfigured, match="ASTAKOS_ADMIN_PREFIX"):
            _reload_urls()
    finally:
        settings.ASTAKOS_ADMIN_PREFIX = "/admin"
        _reload_urls()
    assert admin_client.get("/admin/").status_code == 200
