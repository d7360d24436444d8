"""The volume store: configuration, maps, copy-on-write, snapshots, locks, crashes, vlmc."""

import os
import secrets

import pytest

from synnefo.archipelago import config as archip_config
from synnefo.archipelago import mapfile, vlmc
from synnefo.archipelago.locks import LockError, device_owner
from synnefo.archipelago.store import OpenVolume, VolumeError, VolumeStore
from tests.archip_helpers import SMALL_BLOCK, make_store, write_config_file

B = SMALL_BLOCK


@pytest.fixture
def store(tmp_path):
    return make_store(tmp_path)


def files(directory):
    return sorted(p.name for p in directory.iterdir() if not p.name.startswith("."))


def snapshot_of_store(store):
    """Every file of the store and its bytes (to assert that nothing changed)."""
    result = {}
    for root, _, names in os.walk(store.config.maps.parent):
        for name in names:
            path = os.path.join(root, name)
            with open(path, "rb") as f:
                result[path] = f.read()
    return result


# Configuration ----------------------------------------------------------------------------


def test_config_file_loads_quoted_values_and_options(tmp_path):
    config = archip_config.load(write_config_file(tmp_path / "archipelago", tmp_path))
    assert config.maps == tmp_path / "maps" and config.pithos == tmp_path / "blocks"
    assert config.pithos_maps == tmp_path / "pithosmaps" and config.images == tmp_path / "objects"
    assert config.block_size == B and config.fsync is False


@pytest.mark.parametrize(
    "text, message",
    [
        ('STORAGE="files"\nFILED_MAPS=/m\n', "needs FILED_IMAGES, PITHOS, PITHOSMAPS"),
        ("FILED_MAPS=/m\n", 'STORAGE must be "files" or "rados"'),
        ('STORAGE="rados"\nRADOS_POOL_MAPS=maps\n', "needs RADOS_POOL_BLOCKS"),
        ("STORAGE=files\nthis is not a setting\n", ":2: expected KEY=value"),
        ("STORAGE=files\nFILED_IMAGES=a\nFILED_MAPS=b\nPITHOS=c\nPITHOSMAPS=d\nVERBOSITY_MAPPER=7\n", "VERBOSITY_MAPPER"),
        ("STORAGE=files\nFILED_IMAGES=a\nFILED_MAPS=b\nPITHOS=c\nPITHOSMAPS=d\nBLOCK_SIZE=1000\n", "BLOCK_SIZE"),
    ],
)
def test_bad_configuration_is_refused_naming_the_settings(tmp_path, text, message):
    path = tmp_path / "archipelago"
    path.write_text(text)
    with pytest.raises(archip_config.ConfigError, match=message):
        archip_config.load(path)


def test_a_rados_store_needs_its_cluster_and_says_which(tmp_path):
    from synnefo.common.radosclient import rados_available

    path = tmp_path / "archipelago"
    path.write_text('STORAGE="rados"\nRADOS_POOL_MAPS=m\nRADOS_POOL_BLOCKS=b\nCEPH_CONF=/nonexistent/ceph.conf\n')
    if not rados_available():
        with pytest.raises(archip_config.ConfigError, match="rados backend is not available on this node"):
            archip_config.load(path)
        return
    config = archip_config.load(path)
    assert (config.storage, config.rados_pool_maps, config.rados_pool_blocks) == ("rados", "m", "b")
    assert config.maps is None and config.ceph_conf == "/nonexistent/ceph.conf"
    with pytest.raises(VolumeError, match="no Ceph configuration file /nonexistent/ceph.conf"):
        VolumeStore(config)


def test_node_configuration_round_trips(tmp_path):
    text = archip_config.render(archip_config.node_values(tmp_path, block_size=B))
    assert 'STORAGE="files"' in text
    config = archip_config.from_values(archip_config.parse(text))
    assert config.pithos == tmp_path / "blocks" and config.maps == tmp_path / "archip" / "maps"


# Maps -------------------------------------------------------------------------------------


def test_map_format_round_trips_every_kind_of_entry():
    digest = bytes(range(32))
    volume_map = mapfile.Map(3 * B + 5, B, 7, 0, [None, digest, "vol_0000000000000007_0000000000000002", None])
    data = volume_map.encode()
    assert data[:4] == b"AMF." and len(data) == 512 + 4 * 128
    assert mapfile.Map.decode(data) == volume_map
    with pytest.raises(mapfile.MapError, match="bytes, expected"):
        mapfile.Map.decode(data[:-1])
    with pytest.raises(mapfile.MapError, match="longer than 123"):
        mapfile.Map(B, B, 1, 0, [bytes(64)]).encode()  # a 512-bit digest does not fit


def test_create_read_write_across_blocks(store):
    store.create("vol", 3 * B + 100)
    assert store.read("vol", 0, 3 * B + 100) == bytes(3 * B + 100)
    store.write("vol", B - 3, b"abcdefgh")  # spans blocks 0 and 1: both allocated
    assert store.read("vol", B - 4, 10) == b"\0abcdefgh\0"
    assert store.info("vol")["writable"] == 2 and store.info("vol")["zero"] == 2
    store.write("vol", B - 1, b"Z")  # in place: no new object, no map write
    writes = store.stats.map_writes
    assert store.read("vol", B - 3, 3) == b"abZ" and store.stats.map_writes == writes


@pytest.mark.parametrize("offset, length", [(4 * B - 1, 2), (4 * B, 1), (-1, 1)])
def test_out_of_range_writes_are_refused_and_change_nothing(store, offset, length):
    store.create("vol", 4 * B)
    store.write("vol", 0, b"keep")
    before = snapshot_of_store(store)
    with pytest.raises(VolumeError, match="beyond the end|negative"):
        store.write("vol", offset, b"x" * length)
    assert snapshot_of_store(store) == before
    with pytest.raises(VolumeError, match="beyond the end"):
        store.read("vol", 4 * B - 1, 2)


@pytest.mark.parametrize("name", ["", "a/b", ".hidden", "x" * 90, "under_score", "sp ace"])
def test_bad_names_and_sizes_are_refused(store, name):
    with pytest.raises(VolumeError, match="invalid volume name"):
        store.create(name, B)
    with pytest.raises(VolumeError, match="size must be positive"):
        store.create("ok", 0)
    assert files(store.config.maps) == []


def test_snapshot_clone_and_copy_up(store):
    store.create("vol", 2 * B)
    store.write("vol", 0, b"A" * B)
    snap = store.snapshot("vol", "snap")
    assert snap.readonly and all(isinstance(e, bytes) or e is None for e in snap.entries)
    assert files(store.config.images) == []  # the writable object became a shared block
    assert store.map_of("vol").epoch == 2
    store.write("vol", 0, b"B")  # copy-up under the new epoch
    assert store.map_of("vol").entries[0] == mapfile.object_name("vol", 2, 0)
    assert store.read("snap", 0, 2) == b"AA" and store.read("vol", 0, 2) == b"BA"
    store.clone("clone", "snap", 3 * B)
    assert store.read("clone", 0, 2) == b"AA" and store.read("clone", 2 * B, B) == bytes(B)
    with pytest.raises(VolumeError, match="read-only"):
        store.write("snap", 0, b"x")
    with pytest.raises(VolumeError, match="not a snapshot"):
        store.clone("c2", "vol")
    with pytest.raises(VolumeError, match="smaller than snap"):
        store.clone("c2", "snap", B)
    for origin in ("nope", "../maps/snap", "snap/", ".locks"):
        with pytest.raises(VolumeError, match="unknown snapshot or image"):
            store.clone("c2", origin)
    for bad in ("../maps/vol", ".locks", "a/b"):
        with pytest.raises(VolumeError, match="no such volume"):
            store.write(bad, 0, b"x")
        with pytest.raises(VolumeError, match="no such volume"):
            store.info(bad)
    with pytest.raises(VolumeError, match="already exists"):
        store.snapshot("vol", "clone")


def test_resize_grows_with_zeros_and_refuses_shrinking(store):
    store.create("vol", B + 10)
    store.write("vol", B, b"0123456789")
    store.resize("vol", 3 * B)
    assert store.read("vol", B, 12) == b"0123456789\0\0" and store.read("vol", 2 * B, B) == bytes(B)
    with pytest.raises(VolumeError, match="cannot shrink"):
        store.resize("vol", B)
    assert store.map_of("vol").size == 3 * B


def test_remove_deletes_own_objects_and_leftovers_but_not_other_volumes(store):
    store.create("vol", 2 * B)
    store.create("vol-b", B)
    store.write("vol", 0, b"x" * (2 * B))
    store.write("vol-b", 0, b"y")
    (store.config.images / mapfile.object_name("vol", 9, 1)).write_bytes(b"leftover of a crash")
    store.close("vol")
    store.remove("vol")
    assert files(store.config.images) == [mapfile.object_name("vol-b", 1, 0)]
    assert files(store.config.maps) == ["vol-b"]
    with pytest.raises(VolumeError, match="no such volume"):
        store.info("vol")


# Locks ------------------------------------------------------------------------------------


def test_two_owners(tmp_path):
    one, two = make_store(tmp_path, "host1/blockerm"), make_store(tmp_path, "host2/blockerm")
    one.create("vol", B)
    assert one.open("vol") is True and one.open("vol") is False  # already open by us: fine
    with pytest.raises(LockError, match="locked by host1/blockerm"):
        two.open("vol")
    with pytest.raises(LockError, match="locked by host1"):
        two.write("vol", 0, b"x")
    with pytest.raises(LockError, match="locked by host1"):
        two.snapshot("vol", "s")
    with pytest.raises(LockError, match="not by host2/blockerm; use -f"):
        two.unlock("vol")
    with pytest.raises(LockError, match="open or locked by host1"):
        one.remove("vol")
    one.write("vol", 0, b"mine")
    assert two.read("vol", 0, 4) == b"mine"  # reads need no lock
    assert two.unlock("vol", force=True).owner == "host1/blockerm"
    two.write("vol", 0, b"two")  # the write takes the lock for host2
    with pytest.raises(LockError, match="locked by host2"):
        one.write("vol", 0, b"one")
    two.close("vol")
    with pytest.raises(LockError, match="not open"):
        two.close("vol")
    assert one.lock("vol") is True
    one.unlock("vol")
    one.remove("vol")


def test_a_read_racing_a_snapshot_finds_the_frozen_block(store):
    """vlmcd's reads take no mutex: a snapshot by another process may freeze and delete the
    object a read's map names between the read's look at the map version and its read of the
    object. The read then reads the stored map (which names the frozen block): same bytes."""
    name = f"race{secrets.token_hex(3)}"  # (the RADOS tests share a pool)
    store.create(name, 3 * B)
    served = OpenVolume(VolumeStore(store.config, device_owner(store.owner)), name)
    served.write(B - 3, b"before")
    looked = served._stat()
    store.snapshot(name, f"{name}s")  # allowed: this host's vlmcd holds it; deletes the objects
    assert not store.storage.object_exists(mapfile.object_name(name, 1, 0))
    served._stat = lambda: looked  # what the racing read saw: the map before the snapshot
    assert served.read(B - 3, 6) == b"before"
    assert served.read(0, 3 * B) == store.read(f"{name}s", 0, 3 * B)


def test_concurrent_writers_of_one_owner_lose_no_update(store):
    """Threads of one owner writing different blocks of one volume at once: every write lands
    (map updates are serialised per volume, not lost in concurrent read-modify-writes)."""
    import threading

    store.create("vol", 64 * B)
    barrier = threading.Barrier(8)

    def writer(number):
        barrier.wait()
        for index in range(number, 64, 8):
            store.write("vol", index * B, bytes([index]) * 10)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [store.read("vol", index * B, 10) for index in range(64)] == [bytes([i]) * 10 for i in range(64)]
    assert store.info("vol")["writable"] == 64


# Crashes ----------------------------------------------------------------------------------


class Crash(Exception):
    pass


def test_crash_between_object_and_map_leaves_the_old_map(store, monkeypatch):
    store.create("vol", 2 * B)
    store.write("vol", 0, b"old")
    store.snapshot("vol", "snap")
    map_before = (store.config.maps / "vol").read_bytes()
    real_replace = os.replace

    def crash_on_map(src, dst):
        if os.fspath(dst).startswith(os.fspath(store.config.maps)):
            raise Crash()
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", crash_on_map)
    with pytest.raises(Crash):
        store.write("vol", 0, b"new")  # copy-up object written, then the map write dies
    with pytest.raises(Crash):
        store.write("vol", B, b"new")  # allocation of a zero block, same
    monkeypatch.setattr(os, "replace", real_replace)
    assert (store.config.maps / "vol").read_bytes() == map_before
    assert [p.name for p in store.config.maps.iterdir() if p.name.startswith(".tmp")] == []
    reopened = make_store(store.config.maps.parent)
    assert reopened.read("vol", 0, 3) == b"old" and reopened.read("vol", B, 3) == bytes(3)
    reopened.write("vol", 0, b"new")  # the leftover object is simply written again
    assert reopened.read("vol", 0, 3) == b"new" and reopened.read("snap", 0, 3) == b"old"


def test_crash_during_snapshot_leaves_both_maps_valid(store, monkeypatch):
    store.create("vol", B)
    store.write("vol", 0, b"data")
    calls = []
    real = store._save

    def crash_second(name, volume_map, **kwargs):
        calls.append(name)
        if len(calls) == 2:  # after the snapshot's map, before the volume's
            raise Crash()
        return real(name, volume_map, **kwargs)

    monkeypatch.setattr(store, "_save", crash_second)
    with pytest.raises(Crash):
        store.snapshot("vol", "snap")
    reopened = make_store(store.config.maps.parent)
    assert reopened.read("vol", 0, 4) == b"data" and reopened.read("snap", 0, 4) == b"data"
    reopened.write("vol", 0, b"DATA")
    assert reopened.read("snap", 0, 4) == b"data"


def test_running_out_of_space_changes_nothing(store, monkeypatch):
    import errno

    store.create("vol", 2 * B)
    store.write("vol", 0, b"old")
    store.snapshot("vol", "snap")
    before = snapshot_of_store(store)
    real_write = os.write

    def full(fd, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", full)
    for action in (lambda: store.write("vol", 0, b"new"), lambda: store.write("vol", B, b"new"),
                   lambda: store.create("other", B), lambda: store.resize("vol", 4 * B)):
        with pytest.raises(OSError, match="No space left"):
            action()
    monkeypatch.setattr(os, "write", real_write)
    assert snapshot_of_store(store) == before  # no map changed, no object or temporary file left
    assert store.read("vol", 0, 3) == b"old"


# vlmc -------------------------------------------------------------------------------------


def vlmc_run(capsys, config, *argv, env_host=None, monkeypatch=None):
    if env_host and monkeypatch:
        monkeypatch.setenv("ARCHIPELAGO_HOST", env_host)
    code = vlmc.main(["-c", str(config), *argv])
    out, err = capsys.readouterr()
    return code, out, err.strip()


def test_vlmc_commands(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("ARCHIPELAGO_HOST", "host1")
    config = write_config_file(tmp_path / "archipelago", tmp_path / "store")
    run = lambda *argv: vlmc_run(capsys, config, *argv)  # noqa: E731
    assert run("create", "vol", "--size", "4K") == (0, "created vol (4K)\n", "")
    assert run("create", "vol", "--size", "1")[0:3:2] == (1, "vlmc: vol already exists")
    assert run("create", "other") == (2, "", "vlmc: create needs --snap or --size (or both)")
    assert run("snapshot", "vol", "snap")[0] == 0
    assert run("create", "clone", "--snap", "snap", "--size", "8K")[1] == "created clone (8K)\n"
    assert run("create", "c2", "--snap", "missing") == (1, "", "vlmc: unknown snapshot or image: missing")
    code, out, _ = run("list")
    assert code == 0 and out.splitlines() == ["clone\tvolume\t8K\t-", "snap\tsnapshot\t4K\t-", "vol\tvolume\t4K\t-"]
    code, out, _ = run("info", "clone")
    assert code == 0 and '"size": 8192' in out and '"type": "volume"' in out
    assert run("open", "vol")[1] == "opened vol\n"
    assert run("open", "vol")[1] == "vol already open by host1/blockerm\n"
    assert run("remove", "vol")[0:3:2] == (1, "vlmc: volume vol is open or locked by host1/blockerm; close or unlock it first")
    monkeypatch.setenv("ARCHIPELAGO_HOST", "host2")
    assert run("open", "vol")[0] == 1
    assert run("unlock", "vol")[2].endswith("use -f to break the lock")
    assert run("unlock", "-f", "vol")[1] == "unlocked vol (broke the lock of host1/blockerm)\n"
    assert run("lock", "vol")[1] == "locked vol\n"
    assert run("close", "vol")[1] == "closed vol\n"
    assert run("close", "vol") == (1, "", "vlmc: volume vol is not open")
    assert run("resize", "vol", "--size", "2K")[2] == "vlmc: cannot shrink vol from 4096 to 2048 bytes (only growing)"
    assert run("resize", "vol", "--size", "1M")[1] == "resized vol to 1M\n"
    assert run("remove", "vol") == (0, "removed vol\n", "")
    assert run("info", "vol") == (1, "", "vlmc: no such volume or snapshot: vol")
    assert run("map", "vol") == (1, "", "vlmc: no such volume or snapshot: vol")
    code, _, err = run("map", "clone")
    assert code == 1 and err.startswith("vlmc: vlmcd is not running") and err.endswith(": archipelago start")
    assert run("unmap", "/dev/loop0") == (1, "", "vlmc: /dev/loop0 is not mapped (see vlmc showmapped)")
    assert run("showmapped") == (0, "id\tvolume\tdevice\tstate\n", "")


def test_vlmc_refuses_missing_configuration(tmp_path, capsys):
    bad = tmp_path / "archipelago"
    bad.write_text('STORAGE="files"\nFILED_MAPS=/maps\n')
    assert vlmc_run(capsys, bad, "list") == (
        2, "", f'vlmc: configuration: {bad}: STORAGE="files" needs FILED_IMAGES, PITHOS, PITHOSMAPS (no defaults)'
    )
    assert vlmc_run(capsys, tmp_path / "none", "list")[0] == 2
    unmounted = write_config_file(tmp_path / "unmounted", tmp_path / "store")
    (tmp_path / "store" / "maps").rmdir()
    assert vlmc_run(capsys, unmounted, "create", "v", "--size", "1") == (
        1, "", f"vlmc: {tmp_path}/store/maps does not exist (is the store mounted? see {unmounted})"
    )
    assert not (tmp_path / "store" / "maps").exists()


def test_vlmc_bad_size_is_a_usage_error(tmp_path, capsys):
    config = write_config_file(tmp_path / "archipelago", tmp_path / "store")
    with pytest.raises(SystemExit) as exc:
        vlmc.main(["-c", str(config), "create", "v", "--size", "lots"])
    assert exc.value.code == 2 and "invalid size 'lots'" in capsys.readouterr().err


def test_vlmc_processes_on_two_hosts_share_the_store(tmp_path):
    """Each command its own process (as on real nodes); the store alone carries maps and locks."""
    import subprocess
    import sys

    config = write_config_file(tmp_path / "archipelago", tmp_path / "store")

    def vlmc_on(host, *argv):
        env = dict(os.environ, ARCHIPELAGO_CONFIG=str(config), ARCHIPELAGO_HOST=host)
        env.pop("DJANGO_SETTINGS_MODULE", None)
        result = subprocess.run([sys.executable, "-m", "synnefo.archipelago.vlmc", *argv], env=env,
                                capture_output=True, text=True)
        return result.returncode, result.stdout, result.stderr

    assert vlmc_on("host1", "create", "vol", "--size", "2K")[0] == 0
    assert vlmc_on("host1", "open", "vol")[1] == "opened vol\n"
    assert vlmc_on("host2", "open", "vol") == (1, "", "vlmc: volume vol is locked by host1/blockerm\n")
    assert vlmc_on("host2", "snapshot", "vol", "snap")[2] == "vlmc: volume vol is locked by host1/blockerm\n"
    assert vlmc_on("host2", "unlock", "-f", "vol")[0] == 0
    assert vlmc_on("host2", "snapshot", "vol", "snap")[0] == 0
    assert vlmc_on("host1", "create", "clone", "--snap", "snap")[1] == "created clone (2K)\n"
    code, out, _ = vlmc_on("host1", "list")
    assert code == 0 and [line.split("\t")[0] for line in out.splitlines()] == ["clone", "snap", "vol"]
