"""vlmcd over NBD: the protocol with real clients (nbdinfo, nbdcopy, qemu-img) and our own
client (pipelining, errors), the lock it holds, snapshots while it serves, failures."""

import errno
import random
import socket
import subprocess
import threading
import time

import pytest

from synnefo.archipelago import config as archip_config
from synnefo.archipelago import mapfile, nbd, vlmcd
from synnefo.archipelago.store import VolumeStore
from tests.archip_helpers import SMALL_BLOCK, Vlmcd, device_config, make_store, nbd_tools

B = SMALL_BLOCK


@pytest.fixture
def served(tmp_path):
    """An in-process vlmcd (owner node1/vlmcd) over a fresh store; yields (server, socket path)."""
    config = archip_config.load(device_config(tmp_path))
    server = vlmcd.listen(config, VolumeStore(config, "node1/vlmcd"))
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    yield server, str(vlmcd.socket_path(config))
    server.stop()
    thread.join()


@pytest.fixture
def own_process(tmp_path):
    """For vlmcd in its own process: (configuration path, configuration, vlmc's store)."""
    config_path = device_config(tmp_path)
    config = archip_config.load(config_path)
    return config_path, config, VolumeStore(config)


def admin(server) -> VolumeStore:
    """vlmc's view of the same store, on the same host (node1/blockerm)."""
    return VolumeStore(server.exports.store.config, "node1/blockerm")


def uri(path, name):
    return f"nbd+unix:///{name}?socket={path}"


def wait_unlocked(store, name):
    """The server closes a volume when the client's connection ends (after the client exits)."""
    deadline = time.monotonic() + 10
    while store.locks.get(name) is not None:
        assert time.monotonic() < deadline, f"{name} still locked by {store.locks.get(name).owner}"
        time.sleep(0.01)


def test_export_size_listing_and_reads_equal_the_store_api(served):
    server, path = served
    store = admin(server)
    store.create("vol1", 5 * B + 100)
    store.write("vol1", 3, b"hello")
    store.close("vol1")  # (the write took the lock for node1/blockerm)
    store.create("vol2", B)
    with nbd.Client(path) as client:
        assert client.info("vol1") == (5 * B + 100, False)
    with nbd.Client(path).go("vol1") as client:
        assert client.read(0, 5 * B + 100) == store.read("vol1", 0, 5 * B + 100)
    nbd_tools()
    listing = subprocess.run(["nbdinfo", "--list", f"nbd+unix:///?socket={path}"], capture_output=True, text=True, check=True)
    assert 'export="vol1"' in listing.stdout and 'export="vol2"' in listing.stdout
    size = subprocess.run(["nbdinfo", "--size", uri(path, "vol1")], capture_output=True, text=True, check=True)
    assert int(size.stdout) == 5 * B + 100


def test_nbdcopy_and_qemu_img_round_trip_through_the_server(served, tmp_path):
    nbd_tools()
    server, path = served
    store = admin(server)
    size = 16 * B + 512
    store.create("vol", size)
    image = tmp_path / "image.raw"
    image.write_bytes(random.Random(3).randbytes(size))
    subprocess.run(["nbdcopy", str(image), uri(path, "vol")], check=True)
    assert store.read("vol", 0, size) == image.read_bytes()
    compare = subprocess.run(["qemu-img", "compare", "-f", "raw", "-F", "raw", str(image), uri(path, "vol")],
                             capture_output=True, text=True)
    assert compare.returncode == 0, compare.stdout + compare.stderr
    wait_unlocked(store, "vol")  # the server closed it
    store.write("vol", 7, b"changed")
    store.close("vol")
    compare = subprocess.run(["qemu-img", "compare", "-f", "raw", "-F", "raw", str(image), uri(path, "vol")],
                             capture_output=True, text=True)
    assert compare.returncode == 1 and "mismatch at offset 0" in compare.stdout


def test_pipelined_requests_are_served_in_order(served):
    """Many writes sent before any reply is read, then reads: the bytes equal a byte model."""
    server, path = served
    store = admin(server)
    size = 8 * B
    store.create("vol", size)
    model = bytearray(size)
    rng = random.Random(7)
    with nbd.Client(path).go("vol") as client:
        handles = []
        for _ in range(200):
            offset = rng.randrange(size - 300)
            data = rng.randbytes(rng.randrange(1, 300))
            model[offset : offset + len(data)] = data
            handles.append(client.send(nbd.CMD_WRITE, offset, data=data))
        handles.append(client.send(nbd.CMD_FLUSH))
        assert [client.receive()[:2] for _ in handles] == [(h, 0) for h in handles]
        reads = [(client.send(nbd.CMD_READ, o, B), o) for o in range(0, size, B)]
        for handle, offset in reads:
            got_handle, error, data = client.receive(B)
            assert (got_handle, error, data) == (handle, 0, bytes(model[offset : offset + B]))
    assert store.read("vol", 0, size) == bytes(model)


def test_the_served_volume_is_locked_by_vlmcd_and_released_on_disconnect(served):
    server, path = served
    store = admin(server)
    store.create("vol", 2 * B)
    with nbd.Client(path).go("vol") as client:
        client.write(0, b"x")
        assert store.locks.get("vol").owner == "node1/vlmcd"
        with pytest.raises(Exception, match="locked by node1/vlmcd"):
            store.write("vol", 0, b"y")  # vlmc on the same host does not write under vlmcd
        with nbd.Client(path).go("vol") as second:  # a second client of the same vlmcd shares it
            assert second.read(0, 1) == b"x"
        assert store.locks.get("vol").owner == "node1/vlmcd"
    wait_unlocked(store, "vol")


def test_a_volume_locked_by_another_host_is_refused_naming_the_holder(served):
    server, path = served
    other = VolumeStore(server.exports.store.config, "node2/vlmcd")
    other.create("vol", B)
    other.open("vol")
    with nbd.Client(path) as client, pytest.raises(nbd.NBDError, match="locked by node2/vlmcd"):
        client.info("vol")
    nbd_tools()
    result = subprocess.run(["nbdinfo", uri(path, "vol")], capture_output=True, text=True)
    assert result.returncode != 0
    with nbd.Client(path) as client, pytest.raises(nbd.NBDError, match="no such volume"):
        client.go("missing")


def test_writes_beyond_the_end_get_enospc_and_write_nothing(served):
    server, path = served
    store = admin(server)
    store.create("vol", 2 * B)
    before = (store.storage.maps_dir / "vol").read_bytes()
    with nbd.Client(path).go("vol") as client:
        with pytest.raises(OSError) as raised:
            client.write(2 * B - 2, b"four")
        assert raised.value.errno == errno.ENOSPC
        with pytest.raises(OSError) as raised:
            client.read(2 * B, 1)
        assert raised.value.errno == errno.EINVAL
        assert client.read(0, 2 * B) == bytes(2 * B)  # the connection still serves
    assert (store.storage.maps_dir / "vol").read_bytes() == before
    assert list(store.storage.objects_dir.iterdir()) == []


def test_a_write_longer_than_announced_closes_the_connection(served):
    server, path = served
    admin(server).create("vol", B)
    with nbd.Client(path).go("vol") as client:
        client.sock.sendall(nbd.REQUEST.pack(nbd.REQUEST_MAGIC, 0, nbd.CMD_WRITE, 1, 0, nbd.MAX_REQUEST + 1))
        with pytest.raises(nbd.Disconnect):
            client.receive()
    with nbd.Client(path).go("vol") as client:  # the server goes on
        assert client.read(0, 1) == b"\0"


def test_out_of_space_is_an_nbd_error_and_the_map_is_untouched(served, monkeypatch):
    server, path = served
    store = admin(server)
    store.create("vol", 4 * B)
    with nbd.Client(path).go("vol") as client:
        client.write(0, b"a" * B)
        before = (store.storage.maps_dir / "vol").read_bytes()

        def full(*args):
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(server.exports.store, "_write_object", full)
        with pytest.raises(OSError) as raised:
            client.write(B - 10, b"b" * 20)  # in place into block 0, then an allocation: refused
        assert raised.value.errno == errno.ENOSPC
        assert (store.storage.maps_dir / "vol").read_bytes() == before
        monkeypatch.undo()
        client.write(2 * B, b"c")  # space again: the map in memory was not left half-updated
    volume_map = mapfile.read(store.storage.maps_dir / "vol")
    assert volume_map.entries[1] is None and isinstance(volume_map.entries[2], str)
    assert store.read("vol", 2 * B, 1) == b"c"


def test_snapshot_while_served_freezes_the_bytes_of_that_moment(served):
    """vlmcd keeps the map in memory: after a snapshot (by vlmc on the same host) it must not
    write in place into the objects the snapshot froze."""
    server, path = served
    store = admin(server)
    store.create("vol", 4 * B)
    with nbd.Client(path).go("vol") as client:
        client.write(0, b"1" * (2 * B))
        client.write(B + 5, b"first")  # in place
        expected = client.read(0, 4 * B)
        store.snapshot("vol", "snap")
        client.write(B + 5, b"again")  # must copy up, not write into the frozen block
        client.write(10, b"new")
        client.write_zeroes(0, B)
        assert store.read("snap", 0, 4 * B) == expected
        after = bytearray(expected)
        after[0:B] = bytes(B)
        after[B + 5 : B + 10] = b"again"
        assert client.read(0, 4 * B) == bytes(after)
        store.snapshot("vol", "snap2")
        client.write(B, b"third")
    assert store.read("snap", 0, 4 * B) == expected
    assert store.read("snap2", 0, 4 * B) == bytes(after)
    assert mapfile.read(store.storage.maps_dir / "vol").epoch == 3


def test_a_served_volume_grows_for_new_connections(served):
    server, path = served
    store = admin(server)
    store.create("vol", 2 * B)
    with nbd.Client(path).go("vol") as client:
        client.write(0, b"x")
        store.resize("vol", 4 * B)  # vlmc resize on the host whose vlmcd serves it
        client.write(B, b"y")  # the open connection keeps working
        with nbd.Client(path).go("vol") as second:
            assert second.size == 4 * B
            second.write(3 * B, b"z")
            assert second.read(0, 1) + second.read(B, 1) + second.read(3 * B, 1) == b"xyz"
    assert VolumeStore(store.config, "node2/blockerm").info("vol")["size"] == 4 * B


def test_snapshots_are_served_read_only_without_a_lock(served):
    server, path = served
    store = admin(server)
    store.create("vol", 2 * B)
    store.write("vol", 0, b"data")
    store.snapshot("vol", "snap")
    store.close("vol")
    with nbd.Client(path).go("snap") as client:
        assert client.readonly and client.read(0, 4) == b"data"
        with pytest.raises(OSError) as raised:
            client.write(0, b"x")
        assert raised.value.errno == errno.EPERM
        assert store.locks.get("snap") is None


def test_write_zeroes_leaves_zero_blocks_unallocated(served):
    server, path = served
    store = admin(server)
    store.create("vol", 4 * B)
    with nbd.Client(path).go("vol") as client:
        client.write(B, b"x" * B)
        client.write_zeroes(0, 4 * B)
        assert client.read(0, 4 * B) == bytes(4 * B)
    info = store.info("vol")
    assert (info["zero"], info["writable"]) == (3, 1)


def test_killing_vlmcd_mid_write_leaves_a_valid_map_and_a_breakable_lock(own_process, tmp_path):
    nbd_tools()
    config_path, config, store = own_process
    size = 256 * B
    store.create("vol", size)
    image = tmp_path / "image.raw"
    image.write_bytes(random.Random(5).randbytes(size))
    daemon = Vlmcd(config_path, config.run_dir)
    copy = subprocess.Popen(["nbdcopy", "--synchronous", str(image), uri(daemon.socket, "vol")],
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while not any(store.storage.objects_dir.iterdir()):  # writes are under way
        assert time.monotonic() < deadline and copy.poll() is None
        time.sleep(0.005)
    daemon.stop(9)
    copy.wait(timeout=30)
    volume_map = mapfile.read(store.storage.maps_dir / "vol")  # decodes: not torn
    for index, entry in enumerate(volume_map.entries):
        if isinstance(entry, str):
            assert (store.storage.objects_dir / entry).is_file()
            assert store.read("vol", index * B, B) == image.read_bytes()[index * B : (index + 1) * B]
        else:
            assert entry is None
    assert store.locks.get("vol").owner.endswith("/vlmcd")
    with pytest.raises(Exception, match="locked by"):
        store.remove("vol")
    store.unlock("vol", force=True)
    store.remove("vol")
    assert list(store.storage.objects_dir.iterdir()) == []


def test_a_restarted_vlmcd_takes_its_locks_back(own_process):
    config_path, config, store = own_process
    store.create("vol", 4 * B)
    first = Vlmcd(config_path, config.run_dir)
    client = nbd.Client(str(first.socket)).go("vol")
    client.write(0, b"one")
    first.stop(9)
    client.close()
    assert store.locks.get("vol").pid == first.process.pid  # stale: its daemon is gone
    second = Vlmcd(config_path, config.run_dir)
    with nbd.Client(str(second.socket)).go("vol") as client:
        client.write(3, b"two")
        assert store.locks.get("vol").pid == second.process.pid
    second.stop()
    assert store.locks.get("vol") is None and store.read("vol", 0, 6) == b"onetwo"


def test_writes_stop_once_the_lock_is_broken(served):
    """unlock -f is for dead holders; if the holder is alive after all, it must not write on
    into a volume another host may own now."""
    server, path = served
    store = admin(server)
    store.create("vol", 2 * B)
    with nbd.Client(path).go("vol") as client:
        client.write(0, b"mine")
        store.unlock("vol", force=True)
        VolumeStore(store.config, "node2/vlmcd").open("vol")
        with pytest.raises(OSError) as raised:
            client.write(0, b"late")
        assert raised.value.errno == errno.EPERM
        assert client.read(0, 4) == b"mine"
    assert store.locks.get("vol").owner == "node2/vlmcd"  # closing left node2's lock alone


def test_sigterm_finishes_and_releases_the_locks(own_process):
    config_path, config, store = own_process
    store.create("vol", 4 * B)
    daemon = Vlmcd(config_path, config.run_dir)
    client = nbd.Client(str(daemon.socket)).go("vol")
    client.write(0, b"kept")
    assert store.locks.get("vol") is not None
    assert daemon.stop() == 0
    client.close()
    assert store.locks.get("vol") is None
    assert store.read("vol", 0, 4) == b"kept"
    assert not daemon.socket.exists() and not (config.run_dir / "vlmcd.pid").exists()
    assert "opened vol" in (config.log_dir / "vlmcd.log").read_text()


def test_a_second_vlmcd_on_the_same_socket_is_refused(served, tmp_path):
    server, path = served
    with pytest.raises(RuntimeError, match="already serves"):
        vlmcd.listen(server.exports.store.config, make_store(tmp_path / "other"))


def test_stop_ends_idle_and_stuck_connections_and_releases_the_locks(served):
    """stop() is bounded: a client that connected and said nothing, one idle between requests,
    and one that stopped reading the reply of a large read (vlmcd blocked sending it) all end;
    their volumes are closed and unlocked."""
    server, path = served
    store = admin(server)
    store.create("idle", 4 * B)
    store.create("stuck", nbd.MAX_REQUEST)
    silent = socket.socket(socket.AF_UNIX)
    silent.connect(path)
    idle = nbd.Client(path).go("idle")
    stuck = nbd.Client(path).go("stuck")
    stuck.send(nbd.CMD_READ, 0, nbd.MAX_REQUEST)  # its reply fills the socket buffers, unread
    assert store.locks.get("idle") is not None and store.locks.get("stuck") is not None
    stopping = threading.Thread(target=server.stop, kwargs={"grace": 0.5})
    stopping.start()
    stopping.join(60)
    assert not stopping.is_alive(), "vlmcd's stop did not return"
    assert store.locks.get("idle") is None and store.locks.get("stuck") is None
    assert not server.connections
    for sock in (silent, idle.sock, stuck.sock):
        sock.close()
