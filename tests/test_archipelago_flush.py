"""vlmcd's durability contract, which is NBD's: a write is durable once a FLUSH (or the FUA flag
of the write) completed after it; with FSYNC=yes a copy-up or allocation makes its object and
then the map durable before it is acknowledged (a crash never leaves a map naming an object
that is not on disk). In-place writes go through object files kept open (``ObjectFiles``).

What a crash keeps is modelled by ``Disk``: it follows every write, sync and rename of this
process (the in-process server's), and says what is not on disk yet."""

import dataclasses
import errno
import os
import stat
import threading

import pytest

from synnefo.archipelago import config as archip_config
from synnefo.archipelago import device, mapfile, nbd, vlmcd
from synnefo.archipelago.store import OpenVolume, VolumeStore
from tests.archip_helpers import SMALL_BLOCK, Vlmcd, device_support, make_config, write_config_file

B = SMALL_BLOCK


class Disk:
    """Files whose written data is not durable yet (by inode), and directories whose entries
    (renames, links) are not: what a crash of the machine right now would lose."""

    def __init__(self, monkeypatch):
        self.unsynced_files: set[int] = set()
        self.unsynced_dirs: set[int] = set()
        self.syncs = 0
        self.checks = []  # called with each map about to replace a volume's map
        real = {name: getattr(os, name) for name in ("pwrite", "write", "fsync", "fdatasync", "replace", "link")}

        def pwrite(fd, data, offset):
            result = real["pwrite"](fd, data, offset)
            self.unsynced_files.add(os.fstat(fd).st_ino)
            return result

        def write(fd, data):
            result = real["write"](fd, data)
            self.unsynced_files.add(os.fstat(fd).st_ino)
            return result

        def sync(name):
            def synced(fd):
                real[name](fd)
                self.syncs += 1
                st = os.fstat(fd)
                (self.unsynced_dirs if stat.S_ISDIR(st.st_mode) else self.unsynced_files).discard(st.st_ino)

            return synced

        def entry(name):
            def changed(src, dst, *args, **kwargs):
                for check in self.checks:
                    check(src, dst)
                real[name](src, dst, *args, **kwargs)
                self.unsynced_dirs.add(os.stat(os.path.dirname(os.path.abspath(dst))).st_ino)

            return changed

        monkeypatch.setattr(os, "pwrite", pwrite)
        monkeypatch.setattr(os, "write", write)
        monkeypatch.setattr(os, "fsync", sync("fsync"))
        monkeypatch.setattr(os, "fdatasync", sync("fdatasync"))
        monkeypatch.setattr(os, "replace", entry("replace"))
        monkeypatch.setattr(os, "link", entry("link"))

    def lost(self, store: VolumeStore, name: str) -> list[str]:
        """What of volume ``name`` (its map, its directories, the objects it names) a crash
        would lose now."""
        paths = [store.storage.maps_dir / name, store.storage.maps_dir, store.storage.objects_dir]
        paths += [store.storage.objects_dir / entry for entry in store.map_of(name).entries if isinstance(entry, str)]
        return [str(path) for path in paths
                if os.stat(path).st_ino in (self.unsynced_dirs if path.is_dir() else self.unsynced_files)]


def open_files() -> list[str]:
    """What this process's descriptors name."""
    targets = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            targets.append(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:
            pass  # closed meanwhile (the listing's own)
    return targets


def synced_config(tmp_path, fsync: bool = True):
    return dataclasses.replace(make_config(tmp_path / "s"), fsync=fsync)


@pytest.fixture
def served(tmp_path):
    """An in-process vlmcd with FSYNC=yes; yields (server, socket path, vlmc's store)."""
    config = archip_config.load(write_config_file(tmp_path / "archipelago", tmp_path / "s", extra="FSYNC=yes\n"))
    assert config.fsync
    server = vlmcd.listen(config, VolumeStore(config, "node1/vlmcd"))
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    yield server, str(vlmcd.socket_path(config)), VolumeStore(config, "node1/blockerm")
    server.stop()
    thread.join()


def test_in_place_writes_are_durable_at_flush_and_not_synced_before(served, monkeypatch):
    server, path, store = served
    store.create("vol", 4 * B)
    with nbd.Client(path).go("vol") as client:
        client.write(0, b"a" * (2 * B))  # two allocations: objects and map durable at once
        disk = Disk(monkeypatch)
        client.write(5, b"in place")
        client.write(B + 5, b"in place too")
        assert disk.syncs == 0  # the cost NBD lets a server skip: no sync per write
        assert len(disk.lost(store, "vol")) == 2  # the two objects' new bytes
        client.flush()
        assert disk.lost(store, "vol") == []
        client.write(B + 9, b"fua", fua=True)
        assert disk.lost(store, "vol") == []
        syncs = disk.syncs
        client.flush()  # nothing written since: nothing to sync
        assert disk.syncs == syncs
    expected = bytearray(b"a" * (2 * B))
    expected[5:13], expected[B + 5 : B + 17], expected[B + 9 : B + 12] = b"in place", b"in place too", b"fua"
    assert store.read("vol", 0, 2 * B) == expected


def test_an_allocation_is_durable_object_first_then_map_before_its_reply(served, monkeypatch):
    server, path, store = served
    store.create("vol", 4 * B)
    disk = Disk(monkeypatch)
    replaced = []

    def objects_durable_first(src, dst):
        if os.path.dirname(dst) == str(store.storage.maps_dir):
            named = [e for e in mapfile.read(src).entries if isinstance(e, str)]
            assert named and all(os.stat(store.storage.objects_dir / e).st_ino not in disk.unsynced_files for e in named)
            assert os.stat(store.storage.objects_dir).st_ino not in disk.unsynced_dirs
            replaced.append(dst)

    disk.checks.append(objects_durable_first)
    with nbd.Client(path).go("vol") as client:
        client.write(B - 2, b"spans two new blocks")
        assert replaced and disk.lost(store, "vol") == []  # no FLUSH needed for the map


def test_the_store_api_write_is_durable_at_once(tmp_path, monkeypatch):
    """vlmc write (no flush to come): with FSYNC=yes each write is synced before it returns."""
    store = VolumeStore(synced_config(tmp_path), "node1/blockerm", create_dirs=True)
    store.create("vol", 2 * B)
    store.write("vol", 0, b"new")
    disk = Disk(monkeypatch)
    store.write("vol", 1, b"in place")
    assert disk.lost(store, "vol") == []


def test_without_fsync_flush_makes_new_objects_and_the_map_durable(tmp_path, monkeypatch):
    store = VolumeStore(synced_config(tmp_path, fsync=False), "node1/vlmcd", create_dirs=True)
    store.create("vol", 4 * B)
    disk = Disk(monkeypatch)
    volume = OpenVolume(store, "vol")
    volume.write(B - 1, b"xy")  # two allocations, nothing synced
    volume.write(B + 7, b"z")
    assert disk.lost(store, "vol")
    volume.flush()
    assert disk.lost(store, "vol") == []
    volume.close()


def test_objects_held_open_are_bounded_and_all_synced_at_flush(tmp_path, monkeypatch):
    monkeypatch.setattr(OpenVolume, "MAX_OPEN_OBJECTS", 2)
    store = VolumeStore(synced_config(tmp_path), "node1/vlmcd", create_dirs=True)
    store.create("vol", 6 * B)
    volume = OpenVolume(store, "vol")
    for index in range(6):
        volume.write(index * B, b"new")
    disk = Disk(monkeypatch)
    for index in range(6):
        volume.write(index * B + 3, b"again")
    assert volume._writer.open_count == 2
    assert len(disk.lost(store, "vol")) == 6
    volume.flush()
    assert disk.lost(store, "vol") == []
    volume.close()
    assert volume._writer.open_count == 0
    assert store.read("vol", 5 * B, 8) == b"newagain"


def test_a_failed_sync_is_an_nbd_error_and_the_next_flush_syncs_again(served, monkeypatch):
    server, path, store = served
    store.create("vol", 2 * B)
    with nbd.Client(path).go("vol") as client:
        client.write(0, b"allocated")
        disk = Disk(monkeypatch)
        client.write(3, b"XY")
        synced = os.fdatasync

        def failing(fd):
            raise OSError(errno.EIO, "Input/output error")

        monkeypatch.setattr(os, "fdatasync", failing)
        with pytest.raises(OSError) as raised:
            client.flush()
        assert raised.value.errno == errno.EIO
        assert disk.lost(store, "vol")  # not claimed durable
        monkeypatch.setattr(os, "fdatasync", synced)
        client.flush()
        assert disk.lost(store, "vol") == []


def test_a_snapshot_while_objects_are_held_open_freezes_them_and_later_writes_copy_up(served, monkeypatch):
    server, path, store = served
    store.create("vol", 2 * B)
    with nbd.Client(path).go("vol") as client:
        client.write(0, b"1" * (2 * B))
        client.write(7, b"unflushed")  # in place, through a descriptor kept open
        frozen_object = store.map_of("vol").entries[0]
        store.snapshot("vol", "snap")  # freezes the bytes (page cache) and deletes the object
        disk = Disk(monkeypatch)
        client.write(7, b"after")  # the map changed: copy-up into the new epoch
        entry = store.map_of("vol").entries[0]
        assert isinstance(entry, str) and entry != frozen_object
        client.flush()  # the deleted object is not synced (the snapshot stored it as a block)
        assert disk.lost(store, "vol") == []
        assert not any(frozen_object in target for target in open_files())  # its space is freed
        assert client.read(0, 16) == b"1" * 7 + b"aftershed"
    assert store.read("snap", 0, 16) == b"1" * 7 + b"unflushed"


def test_a_flushed_write_is_in_the_store_when_vlmcd_is_killed_right_after(tmp_path):
    config_path = write_config_file(tmp_path / "archipelago", tmp_path / "s", extra="FSYNC=yes\n")
    config = archip_config.load(config_path)
    store = VolumeStore(config)
    store.create("vol", 4 * B)
    daemon = Vlmcd(config_path, config.run_dir)
    client = nbd.Client(str(daemon.socket)).go("vol")
    client.write(0, b"x" * (3 * B))
    client.write(B + 1, b"flushed")
    client.flush()
    daemon.stop(9)
    client.close()
    assert store.read("vol", B, 8) == b"xflushed"
    assert store.read("vol", 0, 3 * B).count(b"x") == 3 * B - 7


def test_an_fsync_of_the_mapped_device_reaches_vlmcd_as_a_flush(served, monkeypatch):
    """What a guest's fsync relies on: the loop device's flush goes through nbdfuse as an NBD
    FLUSH, so the write is durable when fsync returns."""
    device_support()
    server, path, store = served
    config = server.exports.store.config
    store.create("vol", 4 * B)
    mapping = device.map_volume(config, store, "vol")
    try:
        fd = os.open(mapping.device, os.O_RDWR)
        try:
            os.pwrite(fd, b"a" * 4096, 0)  # allocates the blocks (FSYNC=yes: durable at once)
            os.fsync(fd)
            disk = Disk(monkeypatch)
            os.pwrite(fd, b"guest data" * 400, 0)  # in place
            os.fsync(fd)
            assert disk.lost(store, "vol") == []
        finally:
            os.close(fd)
    finally:
        monkeypatch.undo()
        device.unmap(config, store, mapping.device)
    assert store.read("vol", 0, 4000) == b"guest data" * 400
