"""The client services use (in-process and over HTTP) and the service-side bookkeeping that
never loses a commission (issue in the caller's transaction, resolve on commit, reconcile)."""

import pytest
from django.db import transaction

from synnefo.astakos.quotaholder import commissions, logic
from synnefo.astakos.quotaholder.client import (
    HttpClient,
    LocalClient,
    QuotaholderUnavailable,
    get_client,
    member_and_project,
)
from synnefo.astakos.quotaholder.logic import InvalidDataError, NoCapacityError, NoCommissionError, NoHoldingError
from synnefo.astakos.quotaholder.models import Resource, ServiceSerial


def usage(user, resource="cyclades.vm"):
    vm = logic.user_quotas([user.uuid])[str(user.uuid)][str(user.uuid)][resource]
    return vm["usage"], vm["pending"]


def test_member_and_project_provisions():
    assert member_and_project("u", {"cyclades.vm": 1}) == [
        {"holder": "user:u", "source": "project:u", "resource": "cyclades.vm", "quantity": 1},
        {"holder": "project:u", "source": None, "resource": "cyclades.vm", "quantity": 1},
    ]
    assert member_and_project("u", {"r.x": 2}, project="p")[1]["holder"] == "project:p"


def test_get_client_follows_the_settings(settings):
    assert isinstance(get_client("cyclades"), LocalClient)
    settings.ASTAKOS_QUOTAHOLDER_URL = "http://127.0.0.1:1/astakos/account/v1.0"
    settings.ASTAKOS_QUOTAHOLDER_TOKENS = {"cyclades": "t"}
    client = get_client("cyclades")
    assert isinstance(client, HttpClient) and client.url.endswith("/v1.0")
    with pytest.raises(QuotaholderUnavailable, match="No service token"):
        get_client("pithos")


@pytest.mark.django_db
def test_local_client(alice):
    user = alice[0]
    client = LocalClient("cyclades")
    serial = client.issue_one_commission(str(user.uuid), {"cyclades.vm": 1, "cyclades.cpu": 2}, name="vm")
    assert client.get_pending_commissions() == [serial]
    assert len(client.get_commission_info(serial)["provisions"]) == 4
    client.accept(serial)
    assert usage(user) == (1, 0)
    with pytest.raises(NoCommissionError):
        client.reject(serial)
    assert str(user.uuid) in client.service_quotas(str(user.uuid))
    with pytest.raises(InvalidDataError):  # as the HTTP API's 400
        client.service_quotas("not-a-uuid")


def exercise(client, u: str):
    """The same behaviour whichever client a service has (the HTTP one: test_quotaholder_e2e).
    Needs a user ``u`` whose cyclades.vm limit is 2 and usage 0."""
    serial = client.issue_one_commission(u, {"cyclades.vm": 2}, name="two")
    assert client.get_pending_commissions() == [serial]
    assert client.get_commission_info(serial)["name"] == "two"
    with pytest.raises(NoCapacityError) as failure:
        client.issue_one_commission(u, {"cyclades.vm": 1})
    assert failure.value.data["limit"] == 2 and failure.value.data["name"] == "NoCapacityError"
    with pytest.raises(NoHoldingError):
        client.issue_one_commission(u, {"cyclades.nosuch": 1})
    with pytest.raises(InvalidDataError):
        client.issue_commission([{"holder": 1}])
    result = client.resolve_commissions(accept=[serial], reject=[987654])
    assert result["accepted"] == [serial] and result["rejected"] == []
    assert result["failed"][0][0] == 987654 and isinstance(result["failed"][0][1], NoCommissionError)
    with pytest.raises(NoCommissionError):
        client.get_commission_info(serial)
    quota = client.service_quotas(u)[u][u]["cyclades.vm"]
    assert (quota["usage"], quota["pending"]) == (2, 0)


@pytest.mark.django_db
def test_local_client_behaviour(alice):
    logic.set_base_limit(str(alice[0].uuid), Resource.objects.get(name="cyclades.vm"), 2)
    exercise(LocalClient("cyclades"), str(alice[0].uuid))


# --- never lose a commission ------------------------------------------------------------------


@pytest.mark.django_db
def test_issue_resolves_after_the_callers_commit(alice, django_capture_on_commit_callbacks):
    user = alice[0]
    provisions = member_and_project(str(user.uuid), {"cyclades.vm": 1})
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            serial = commissions.issue("cyclades", provisions, name="create")
            assert ServiceSerial.objects.get(serial=serial).accept is True
            assert usage(user) == (1, 1)  # pending until the commit
    assert usage(user) == (1, 0)
    assert ServiceSerial.objects.get(serial=serial).resolved


@pytest.mark.django_db
def test_a_rolled_back_caller_leaves_nothing_in_process(alice, django_capture_on_commit_callbacks):
    user = alice[0]
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError):
            with transaction.atomic():
                commissions.issue("cyclades", member_and_project(str(user.uuid), {"cyclades.vm": 1}))
                raise RuntimeError("the service's own work failed")
    assert callbacks == []
    assert usage(user) == (0, 0) and logic.pending_serials("cyclades") == []
    assert not ServiceSerial.objects.exists()


@pytest.mark.django_db
def test_quota_refusal_records_nothing(alice):
    user = alice[0]
    logic.set_base_limit(str(user.uuid), Resource.objects.get(name="cyclades.vm"), 0)
    with pytest.raises(NoCapacityError):
        with transaction.atomic():
            commissions.issue("cyclades", member_and_project(str(user.uuid), {"cyclades.vm": 1}))
    assert not ServiceSerial.objects.exists()


@pytest.mark.django_db
def test_reconcile_finishes_decisions_lost_in_a_crash_and_rejects_orphans(alice):
    user = alice[0]
    u = str(user.uuid)
    # Crash after commit: decided, recorded, never resolved (no on-commit hook ran).
    kept = commissions.issue("cyclades", member_and_project(u, {"cyclades.vm": 1}))
    dropped = commissions.issue("cyclades", member_and_project(u, {"cyclades.vm": 1}), accept=None)
    commissions.decide("cyclades", dropped, accept=False)
    undecided = commissions.issue("cyclades", member_and_project(u, {"cyclades.cpu": 1}), accept=None)
    # Issued over HTTP by a transaction that then rolled back: pending, unknown locally.
    orphan = logic.issue_commission("cyclades", member_and_project(u, {"cyclades.vm": 1}))
    report = commissions.reconcile("cyclades", grace=3600)
    assert report["accept"] == [kept] and report["reject"] == [dropped] and report["undecided"] == [undecided]
    assert report["young"] == [orphan] and report["orphan"] == []
    assert len(logic.pending_serials("cyclades")) == 4  # no --fix, no change
    report = commissions.reconcile("cyclades", fix=True, grace=0)
    assert report["orphan"] == [orphan] and report["failed"] == []
    assert logic.pending_serials("cyclades") == [undecided]
    assert usage(user) == (1, 0)
    assert set(ServiceSerial.objects.filter(resolved=True).values_list("serial", flat=True)) == {kept, dropped}
    # Resolved elsewhere (e.g. the answer to resolve_pending was lost): marked resolved.
    logic.resolve_one("cyclades", undecided, accept=True)
    report = commissions.reconcile("cyclades", fix=True)
    assert report["already_resolved"] == [undecided]
    assert not ServiceSerial.objects.filter(resolved=False).exists()
    with pytest.raises(NoCommissionError):
        commissions.decide("cyclades", undecided, accept=True)


@pytest.mark.django_db
def test_a_failed_resolution_after_commit_is_logged_and_left_for_reconcile(alice, django_capture_on_commit_callbacks, caplog):
    class Down(LocalClient):
        def resolve_commissions(self, accept=(), reject=()):
            raise QuotaholderUnavailable("down")

    user = alice[0]
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            serial = commissions.issue("cyclades", member_and_project(str(user.uuid), {"cyclades.vm": 1}), client=Down("cyclades"))
    assert "reconcile-commissions will finish it" in caplog.text
    assert not ServiceSerial.objects.get(serial=serial).resolved
    commissions.resolve_pending("cyclades")
    assert ServiceSerial.objects.get(serial=serial).resolved and usage(user) == (1, 0)
