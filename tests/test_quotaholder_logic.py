"""The quotaholder's algorithm: two-phase commissions over holdings (SYNNEFO.md 2.2)."""

import multiprocessing
import random
import uuid

import pytest
from django.db import connection, connections
from hypothesis import HealthCheck, given, settings, strategies as st

from synnefo.astakos.quotaholder import logic
from synnefo.astakos.quotaholder.logic import (
    InvalidDataError,
    NoCapacityError,
    NoCommissionError,
    NoHoldingError,
    NoQuantityError,
)
from synnefo.astakos.quotaholder.models import UNLIMITED, Holding, ProvisionLog, Resource
from synnefo.astakos.quotaholder.resources import BUILTIN, parse_quantity, show_quantity

pytestmark = pytest.mark.django_db


def vm(user, quantity, resource="cyclades.vm"):
    """Upstream's pair of provisions: the member's and its base project's."""
    u = str(user.uuid)
    return [
        {"holder": f"user:{u}", "source": f"project:{u}", "resource": resource, "quantity": quantity},
        {"holder": f"project:{u}", "source": None, "resource": resource, "quantity": quantity},
    ]


def member(user, resource="cyclades.vm"):
    u = str(user.uuid)
    return Holding.objects.get(holder=f"user:{u}", source=f"project:{u}", resource__name=resource)


def set_limit(user, limit, resource="cyclades.vm"):
    logic.set_base_limit(str(user.uuid), Resource.objects.get(name=resource), limit)


def test_builtin_resources_are_registered_with_their_defaults():
    names = set(Resource.objects.values_list("name", flat=True))
    assert set(BUILTIN) <= names
    assert Resource.objects.get(name="cyclades.vm").uplimit == BUILTIN["cyclades.vm"]["uplimit"]
    assert Resource.objects.get(name="pithos.diskspace").unit == "bytes"


def test_holdings_are_created_on_first_use_from_the_system_default(alice):
    user = alice[0]
    assert not Holding.objects.filter(holder=f"user:{user.uuid}").exists()
    serial = logic.issue_commission("cyclades", vm(user, 1))
    assert serial > 0
    h = member(user)
    assert (h.limit, h.effective_limit(), h.usage_min, h.usage_max) == (None, BUILTIN["cyclades.vm"]["uplimit"], 0, 1)
    # Every resource of the base project, for the member and for the project.
    assert Holding.objects.filter(holder=f"user:{user.uuid}").count() == Resource.objects.count()
    assert Holding.objects.filter(holder=f"project:{user.uuid}", source="").count() == Resource.objects.count()


def test_builtin_resources_come_back_when_missing(alice):
    Resource.objects.all().delete()  # as a test flush leaves the table
    logic.issue_commission("cyclades", vm(alice[0], 1))
    assert set(BUILTIN) <= set(Resource.objects.values_list("name", flat=True))


def test_missing_holdings_and_unknown_resources_are_not_found(alice):
    user = alice[0]
    with pytest.raises(NoHoldingError, match="Unknown resource"):
        logic.issue_commission("cyclades", vm(user, 1, "cyclades.nosuch"))
    stranger = uuid.uuid4()
    with pytest.raises(NoHoldingError):
        logic.issue_commission("cyclades", [{"holder": f"user:{stranger}", "source": f"project:{stranger}", "resource": "cyclades.vm", "quantity": 1}])
    # A project that is not the user's base project has no holdings.
    with pytest.raises(NoHoldingError):
        logic.issue_commission("cyclades", [{"holder": f"user:{user.uuid}", "source": f"project:{stranger}", "resource": "cyclades.vm", "quantity": 1}])
    with pytest.raises(NoHoldingError):
        logic.issue_commission("cyclades", [{"holder": "user:not-a-uuid", "source": "project:not-a-uuid", "resource": "cyclades.vm", "quantity": 1}])


@pytest.mark.parametrize(
    "provisions",
    [
        [],
        "x",
        [1],
        [{"holder": "user:x", "source": None, "resource": "cyclades.vm"}],
        [{"holder": "user:x", "source": None, "resource": "cyclades.vm", "quantity": True}],
        [{"holder": "user:x", "source": None, "resource": "cyclades.vm", "quantity": "1"}],
        [{"holder": "user:x", "source": None, "resource": "cyclades.vm", "quantity": 2**62}],
        [{"holder": "", "source": None, "resource": "cyclades.vm", "quantity": 1}],
        [{"holder": 5, "source": None, "resource": "cyclades.vm", "quantity": 1}],
        [{"holder": "user:x", "source": 3, "resource": "cyclades.vm", "quantity": 1}],
        [{"holder": "user:x", "source": None, "resource": "x" * 300, "quantity": 1}],
        [{"holder": "user:x", "source": None, "resource": "r.x", "quantity": 1}] * 2,
    ],
)
def test_malformed_provisions_are_bad_requests(provisions):
    with pytest.raises(InvalidDataError):
        logic.issue_commission("cyclades", provisions)


def test_import_past_the_limit_fails_with_the_details_and_changes_nothing(alice):
    user = alice[0]
    set_limit(user, 2)
    logic.issue_commission("cyclades", vm(user, 2))
    with pytest.raises(NoCapacityError) as failure:
        logic.issue_commission("cyclades", vm(user, 1))
    data = failure.value.data
    assert data["name"] == "NoCapacityError" and data["limit"] == 2 and data["usage"] == 2
    assert data["provision"] == vm(user, 1)[0]
    assert failure.value.code == 413 and failure.value.fault == "overLimit"
    assert (member(user).usage_min, member(user).usage_max) == (0, 2)


def test_a_failing_provision_rolls_back_the_others_of_its_commission(alice):
    user = alice[0]
    set_limit(user, 5)
    set_limit(user, 1, "cyclades.cpu")
    provisions = vm(user, 1) + vm(user, 2, "cyclades.cpu")
    with pytest.raises(NoCapacityError):
        logic.issue_commission("cyclades", provisions)
    assert member(user).usage_max == 0
    assert logic.pending_serials("cyclades") == []


def test_force_passes_the_limit_but_never_below_zero(alice):
    user = alice[0]
    set_limit(user, 1)
    logic.issue_commission("cyclades", vm(user, 3), force=True, auto_accept=True)
    assert (member(user).usage_min, member(user).usage_max) == (3, 3)
    with pytest.raises(NoQuantityError) as failure:
        logic.issue_commission("cyclades", vm(user, -4), force=True)
    assert failure.value.data["name"] == "NoQuantityError" and failure.value.data["usage"] == 3
    # Releases are allowed even over the limit, down to zero.
    logic.issue_commission("cyclades", vm(user, -3), auto_accept=True)
    assert (member(user).usage_min, member(user).usage_max) == (0, 0)


def test_accept_and_reject_follow_the_two_phases(alice):
    user = alice[0]
    set_limit(user, 10)
    a = logic.issue_commission("cyclades", vm(user, 4), name="create vm")
    h = member(user)
    assert (h.usage_min, h.usage_max) == (0, 4)
    logic.resolve_one("cyclades", a, accept=True)
    h.refresh_from_db()
    assert (h.usage_min, h.usage_max) == (4, 4)
    b = logic.issue_commission("cyclades", vm(user, -3))
    h.refresh_from_db()
    assert (h.usage_min, h.usage_max) == (1, 4)  # usage 4, pending 3
    logic.resolve_one("cyclades", b, accept=False)
    h.refresh_from_db()
    assert (h.usage_min, h.usage_max) == (4, 4)
    c = logic.issue_commission("cyclades", vm(user, -3))
    d = logic.issue_commission("cyclades", vm(user, 2))
    result = logic.resolve_commissions("cyclades", accept=[c], reject=[d])
    assert result == {"accepted": [c], "rejected": [d], "failed": []}
    h.refresh_from_db()
    assert (h.usage_min, h.usage_max) == (1, 1)
    log = ProvisionLog.objects.filter(serial=a, holder=f"user:{user.uuid}").get()
    assert (log.reason, log.delta_quantity, log.usage_min, log.usage_max, log.name) == ("accept", 4, 0, 4, "create vm")


def test_resolving_unknown_foreign_or_conflicting_serials_fails_per_serial(alice):
    user = alice[0]
    mine = logic.issue_commission("cyclades", vm(user, 1))
    other = logic.issue_commission("pithos", vm(user, 1, "pithos.diskspace"))
    result = logic.resolve_commissions("cyclades", accept=[mine, other, 999999], reject=[mine])
    failed = dict(result["failed"])
    assert set(failed) == {mine, other, 999999}
    assert isinstance(failed[mine], InvalidDataError)
    assert isinstance(failed[other], NoCommissionError) and isinstance(failed[999999], NoCommissionError)
    assert logic.pending_serials("cyclades") == [mine] and logic.pending_serials("pithos") == [other]
    with pytest.raises(NoCommissionError):
        logic.resolve_one("cyclades", other, accept=True)
    with pytest.raises(InvalidDataError):
        logic.resolve_commissions("cyclades", accept=["1"])
    logic.resolve_one("cyclades", mine, accept=True)
    with pytest.raises(NoCommissionError):  # resolved commissions are gone
        logic.resolve_one("cyclades", mine, accept=False)


def test_commission_info_and_quotas(alice):
    user = alice[0]
    set_limit(user, 7)
    serial = logic.issue_commission("cyclades", vm(user, 2), name="n")
    info = logic.commission_info("cyclades", serial)
    assert info["serial"] == serial and info["name"] == "n" and info["provisions"] == vm(user, 2)
    with pytest.raises(NoCommissionError):
        logic.commission_info("pithos", serial)
    quotas = logic.user_quotas([user.uuid])[str(user.uuid)][str(user.uuid)]
    assert quotas["cyclades.vm"] == {
        "limit": 7, "usage": 2, "pending": 2, "project_limit": 7, "project_usage": 2, "project_pending": 2
    }
    assert "astakos.pending_app" not in quotas  # not API-visible
    only_pithos = logic.user_quotas([user.uuid], "pithos")[str(user.uuid)][str(user.uuid)]
    assert list(only_pithos) == ["pithos.diskspace"]
    projects = logic.project_quotas([user.uuid])
    assert projects[str(user.uuid)]["cyclades.vm"] == {"project_limit": 7, "project_usage": 2, "project_pending": 2}


def test_system_default_applies_until_a_limit_is_set(alice):
    user = alice[0]
    logic.issue_commission("cyclades", vm(user, 1), auto_accept=True)
    Resource.objects.filter(name="cyclades.vm").update(uplimit=1)
    with pytest.raises(NoCapacityError):
        logic.issue_commission("cyclades", vm(user, 1))
    set_limit(user, 3)
    logic.issue_commission("cyclades", vm(user, 2))
    set_limit(user, None)
    assert member(user).effective_limit() == 1


def test_quantities_as_operators_write_them():
    assert parse_quantity("10") == 10
    assert parse_quantity("10G") == 10 * 1024**3
    assert parse_quantity("512MiB") == 512 * 1024**2
    assert parse_quantity("1.5k") == 1536
    assert parse_quantity("inf") == UNLIMITED
    for bad in ("", "-1", "ten", "10X", "1e3", "99999999999P"):
        with pytest.raises(ValueError):
            parse_quantity(bad)
    assert show_quantity(10 * 1024**3, "bytes") == "10G"
    assert show_quantity(UNLIMITED, "") == "inf"
    assert show_quantity(3, "") == "3"


# --- property: any sequence of operations keeps the holdings consistent -----------------------

operations = st.lists(
    st.one_of(
        st.tuples(st.just("issue"), st.integers(-6, 6), st.booleans()),
        st.tuples(st.just("resolve"), st.integers(0, 50), st.booleans()),
    ),
    max_size=30,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=operations, limit=st.integers(0, 8), final=st.lists(st.booleans(), min_size=30, max_size=30))
def test_any_sequence_of_commissions_stays_within_zero_and_the_limit(alice, ops, limit, final):
    user = alice[0]
    set_limit(user, limit)
    start = member(user)
    assert start.usage_min == start.usage_max  # nothing pending between examples
    accepted = start.usage_min
    pending: dict[int, int] = {}
    for op, value, flag in ops:
        if op == "issue":
            try:
                serial = logic.issue_commission("cyclades", vm(user, value))
                pending[serial] = value
            except (NoCapacityError, NoQuantityError):
                pass
        elif pending:
            serial = sorted(pending)[value % len(pending)]
            logic.resolve_one("cyclades", serial, accept=flag)
            quantity = pending.pop(serial)
            if flag:
                accepted += quantity
        h = member(user)
        assert 0 <= h.usage_min <= accepted <= h.usage_max
        # Imports may only be refused past the limit; a lowered limit never breaks the bounds.
        assert h.usage_max <= max(limit, start.usage_max)
    for (serial, quantity), accept in zip(sorted(pending.items()), final):
        logic.resolve_one("cyclades", serial, accept=accept)
        if accept:
            accepted += quantity
    h = member(user)
    assert h.usage_min == h.usage_max == accepted >= 0
    assert logic.pending_serials("cyclades") == []


# --- concurrency on PostgreSQL ------------------------------------------------------------------


def _worker(args):
    user_uuid, rounds, seed = args
    rng = random.Random(seed)
    provisions = [
        {"holder": f"user:{user_uuid}", "source": f"project:{user_uuid}", "resource": "cyclades.vm", "quantity": 1},
        {"holder": f"project:{user_uuid}", "source": None, "resource": "cyclades.vm", "quantity": 1},
    ]
    accepted = refused = 0
    try:
        for _ in range(rounds):
            try:
                serial = logic.issue_commission("cyclades", provisions)
            except NoCapacityError:
                refused += 1
                continue
            accept = rng.random() < 0.7
            logic.resolve_one("cyclades", serial, accept=accept)
            accepted += accept
    finally:
        connections.close_all()
    return accepted, refused


@pytest.mark.django_db(transaction=True)
def test_concurrent_processes_never_exceed_a_limit(make_user):
    if connection.vendor != "postgresql":
        # Not a missing service: this pass runs on SQLite by design; the PostgreSQL pass runs it.
        pytest.skip("runs in the PostgreSQL pass (row locks across processes)")
    user = make_user()[0]
    limit = 25
    # Creates the holdings (and the builtin resources, which an earlier transactional test's
    # flush may have removed).
    logic.issue_commission("cyclades", vm(user, 0), auto_accept=True)
    set_limit(user, limit)
    connections.close_all()  # children open their own connections
    processes, rounds = 6, 15
    with multiprocessing.get_context("fork").Pool(processes) as pool:
        results = pool.map(_worker, [(str(user.uuid), rounds, seed) for seed in range(processes)])
    accepted = sum(a for a, _ in results)
    refused = sum(r for _, r in results)
    h = member(user)
    assert h.usage_min == h.usage_max == accepted <= limit
    assert refused > 0  # the limit was actually contended
    project = Holding.objects.get(holder=f"project:{user.uuid}", source="", resource__name="cyclades.vm")
    assert project.usage_max == accepted
