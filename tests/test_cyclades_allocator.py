"""The backend allocator: filters, load score, per-user override, stale statistics, strategy."""

import datetime
from unittest import mock

import pytest
from django.test import override_settings
from django.utils import timezone

from synnefo.cyclades.ganeti.rapi import GanetiConnectionError
from synnefo.cyclades.logic import allocator
from synnefo.cyclades.logic.allocator import NoAvailableBackend, VMRequest, allocate_backend, backend_score
from synnefo.cyclades.models import Backend


def make(name, mfree=8000, mtotal=16000, dfree=500_000, dtotal=1_000_000, pinst_cnt=0, ctotal=8, **kw):
    kw.setdefault("disk_templates", ["file", "drbd", "ext"])
    kw.setdefault("updated", timezone.now())
    return Backend.objects.create(clustername=name, mfree=mfree, mtotal=mtotal, dfree=dfree, dtotal=dtotal,
                                  pinst_cnt=pinst_cnt, ctotal=ctotal, **kw)


def vm(**kw):
    return VMRequest(**{"ram": 1024, "disk": 10_240, "cpu": 2, "disk_template": "file", "userid": "u1", **kw})


def test_score_matches_upstream_formula():
    b = Backend(mfree=4000, mtotal=16000, dfree=250, dtotal=1000, pinst_cnt=2, ctotal=4)
    assert backend_score(b) == pytest.approx(0.5 * (3 * 4) / (4 * 3) + 0.5 * (0.75 + 0.75))
    assert backend_score(Backend(mtotal=0, dtotal=0, ctotal=0, pinst_cnt=0)) == 0.5


@pytest.mark.django_db
def test_least_loaded_online_undrained_backend_with_the_template_wins():
    make("busy", mfree=1000)
    idle = make("idle", mfree=15000)
    make("drained", mfree=16000, drained=True)
    make("offline", mfree=16000, offline=True)
    make("no-template", mfree=16000, disk_templates=["diskless"])
    make("private", mfree=16000, public=False)
    chosen = allocate_backend(vm())
    assert chosen.id == idle.id
    idle.refresh_from_db()
    assert (idle.mfree, idle.dfree, idle.pinst_cnt) == (15000 - 1024, 500_000 - 10_240, 1)


@pytest.mark.django_db
def test_ext_templates_and_drbd_doubling():
    make("a", disk_templates=["ext"])
    assert allocate_backend(vm(disk_template="ext_archipelago")).clustername == "a"
    b = make("b", disk_templates=["drbd"], dfree=100_000)
    allocate_backend(vm(disk_template="drbd", disk=1000))
    b.refresh_from_db()
    assert b.dfree == 100_000 - 2000


@pytest.mark.django_db
def test_when_nothing_fits_all_candidates_stay():
    make("small", mfree=10, dfree=10)
    assert allocate_backend(vm(ram=100_000)).clustername == "small"


@pytest.mark.django_db
def test_no_backend_raises():
    make("drained", drained=True)
    with pytest.raises(NoAvailableBackend, match="No available backends"):
        allocate_backend(vm())


@pytest.mark.django_db
def test_per_user_backend_wins_even_when_drained():
    target = make("mine", drained=True, mfree=1)
    make("better", mfree=16000)
    with override_settings(BACKEND_PER_USER={"u1": "mine"}):
        assert allocate_backend(vm()).id == target.id
        assert allocate_backend(vm(userid="u2")).clustername == "better"
    with override_settings(BACKEND_PER_USER={"u1": target.id}):
        assert allocate_backend(vm()).id == target.id


@pytest.mark.django_db
def test_stale_statistics_are_refreshed_and_rapi_failure_is_tolerated():
    old = timezone.now() - datetime.timedelta(minutes=16)
    stale = make("stale", updated=old, mfree=100)
    make("fresh", mfree=8000)
    fresh_stats = {"mfree": 16000, "mtotal": 16000, "dfree": 1_000_000, "dtotal": 1_000_000, "pinst_cnt": 0, "ctotal": 64,
                   "disk_templates": ["file"], "hypervisor": "kvm", "cluster_name": "stale"}
    with mock.patch("synnefo.cyclades.logic.backends.read_status", return_value=fresh_stats) as read:
        assert allocate_backend(vm()).id == stale.id
    assert read.call_count == 1
    stale.updated = old
    stale.save()
    with mock.patch("synnefo.cyclades.logic.backends.read_status", side_effect=GanetiConnectionError("down")):
        allocate_backend(vm())  # old numbers used, no exception


class FirstBackend(allocator.AllocatorBase):
    def allocate(self, backends, vm):
        return backends[0] if backends else None


@pytest.mark.django_db
def test_pluggable_strategy_and_many_backends():
    first = make("b0000", mfree=1)
    for i in range(1, 40):
        make(f"b{i:04d}")
    with override_settings(BACKEND_ALLOCATOR_MODULE="tests.test_cyclades_allocator.FirstBackend"):
        assert allocate_backend(vm()).id == first.id
    assert Backend.objects.count() == 40  # no 16-backend limit
