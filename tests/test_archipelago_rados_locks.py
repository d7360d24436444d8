"""Archipelago's volume locks in RADOS (``<volume>_lock`` objects) on the real Ceph sandbox."""

import json
import secrets
import threading

import pytest

from synnefo.archipelago.locks import LockError, RadosLocks
from tests.ceph_helpers import ceph, rados_pool  # noqa: F401


@pytest.fixture
def io(ceph, rados_pool):  # noqa: F811
    from synnefo.common.radosclient import ioctx

    return ioctx(ceph["CEPH_CONF"], rados_pool)


@pytest.fixture
def volume():
    return f"vol-{secrets.token_hex(4)}"


def test_a_lock_is_the_object_volume_lock_naming_its_owner(io, volume):
    locks = RadosLocks(io)
    assert locks.get(volume) is None
    assert locks.acquire(volume, "host1/blockerm", "lock") is True
    record = json.loads(io.read(f"{volume}_lock"))
    assert record["owner"] == "host1/blockerm" and record["kind"] == "lock"
    assert locks.get(volume).owner == "host1/blockerm"


def test_the_owner_takes_it_again_anyone_else_is_refused(io, volume):
    locks = RadosLocks(io)
    assert locks.acquire(volume, "host1/blockerm")
    assert locks.acquire(volume, "host1/blockerm") is False  # idempotent for its owner
    with pytest.raises(LockError, match="locked by host1/blockerm"):
        locks.acquire(volume, "host2/blockerm")
    with pytest.raises(LockError, match="locked by host1/blockerm"):
        locks.check(volume, "host2/blockerm")
    locks.check(volume, "host2/blockerm", also=("host1/blockerm",))
    assert locks.get(volume).owner == "host1/blockerm"  # nothing changed


def test_release_by_owner_and_forced_break(io, volume):
    locks = RadosLocks(io)
    locks.acquire(volume, "host1/blockerm")
    with pytest.raises(LockError, match="use -f"):
        locks.release(volume, "host2/blockerm")
    assert locks.get(volume) is not None
    assert locks.release(volume, "host2/blockerm", force=True).owner == "host1/blockerm"
    assert locks.get(volume) is None
    with pytest.raises(LockError, match="not locked"):
        locks.release(volume, "host1/blockerm")
    assert locks.acquire(volume, "host2/blockerm")  # free again


def test_take_over_rewrites_only_the_owners_lock(io, volume):
    locks = RadosLocks(io)
    with pytest.raises(LockError, match="not locked by"):
        locks.take_over(volume, "host1/vlmcd")
    locks.acquire(volume, "host1/vlmcd")
    version_before = locks._read(volume)[1]
    locks.take_over(volume, "host1/vlmcd")
    assert locks._read(volume)[1] != version_before and locks.get(volume).owner == "host1/vlmcd"
    with pytest.raises(LockError):
        locks.take_over(volume, "host2/vlmcd")


def test_one_of_many_concurrent_acquirers_wins(io, volume):
    results = []

    def contend(owner):
        try:
            results.append((owner, RadosLocks(io).acquire(volume, owner)))
        except LockError:
            results.append((owner, None))

    threads = [threading.Thread(target=contend, args=(f"host{i}/blockerm",)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [owner for owner, taken in results if taken]
    assert len(winners) == 1 and RadosLocks(io).get(volume).owner == winners[0]


def test_the_mutex_serialises_read_modify_writes(io, volume):
    """Threads each add 1 to a counter object under the mutex: no update is lost."""
    counter = f"{volume}_counter"
    io.write_full(counter, b"0")

    def add(times):
        locks = RadosLocks(io)
        for _ in range(times):
            with locks.mutex(volume):
                io.write_full(counter, str(int(io.read(counter)) + 1).encode())

    threads = [threading.Thread(target=add, args=(15,)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert int(io.read(counter)) == 60
