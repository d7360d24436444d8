"""snf-manage commands of the quotaholder: components, resources, quotas, commissions, reconcile."""

import io
import json

import pytest
from django.core.management import CommandError, call_command

from synnefo.astakos.quotaholder import commissions, logic, service_tokens
from synnefo.astakos.quotaholder.client import member_and_project
from synnefo.astakos.quotaholder.models import UNLIMITED, Component, Holding, Resource, ServiceSerial

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_component_lifecycle():
    out = run("component-add", "cyclades", "--url", "https://example.org/cyclades/ui")
    token = out.split("token: ")[1].split()[0]
    assert service_tokens.component_for_token(token).name == "cyclades"
    with pytest.raises(CommandError, match="already exists"):
        run("component-add", "cyclades")
    with pytest.raises(CommandError):
        run("component-add", "two words")
    listing = json.loads(run("component-list", "--output-format", "json"))
    assert listing[0]["name"] == "cyclades" and listing[0]["token_expires"] == "never"
    shown = run("component-show", "cyclades")
    assert "cyclades.vm" in shown and token not in shown
    new = run("component-modify", "cyclades", "--renew-token", "--url", "https://x/ui").split("token: ")[1].split()[0]
    assert service_tokens.component_for_token(token) is None
    assert service_tokens.component_for_token(new).url == "https://x/ui"
    with pytest.raises(CommandError, match="Nothing to do"):
        run("component-modify", "cyclades")
    with pytest.raises(CommandError, match="No component"):
        run("component-show", "nosuch")
    run("component-remove", "cyclades")
    assert service_tokens.component_for_token(new) is None and not Component.objects.exists()


def test_component_token_expiry():
    out = run("component-add", "pithos", "--expires-days", "3")
    assert Component.objects.get(name="pithos").token_expires is not None
    assert service_tokens.component_for_token(out.split("token: ")[1].split()[0]) is not None


def test_resource_list_and_modify(alice):
    user = alice[0]
    table = run("resource-list")
    assert "cyclades.vm" in table and "pithos.diskspace" in table and "20G" in table
    data = json.loads(run("resource-list", "--output-format", "json", "--filter-by", "service=pithos"))
    assert [r["name"] for r in data] == ["pithos.diskspace"]
    assert "10G" in run("resource-modify", "pithos.diskspace", "--system-default", "10G")
    assert Resource.objects.get(name="pithos.diskspace").uplimit == 10 * 1024**3
    run("resource-modify", "cyclades.vm", "--default-quota", "inf", "--project-default", "1", "--ui-visible", "false")
    vm = Resource.objects.get(name="cyclades.vm")
    assert (vm.uplimit, vm.project_default, vm.ui_visible) == (UNLIMITED, 1, False)
    # Every user not set by hand follows the new default at once.
    assert logic.user_quotas([user.uuid])[str(user.uuid)][str(user.uuid)]["pithos.diskspace"]["limit"] == 10 * 1024**3
    for bad in (["nosuch", "--system-default", "1"], ["cyclades.vm"], ["cyclades.vm", "--system-default", "-1"],
                ["cyclades.vm", "--system-default", "lots"], ["cyclades.vm", "--api-visible", "maybe"]):
        with pytest.raises(CommandError):
            run("resource-modify", *bad)


def test_resource_import(tmp_path):
    path = tmp_path / "res.json"
    path.write_text(json.dumps([{"name": "archipelago.volume", "service_origin": "archipelago", "unit": "bytes", "uplimit": 5}]))
    assert "created: archipelago.volume" in run("resource-import", str(path))
    Resource.objects.filter(name="archipelago.volume").update(uplimit=9)
    path.write_text(json.dumps({"archipelago.volume": {"service_origin": "archipelago", "uplimit": 1, "description": "d"}}))
    assert "updated: archipelago.volume" in run("resource-import", str(path))
    r = Resource.objects.get(name="archipelago.volume")
    assert (r.uplimit, r.description) == (9, "d")  # limits belong to the operator
    path.write_text(json.dumps({"good.one": {"service_origin": "x"}, "Bad Name": {"service_origin": "x"}}))
    with pytest.raises(CommandError, match="Bad resource name"):
        run("resource-import", str(path))
    assert not Resource.objects.filter(name="good.one").exists()  # all or nothing
    for content in ("not json", json.dumps({"a.b": {"service_origin": "x", "color": 1}}), json.dumps({"a.b": {}})):
        path.write_text(content)
        with pytest.raises(CommandError):
            run("resource-import", str(path))
    with pytest.raises(CommandError):
        run("resource-import", str(tmp_path / "missing.json"))
    assert "created: -" in run("resource-import", "--builtin")


def test_quota_modify_and_list(make_user):
    a, _, _ = make_user("a@example.org")
    b, _, _ = make_user("b@example.org")
    assert "limit 6" in run("quota-modify", "a@example.org", "--resource", "cyclades.vm", "--limit", "6")
    run("quota-modify", str(b.uuid), "--resource", "pithos.diskspace", "--limit", "1G")
    logic.issue_commission("cyclades", member_and_project(str(a.uuid), {"cyclades.vm": 2}))
    rows = json.loads(run("quota-list", "--output-format", "json", "--resource", "cyclades.vm", "-o", "email,resource,limit,usage,pending,default"))
    assert {"email": "a@example.org", "resource": "cyclades.vm", "limit": "6", "usage": "2", "pending": "2", "default": False} in rows
    assert {r["email"] for r in rows} == {"a@example.org", "b@example.org"}
    raw = json.loads(run("quota-list", "--output-format", "json", "--user", "b@example.org", "--unit-style", "raw",
                         "--filter-by", "resource=pithos.diskspace"))
    assert len(raw) == 1 and raw[0]["limit"] == 1024**3
    assert "1G" in run("quota-list", "--user", "b@example.org", "--resource", "pithos.diskspace")
    # Lowering a limit below usage shows up with --overlimit.
    run("quota-modify", "a@example.org", "--resource", "cyclades.vm", "--limit", "1")
    over = json.loads(run("quota-list", "--overlimit", "--output-format", "json", "-o", "email,resource"))
    assert over == [{"email": "a@example.org", "resource": "cyclades.vm"}]
    run("quota-modify", "a@example.org", "--resource", "cyclades.vm", "--default")
    assert Holding.objects.get(holder=f"user:{a.uuid}", resource__name="cyclades.vm").limit is None
    for bad in (["nobody@example.org", "--resource", "cyclades.vm", "--limit", "1"],
                ["a@example.org", "--resource", "nosuch", "--limit", "1"],
                ["a@example.org", "--resource", "cyclades.vm", "--limit", "x"]):
        with pytest.raises(CommandError):
            run("quota-modify", *bad)
    with pytest.raises(CommandError):
        run("quota-list", "--user", "nobody@example.org")


def test_commission_list_and_show(alice):
    u = str(alice[0].uuid)
    serial = logic.issue_commission("cyclades", member_and_project(u, {"cyclades.vm": 1}), name="create vm")
    logic.issue_commission("pithos", member_and_project(u, {"pithos.diskspace": 10}))
    rows = json.loads(run("commission-list", "--output-format", "json"))
    assert [r["issuer"] for r in rows] == ["cyclades", "pithos"] and rows[0]["provisions"] == 2
    assert [r["serial"] for r in json.loads(run("commission-list", "--issuer", "cyclades", "--output-format", "json"))] == [serial]
    shown = run("commission-show", str(serial))
    assert "create vm" in shown and f"user:{u}" in shown and "issuer: cyclades" in shown
    assert json.loads(run("commission-show", str(serial), "--output-format", "json"))["provisions"][0]["quantity"] == 1
    with pytest.raises(CommandError, match="No pending commission"):
        run("commission-show", "999999")


def test_reconcile_commissions(alice):
    u = str(alice[0].uuid)
    kept = commissions.issue("cyclades", member_and_project(u, {"cyclades.vm": 1}))  # decided, never resolved
    orphan = logic.issue_commission("cyclades", member_and_project(u, {"cyclades.vm": 1}))
    out = run("reconcile-commissions", "--grace", "0")
    assert f"accept: {kept} (to do" in out and f"never committed by the service: {orphan}" in out
    assert len(logic.pending_serials("cyclades")) == 2
    run("reconcile-commissions", "--fix", "--grace", "0", "--component", "cyclades")
    assert logic.pending_serials("cyclades") == []
    assert ServiceSerial.objects.get(serial=kept).resolved
    vm = logic.user_quotas([u])[u][u]["cyclades.vm"]
    assert (vm["usage"], vm["pending"]) == (1, 0)
    with pytest.raises(CommandError):
        run("reconcile-commissions", "--grace", "-1")
