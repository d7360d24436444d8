"""Archipelago volumes in RADOS (``STORAGE="rados"``) on the real Ceph sandbox: maps, writable
objects, locks and records in the pools and nothing on this node's disk, the same copy-on-write
rules as over directories (the byte-model properties), vlmcd serving a RADOS volume over NBD
(also to qemu-img), the keepers and the ExtStorage provider over RADOS."""

import json
import random
import secrets
import subprocess
import sys
import threading

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test

from synnefo.archipelago import config as archip_config
from synnefo.archipelago import keepers, mapfile, nbd, vlmcd
from synnefo.archipelago import pithos as archip_pithos
from synnefo.archipelago.locks import LockError
from synnefo.archipelago.storage import OBJECTS_NAMESPACE, RECORDS_NAMESPACE
from synnefo.archipelago.store import OpenVolume, VolumeError, VolumeStore
from tests.archip_helpers import ROOT, Vlmcd, device_support, nbd_tools, write_rados_config_file
from tests.ceph_helpers import ceph, fresh_rados_pool, rados_maps_pool, rados_pool  # noqa: F401
from tests.pithos_helpers import Store  # noqa: F401 (the imported tests use it)
# Pithos images as clone origins and snapshots as Pithos files, with both on RADOS (``volumes``).
from tests.test_archipelago_device import Node, read_device, write_device
from tests.test_archipelago_pithos import (  # noqa: F401
    test_clone_from_a_pithos_file_and_bad_origins,
    test_snapshot_is_a_pithos_object_with_the_same_bytes,
)
from tests.test_archipelago_properties import BLOCK, VolumeModel
from tests.test_archipelago_store import test_a_read_racing_a_snapshot_finds_the_frozen_block  # noqa: F401
from tests.test_pithos_rados import small_blocks  # noqa: F401

B = 1024


@pytest.fixture
def config_path(tmp_path, ceph, rados_maps_pool, rados_pool):  # noqa: F811
    return write_rados_config_file(tmp_path / "archipelago", ceph, rados_maps_pool, rados_pool, tmp_path, B,
                                   "VERBOSITY_VLMC=2\n")


@pytest.fixture
def config(config_path):
    return archip_config.load(config_path)


@pytest.fixture
def store(config):
    return VolumeStore(config, "node1/blockerm")


@pytest.fixture
def name():
    return f"vol{secrets.token_hex(4)}"


@pytest.fixture
def volumes(settings, small_blocks, fresh_rados_pool):  # noqa: F811
    """With Pithos on RADOS and no ARCHIPELAGO_CONFIG, the node's derived volume store is RADOS
    over Pithos's blocks pool (and a maps pool of this test's own: the tests use fixed names)."""
    settings.ARCHIPELAGO_CONFIG = None
    settings.ARCHIPELAGO_RADOS_POOL_MAPS = fresh_rados_pool
    store = archip_pithos.node_store("node1/blockerm")
    assert store.config.storage == "rados" and store.config.rados_pool_blocks == settings.PITHOS_RADOS_POOL_BLOCKS
    return store


def io(config, pool, namespace=""):
    from synnefo.common.radosclient import ioctx

    handle = ioctx(config.ceph_conf, pool)
    handle.set_namespace(namespace)
    return handle


def keys(handle, prefix=""):
    return sorted(obj.key for obj in handle.list_objects() if obj.key.startswith(prefix))


def test_a_missing_pool_is_refused_by_name(tmp_path, ceph, rados_pool):  # noqa: F811
    path = write_rados_config_file(tmp_path / "a", ceph, "no-such-pool", rados_pool, tmp_path)
    with pytest.raises(VolumeError, match="RADOS pool 'no-such-pool' does not exist"):
        VolumeStore(archip_config.load(path))


def test_everything_lives_in_the_pools_and_another_node_sees_it(store, config, name, tmp_path):
    store.create(name, 3 * B)
    store.write(name, B - 2, b"abcd")  # two blocks allocated
    maps, objects = io(config, config.rados_pool_maps), io(config, config.rados_pool_blocks, OBJECTS_NAMESPACE)
    volume_map = mapfile.Map.decode(maps.read(name, 1 << 20))
    assert volume_map.entries[2] is None and keys(objects, name) == sorted(volume_map.entries[:2])
    assert json.loads(maps.read(f"{name}_lock"))["owner"] == "node1/blockerm"
    assert list(tmp_path.iterdir()) == [tmp_path / "archipelago"]  # nothing on this node's disk

    store.snapshot(name, f"{name}s")  # the objects become content-addressed blocks
    snapshot = store.map_of(f"{name}s")
    blocks = io(config, config.rados_pool_blocks)
    assert all(entry.hex() in keys(blocks) for entry in snapshot.entries[:2]) and keys(objects, name) == []
    # Pithos's garbage collection lists the blocks pool's default namespace: never these objects.
    store.write(name, 0, b"Z")
    assert keys(objects, name) and not any(key.startswith(name) for key in keys(blocks))

    other = VolumeStore(config, "node2/blockerm")
    assert other.read(name, 0, 3 * B) == b"Z" + bytes(B - 3) + b"abcd" + bytes(2 * B - 2)
    assert other.read(f"{name}s", B - 2, 4) == b"abcd"
    assert name in other.names() and f"{name}s" in other.names()
    with pytest.raises(LockError, match="locked by node1/blockerm"):
        other.write(name, 0, b"x")  # two hosts never write one volume
    other.clone(f"{name}c", f"{name}s", 4 * B)
    assert other.read(f"{name}c", B - 2, 4) == b"abcd" and other.map_of(f"{name}c").size == 4 * B


def test_remove_leaves_nothing_behind(store, config, name):
    store.create(name, 2 * B)
    store.write(name, 0, b"x" * (2 * B))
    with pytest.raises(LockError, match="open or locked"):
        store.remove(name)
    store.close(name)
    store.remove(name)
    maps, objects = io(config, config.rados_pool_maps), io(config, config.rados_pool_blocks, OBJECTS_NAMESPACE)
    assert not store.exists(name) and keys(objects, name) == []
    assert [key for key in keys(maps, name) if not key.endswith("_mutex")] == []
    with pytest.raises(VolumeError, match="no such volume"):
        store.read(name, 0, 1)


def test_the_byte_model_properties_hold_over_rados(ceph, rados_maps_pool, rados_pool, tmp_path):  # noqa: F811
    path = write_rados_config_file(tmp_path / "archipelago", ceph, rados_maps_pool, rados_pool, tmp_path, BLOCK)
    config = archip_config.load(path)

    class RadosModel(VolumeModel):
        def make_store(self):
            return VolumeStore(config, "node1/blockerm")

        def teardown(self):
            pass  # the session's pools go at its end

    run_state_machine_as_test(RadosModel, settings=settings(
        max_examples=8, stateful_step_count=20, deadline=None, suppress_health_check=[HealthCheck.too_slow]))


def test_an_open_volume_follows_a_snapshot_taken_by_another_process(config, name):
    admin = VolumeStore(config, "node1/blockerm")
    admin.create(name, 2 * B)
    served = OpenVolume(VolumeStore(config, "node1/vlmcd"), name)
    served.write(0, b"before")
    admin.snapshot(name, f"{name}s")  # allowed: this host's vlmcd holds it
    served.write(0, b"AFTER!")  # a copy-up into the new epoch, not into the frozen block
    assert admin.read(f"{name}s", 0, 6) == b"before" and served.read(0, 6) == b"AFTER!"
    assert admin.map_of(name).epoch == 2
    admin.unlock(name, force=True)  # an operator breaks the lock: the daemon stops writing
    with pytest.raises(PermissionError, match="broken"):
        served.write(0, b"late")
    assert admin.read(name, 0, 6) == b"AFTER!"


def test_vlmcd_serves_a_rados_volume_over_nbd(config, name, tmp_path):
    server = vlmcd.listen(config, VolumeStore(config, "node1/vlmcd"))
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    try:
        admin = VolumeStore(config, "node1/blockerm")
        admin.create(name, 8 * B + 100)
        path = str(vlmcd.socket_path(config))
        with nbd.Client(path).go(name) as client:
            client.write(B - 10, b"through nbd" * 50)
            client.flush()
            assert client.read(B - 10, 550) == b"through nbd" * 50
        assert admin.read(name, B - 10, 550) == b"through nbd" * 50
        nbd_tools()
        image = tmp_path / "expected.raw"
        image.write_bytes(bytes(B - 10) + b"through nbd" * 50 + bytes(8 * B + 100 - (B - 10) - 550))
        compare = subprocess.run(["qemu-img", "compare", "-f", "raw", "-F", "raw", str(image),
                                  f"nbd+unix:///{name}?socket={path}"], capture_output=True, text=True, timeout=60)
        assert compare.returncode == 0, compare.stdout + compare.stderr
    finally:
        server.stop()
        thread.join()


def test_keepers_over_rados(store, config, name):
    store.create(name, 2 * B)
    store.write(name, 0, b"a")
    orphan = mapfile.object_name(f"{name}x", 1, 0)  # a crash in the middle of remove left it
    store.storage.write_object(orphan, b"left")
    result = keepers.check_maps(store)
    assert not [p for p in result["problems"] if name in p]
    removed = keepers.sweep_leftovers(store, now=2**40)  # (everything is old enough then)
    assert store.storage.describe(orphan) in removed and not store.storage.object_exists(orphan)
    assert store.read(name, 0, 1) == b"a"  # a live volume's objects stay
    store.storage.remove_object(store.map_of(name).entries[0])
    assert any(f"{name} block 0: object" in p for p in keepers.check_maps(store)["problems"])


def test_the_extstorage_provider_over_rados(config_path, config, name, tmp_path):
    device_support()
    install = subprocess.run([str(ROOT / "deploy" / "install-extstorage"), "--dir", str(tmp_path / "es"),
                              "--python", sys.executable, "--archipelago-config", str(config_path),
                              "--host", "node1.test"], capture_output=True, text=True, timeout=60)
    assert install.returncode == 0, install.stderr
    store = VolumeStore(config, "node1.test/blockerm")
    store.create(f"{name}src", 2 * 1024 * 1024)
    store.write(f"{name}src", 0, b"image bytes")
    store.snapshot(f"{name}src", f"{name}img")
    ganeti_name = f"{secrets.token_hex(8)}.ext.disk0"
    daemon = Vlmcd(config_path, config.run_dir, {"ARCHIPELAGO_HOST": "node1.test"})
    try:
        def run(script, **env):
            return subprocess.run([str(tmp_path / "es" / "archipelago" / script)], capture_output=True, text=True,
                                  timeout=60, env={k: str(v) for k, v in env.items()})

        created = run("create", VOL_NAME=ganeti_name, VOL_SIZE=4, EXTP_ORIGIN=f"{name}img")
        assert created.returncode == 0, created.stderr
        records = io(config, config.rados_pool_maps, RECORDS_NAMESPACE)
        record = json.loads(records.read(ganeti_name))
        assert record["origin"] == f"{name}img"
        assert store.read(record["volume"], 0, 11) == b"image bytes"  # a thin clone
        removed = run("remove", VOL_NAME=ganeti_name)
        assert removed.returncode == 0, removed.stderr
        assert not store.exists(record["volume"]) and ganeti_name not in keys(records)
    finally:
        daemon.stop()


def test_a_rados_volume_mapped_as_a_block_device(config_path, name, tmp_path):
    device_support()
    node = Node(tmp_path, config_path)
    try:
        size = 64 * B
        node.store.create(name, size)
        node.store.write(name, 5000, b"from the api")
        node.store.close(name)
        dev = node.map(name)
        assert read_device(dev, 0, size) == node.store.read(name, 0, size)
        write_device(dev, 3 * B + 7, b"through the device")
        assert node.store.read(name, 3 * B + 7, 18) == b"through the device"
        image = tmp_path / "image.raw"
        image.write_bytes(random.Random(5).randbytes(size))
        subprocess.run(["qemu-img", "convert", "-n", "-f", "raw", "-O", "raw", "-t", "none", str(image), dev],
                       check=True, timeout=60)
        assert node.store.read(name, 0, size) == image.read_bytes()
        assert node.vlmc("unmap", dev)[0] == 0 and node.store.locks.get(name) is None
    finally:
        node.cleanup()


def test_in_place_writes_skip_the_mutex_until_a_snapshot_seals_the_object(config, name, monkeypatch):
    admin = VolumeStore(config, "node1/blockerm")
    admin.create(name, 2 * B)
    vlmcd_store = VolumeStore(config, "node1/vlmcd")
    served = OpenVolume(vlmcd_store, name)
    served.write(0, b"first")  # an allocation: under the mutex, the map written
    (owned,) = [entry for entry in admin.map_of(name).entries if isinstance(entry, str)]
    taken = []
    real_mutex = vlmcd_store.locks.mutex

    def counting_mutex(volume):
        taken.append(volume)
        return real_mutex(volume)

    monkeypatch.setattr(vlmcd_store.locks, "mutex", counting_mutex)
    served.write(2, b"RST")  # in place into its own object: one conditional write, no mutex
    assert taken == [] and admin.read(name, 0, 5) == b"fiRST"

    vlmcd_store.storage.seal_object(owned)  # what a snapshot does first (here, one that crashed)
    served.write(0, b"F")  # refused unlocked, so written the locked way: in place, map unchanged
    assert taken == [name] and admin.read(name, 0, 5) == b"FiRST" and admin.map_of(name).entries[0] == owned

    admin.snapshot(name, f"{name}s")
    served.write(1, b"I")  # the object is frozen: a copy-up into the next epoch
    assert admin.read(f"{name}s", 0, 5) == b"FiRST" and served.read(0, 5) == b"FIRST"
    assert admin.map_of(name).entries[0] != owned and not admin.storage.object_exists(owned)
    admin.unlock(name, force=True)
    with pytest.raises(PermissionError, match="broken"):
        served.write(1, b"x")  # the lock is checked on the unlocked way too


def test_no_write_is_lost_or_misplaced_by_snapshots_taken_meanwhile(config, name):
    """A writer (vlmcd's way, mostly without the mutex) against snapshots from another process:
    each snapshot holds every write acknowledged before it began and none begun after it ended,
    and the volume ends with the last write."""
    admin = VolumeStore(config, "node1/blockerm")
    admin.create(name, 2 * B)
    served = OpenVolume(VolumeStore(config, "node1/vlmcd"), name)
    served.write(0, (0).to_bytes(8, "big"))
    acked, started, snapshots, count = [0], [0], [], 300
    stop = threading.Event()

    def writer():
        for value in range(1, count + 1):
            started[0] = value
            served.write(0, value.to_bytes(8, "big"))
            acked[0] = value
        stop.set()

    thread = threading.Thread(target=writer)
    thread.start()
    while not stop.is_set() and len(snapshots) < 20:
        before = acked[0]
        admin.snapshot(name, f"{name}s{len(snapshots)}")
        snapshots.append((before, started[0] + 1))
    thread.join()
    for number, (acked_before, begun_after) in enumerate(snapshots):
        value = int.from_bytes(admin.read(f"{name}s{number}", 0, 8), "big")
        assert acked_before <= value < begun_after, (number, acked_before, value, begun_after)
    assert snapshots and int.from_bytes(served.read(0, 8), "big") == count
    assert int.from_bytes(admin.read(name, 0, 8), "big") == count


def test_a_first_write_updates_only_its_map_entry(store, config, name):
    """A copy-up or allocation in a big volume writes its one 128-byte entry in place (one
    atomic operation), not the whole map; what is stored decodes to the map in memory."""
    size = 100 * 1024 * B  # 102,400 entries: a 13 MB map
    store.create(name, size)
    store.stats.__init__()
    store.write(name, 5000 * B + 3, b"x")
    assert store.stats.map_writes == 1 and store.stats.bytes_written == B + mapfile.ENTRY_SIZE
    maps = io(config, config.rados_pool_maps)
    stored = mapfile.Map.decode(maps.read(name, 1 << 24))
    assert stored.entries[5000] == mapfile.object_name(name, 1, 5000) and stored.entries[4999] is None
    assert store.read(name, 5000 * B, 4) == b"\0\0\0x"
    # Written against a map that changed meanwhile (another epoch): refused, nothing written.
    stale = store.map_of(name)
    stale.epoch += 1
    stale.entries[7] = "bogus"
    from synnefo.archipelago.storage import StorageError

    with pytest.raises(StorageError, match="changed or went meanwhile"):
        store.storage.update_map_entries(name, stale, [7])
    assert store.map_of(name).entries[7] is None and store.map_of(name).epoch == 1
