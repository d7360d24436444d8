"""Resource pools (SYNNEFO.md 4.4): value mapping, reservations, shrink/extend, the pool-*
commands, and the property that no value is ever handed out twice, under concurrency too."""

import io
import threading

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, connections
from hypothesis import HealthCheck, given, settings, strategies as st

from synnefo.cyclades.logic import pools
from synnefo.cyclades.models import BridgePoolTable, MacPrefixPoolTable


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def memory_pool(size: int) -> pools.BridgePool:
    """A bridge pool that lives only in memory (for the pure property tests)."""
    pool = pools.BridgePool(BridgePoolTable(id=1, size=size, base="prv"))
    pool.available = pool.reserved = (1 << size) - 1
    return pool


# -- value mapping ------------------------------------------------------------------------

@pytest.mark.django_db
def test_bridge_pool_gives_prv1_to_prv20_then_says_exhausted():
    out = run("pool-create", "--type=bridge", "--base=prv", "--size=20")
    assert "prv1..prv20" in out
    with pools.locked("bridge") as pool:
        got = [pool.get() for _ in range(20)]
    assert got == [f"prv{i}" for i in range(1, 21)]
    with pytest.raises(pools.PoolExhausted, match="exhausted"):
        with pools.locked("bridge") as pool:
            pool.get()
    with pools.locked("bridge") as pool:
        pool.put("prv7")
        assert pool.get() == "prv7"
        with pytest.raises(pools.InvalidValue):
            pool.get("prv21")
        with pytest.raises(pools.InvalidValue):
            pool.get("br3")


@pytest.mark.django_db
def test_mac_prefix_pool_reserves_index_0_multicast_and_global_prefixes():
    run("pool-create", "--type=mac-prefix", "--base=aa:00:0", "--size=65536")
    pool = pools.load("mac-prefix", MacPrefixPoolTable.objects.get().id)
    assert pool.index_to_value(0) == "aa:00:0" and pool.index_to_value(1) == "aa:00:1"
    assert pool.index_to_value(65535) == "b9:ff:f"
    # First octets aa..b9 of which only aa, ae, b2, b6 are unicast and locally administered;
    # 4096 prefixes each, minus index 0.
    assert pool.count_available() == 4 * 4096 - 1
    assert not pool.is_available("aa:00:0")
    assert not pool.is_available("ab:00:0") and not pool.is_available("ac:12:3")
    assert pool.is_available("ae:00:0") and pool.is_available("b6:ff:f")
    with pools.locked("mac-prefix") as locked:
        got = [locked.get() for _ in range(3)]
    assert got == ["aa:00:1", "aa:00:2", "aa:00:3"]
    with pools.locked("mac-prefix") as locked:
        locked.get("aa:ff:f")
        locked.get("ae:00:0")
    with pytest.raises(pools.ValueNotAvailable):
        with pools.locked("mac-prefix") as locked:
            locked.get("ab:00:1")  # multicast: reserved


@pytest.mark.django_db
def test_ip_pool_reserves_network_broadcast_and_gateway():
    pool = pools.create_ip_pool("192.168.1.0/24", "192.168.1.0", "192.168.1.255", gateway="192.168.1.1")
    assert pool.size == 256 and pool.count_available() == 253
    with pools.locked("ip", pool.row.id) as locked:
        assert locked.get() == "192.168.1.2"
        locked.get("192.168.1.254")
        for bad in ("192.168.1.255", "192.168.1.0", "192.168.1.1"):
            with pytest.raises(pools.ValueNotAvailable):
                locked.get(bad)
        with pytest.raises(pools.InvalidValue):
            locked.get("10.0.0.1")
    # A range inside the subnet: offset = start - network, so index 0 is the range's start.
    part = pools.create_ip_pool("10.0.0.0/24", "10.0.0.100", "10.0.0.109", gateway="10.0.0.1")
    assert (part.row.offset, part.size, part.count_available()) == (100, 10, 10)
    assert part.index_to_value(0) == "10.0.0.100" and part.value_to_index("10.0.0.109") == 9
    with pytest.raises(pools.PoolError, match="not inside"):
        pools.create_ip_pool("10.0.0.0/24", "10.0.1.1", "10.0.1.9")


# -- commands -----------------------------------------------------------------------------

@pytest.mark.django_db
def test_pool_commands_list_show_modify_remove():
    run("pool-create", "--type=bridge", "--base=prv", "--size=20")
    pool_id = str(BridgePoolTable.objects.get().id)
    with pytest.raises(CommandError, match="already exists"):
        run("pool-create", "--type=bridge", "--base=br", "--size=5")
    out = run("pool-modify", pool_id, "--type=bridge", "--add-reserved=prv3,prv4")
    assert "18 free" in out and "2 reserved" in out
    shown = run("pool-show", pool_id, "--type=bridge")
    assert "reserved externally: 2" in shown
    assert "      0 ..XX................" in shown  # the combined map
    listed = run("pool-list")
    assert "prv" in listed and "bridge" in listed
    run("pool-modify", pool_id, "--type=bridge", "--remove-reserved=prv3")
    with pools.locked("bridge") as pool:
        assert pool.get() == "prv1"
    # Shrinking keeps allocated values; the tail being free it works, else it is refused.
    run("pool-modify", pool_id, "--type=bridge", "--size=10")
    with pools.locked("bridge") as pool:
        pool.get("prv8")
    with pytest.raises(CommandError, match="in use"):
        run("pool-modify", pool_id, "--type=bridge", "--size=5")
    with pytest.raises(CommandError, match="size 10 by 10"):
        run("pool-modify", pool_id, "--type=bridge", "--size=0")
    run("pool-modify", pool_id, "--type=bridge", "--size=30")
    assert pools.load("bridge", pool_id).index_to_value(29) == "prv30"
    with pytest.raises(CommandError, match="in use"):
        run("pool-remove", pool_id, "--type=bridge")
    with pools.locked("bridge") as pool:
        pool.put("prv1")
        pool.put("prv8")
    run("pool-remove", pool_id, "--type=bridge")
    assert not BridgePoolTable.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("args, message", [
    (("--type=bridge", "--base=prv", "--size=0"), "size"),
    (("--type=bridge", "--base=p v", "--size=3"), "bridge name"),
    (("--type=mac-prefix", "--base=zz:00:0", "--size=3"), "MAC prefix"),
    (("--type=mac-prefix", "--base=ff:ff:f", "--size=3"), "runs past"),
])
def test_pool_create_refuses_bad_input_and_creates_nothing(args, message):
    with pytest.raises(CommandError, match=message):
        run("pool-create", *args)
    assert not BridgePoolTable.objects.exists() and not MacPrefixPoolTable.objects.exists()


@pytest.mark.django_db
def test_a_failed_pool_modify_changes_nothing():
    run("pool-create", "--type=bridge", "--base=prv", "--size=5")
    pool_id = str(BridgePoolTable.objects.get().id)
    before = BridgePoolTable.objects.values().get()
    with pytest.raises(CommandError, match="not a value"):
        run("pool-modify", pool_id, "--type=bridge", "--add-reserved=prv1,prv9")
    with pytest.raises(CommandError, match="not reserved"):
        run("pool-modify", pool_id, "--type=bridge", "--remove-reserved=prv2")
    with pytest.raises(CommandError, match="No bridge pool"):
        run("pool-show", "77", "--type=bridge")
    assert BridgePoolTable.objects.values().get() == before


# -- properties ---------------------------------------------------------------------------

operations = st.lists(st.one_of(
    st.tuples(st.just("get"), st.none()),
    st.tuples(st.just("get"), st.integers(0, 40)),
    st.tuples(st.just("put"), st.integers(0, 40)),
    st.tuples(st.just("reserve"), st.integers(0, 40)),
    st.tuples(st.just("unreserve"), st.integers(0, 40)),
    st.tuples(st.just("resize"), st.integers(1, 40)),
), max_size=80)


@given(size=st.integers(1, 40), ops=operations)
def test_no_value_is_handed_out_twice_and_failures_change_nothing(size, ops):
    pool = memory_pool(size)
    held: set[str] = set()
    external: set[str] = set()
    for op, arg in ops:
        value = None if arg is None else f"prv{arg + 1}"
        before = (pool.size, pool.available, pool.reserved)
        free = {f"prv{i + 1}" for i in range(pool.size)} - held - external
        try:
            if op == "get":
                got = pool.get(value)
                assert got in free and got not in held
                held.add(got)
            elif op == "put":
                pool.put(value)
                held.remove(value)
            elif op == "reserve":
                pool.reserve(value)
                assert arg < pool.size
                external.add(value)
            elif op == "unreserve":
                pool.put(value, external=True)
                external.remove(value)
            else:
                pool.resize(arg)
                assert all(int(v[3:]) <= arg for v in held)
                external = {v for v in external if int(v[3:]) <= arg}
        except pools.PoolError as error:
            assert (pool.size, pool.available, pool.reserved) == before
            if isinstance(error, pools.PoolExhausted):
                assert not free
        assert pool.count_available() == pool.size - len(held | external)


def _pg_only():
    if connection.vendor != "postgresql":
        # Not a missing service: this pass runs on SQLite by design; the PostgreSQL pass runs it.
        pytest.skip("runs in the PostgreSQL pass (row locks across connections)")


@pytest.mark.django_db(transaction=True)
@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(threads=st.integers(2, 6), size=st.integers(1, 30))
def test_concurrent_allocators_never_share_a_value(threads, size):
    _pg_only()
    BridgePoolTable.objects.all().delete()
    pools.create_pool("bridge", "prv", size)
    start = threading.Barrier(threads)
    got, refused, errors = [], [], []

    def allocate():
        try:
            start.wait()
            while True:
                try:
                    with pools.locked("bridge") as pool:
                        got.append(pool.get())
                except pools.PoolExhausted:
                    refused.append(1)
                    return
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    workers = [threading.Thread(target=allocate) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert not errors
    assert sorted(got, key=lambda v: int(v[3:])) == [f"prv{i}" for i in range(1, size + 1)]
    assert len(refused) == threads
    assert pools.load("bridge", BridgePoolTable.objects.get().id).count_available() == 0


@pytest.mark.django_db
def test_an_error_inside_a_locked_block_allocates_nothing():
    pools.create_pool("bridge", "prv", 3)
    with pytest.raises(pools.PoolExhausted):
        with pools.locked("bridge") as pool:
            for _ in range(4):  # one more than there is: none of the three is kept
                pool.get()
    assert pools.load("bridge", BridgePoolTable.objects.get().id).count_available() == 3
