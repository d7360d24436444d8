"""vlmc map / unmap / showmapped: a real block device (loop over nbdfuse over vlmcd's NBD),
whose reads and writes equal the store API's."""

import io
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synnefo.archipelago import config as archip_config
from synnefo.archipelago import archipelago, device, vlmc
from synnefo.archipelago.store import VolumeStore
from tests.archip_helpers import SMALL_BLOCK, Vlmcd, device_config, device_support
from tests.services import require

B = SMALL_BLOCK


class Node:
    """A configuration, its store (as vlmc sees it) and a running vlmcd."""

    def __init__(self, tmp_path, config_path=None):
        self.config_path = config_path or device_config(tmp_path)
        self.config = archip_config.load(self.config_path)
        self.store = VolumeStore(self.config)
        self.vlmcd = Vlmcd(self.config_path, self.config.run_dir)

    def vlmc(self, *argv) -> tuple[int, str]:
        out = io.StringIO()
        return vlmc.main(["-c", str(self.config_path), *argv], out=out), out.getvalue()

    def map(self, volume) -> str:
        code, out = self.vlmc("map", volume)
        assert code == 0
        return out.strip()

    def cleanup(self):
        try:
            for mapping in device.mappings(self.config):
                device.unmap(self.config, self.store, str(mapping.id))
        finally:
            self.vlmcd.stop()


@pytest.fixture
def node(tmp_path):
    device_support()
    node = Node(tmp_path)
    yield node
    node.cleanup()


def write_device(path, offset, data):
    fd = os.open(path, os.O_WRONLY)
    try:
        os.pwrite(fd, data, offset)
        os.fsync(fd)
    finally:
        try:
            os.close(fd)
        except OSError:
            pass  # a refused write is reported again by close


def read_device(path, offset, length):
    """Read past the device's page cache (O_DIRECT, aligned), to see what the volume holds."""
    import mmap

    start, end = offset // 4096 * 4096, -(-(offset + length) // 4096) * 4096
    buffer = mmap.mmap(-1, end - start)
    fd = os.open(path, os.O_RDONLY | os.O_DIRECT)
    try:
        got = os.preadv(fd, [buffer], start)
    finally:
        os.close(fd)
    return bytes(buffer[offset - start : min(offset - start + length, got)])


def test_map_gives_a_block_device_equal_to_the_store_api(node):
    size = 64 * B
    node.store.create("vol", size)
    node.store.write("vol", 5000, b"from the api")
    node.store.close("vol")
    dev = node.map("vol")
    assert dev.startswith("/dev/loop")
    assert int(subprocess.run(["blockdev", "--getsize64", dev], capture_output=True, text=True, check=True).stdout) == size
    assert read_device(dev, 0, size) == node.store.read("vol", 0, size)
    write_device(dev, 3 * B + 7, b"through the device")
    assert node.store.read("vol", 3 * B + 7, 18) == b"through the device"
    assert node.store.locks.get("vol").owner.endswith("/vlmcd")
    code, out = node.vlmc("showmapped")
    assert out.splitlines() == ["id\tvolume\tdevice\tstate", f"0\tvol\t{dev}\tmapped"]
    code, out = node.vlmc("unmap", dev)
    assert (code, out) == (0, f"unmapped {dev} (vol)\n")
    assert node.store.locks.get("vol") is None  # vlmcd released it
    assert node.vlmc("showmapped")[1] == "id\tvolume\tdevice\tstate\n"
    node.store.remove("vol")


def test_qemu_img_compare_round_trip_through_the_device(node, tmp_path):
    size = 128 * B
    node.store.create("vol", size)
    dev = node.map("vol")
    image = tmp_path / "image.raw"
    image.write_bytes(random.Random(11).randbytes(size))
    subprocess.run(["qemu-img", "convert", "-n", "-f", "raw", "-O", "raw", "-t", "none", str(image), dev], check=True)
    compare = subprocess.run(["qemu-img", "compare", "-f", "raw", "-F", "raw", "-T", "none", str(image), dev],
                             capture_output=True, text=True)
    assert compare.returncode == 0, compare.stdout + compare.stderr
    assert node.store.read("vol", 0, size) == image.read_bytes()
    subprocess.run(["nbdcopy", dev, str(tmp_path / "back.raw")], check=True)
    assert (tmp_path / "back.raw").read_bytes() == image.read_bytes()


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(st.tuples(st.integers(0, 16 * B - 1), st.integers(1, 3 * B), st.integers(0, 255)),
                    min_size=1, max_size=25))
def test_random_writes_through_the_device_match_a_byte_model(node, ops):
    size = 16 * B
    name = f"vol-{random.randrange(1 << 30)}"
    node.store.create(name, size)
    model = bytearray(size)
    dev = node.map(name)
    fd = os.open(dev, os.O_RDWR)
    try:
        for offset, length, byte in ops:
            data = bytes([byte]) * min(length, size - offset)
            model[offset : offset + len(data)] = data
            os.pwrite(fd, data, offset)
        assert os.pread(fd, size, 0) == bytes(model)
        os.fsync(fd)
    finally:
        os.close(fd)
    assert read_device(dev, 0, size) == bytes(model)
    assert node.store.read(name, 0, size) == bytes(model)
    device.unmap(node.config, node.store, dev)
    node.store.remove(name)


def test_snapshot_of_a_mapped_volume_keeps_the_bytes_of_that_moment(node):
    size = 8 * B
    node.store.create("vol", size)
    dev = node.map("vol")
    write_device(dev, 0, b"A" * size)
    assert node.vlmc("snapshot", "vol", "snap")[0] == 0  # vlmc, on the host whose vlmcd has it
    write_device(dev, B, b"B" * B)
    write_device(dev, 0, b"C" * 10)
    assert node.store.read("snap", 0, size) == b"A" * size
    assert read_device(dev, 0, size) == b"C" * 10 + b"A" * (B - 10) + b"B" * B + b"A" * (size - 2 * B)
    device.unmap(node.config, node.store, dev)
    snap_dev = node.map("snap")  # a snapshot maps read-only
    assert read_device(snap_dev, 0, size) == b"A" * size
    assert Path(f"/sys/block/{Path(snap_dev).name}/ro").read_text().strip() == "1"
    with pytest.raises(OSError):
        write_device(snap_dev, 0, b"x" * 512)


def test_map_refusals_are_clear_and_change_nothing(node, capsys):
    node.store.create("vol", 4 * B)
    assert node.vlmc("map", "nope")[0] == 1
    assert "no such volume or snapshot: nope" in capsys.readouterr().err
    dev = node.map("vol")
    assert node.vlmc("map", "vol")[0] == 1
    assert f"vol is already mapped at {dev}" in capsys.readouterr().err
    assert node.vlmc("remove", "vol")[0] == 1
    assert f"vol is mapped at {dev}: vlmc unmap {dev} first" in capsys.readouterr().err
    with pytest.raises(Exception, match="locked by"):  # the store refuses it too
        node.store.remove("vol")
    assert node.store.exists("vol")
    assert node.vlmc("unmap", "/dev/loop999")[0] == 1
    assert "/dev/loop999 is not mapped" in capsys.readouterr().err
    other = VolumeStore(node.config, "otherhost/vlmcd")
    other.create("theirs", B)
    other.open("theirs")
    assert node.vlmc("map", "theirs")[0] == 1
    assert "cannot map theirs: volume theirs is locked by otherhost/vlmcd" in capsys.readouterr().err
    assert len(device.mappings(node.config)) == 1


def test_a_mounted_device_is_not_unmapped(node, tmp_path):
    node.store.create("vol", 64 * B)
    dev = node.map("vol")
    fd = os.open(dev, os.O_RDONLY | os.O_EXCL)  # what a mount or a hypervisor does
    try:
        with pytest.raises(device.DeviceError, match="is in use"):
            device.unmap(node.config, node.store, dev)
    finally:
        os.close(fd)
    assert device.find(node.config, dev).state() == "mapped"


def test_map_without_vlmcd_says_how_to_start_it(node, capsys):
    node.store.create("vol", B)
    node.vlmcd.stop()
    assert node.vlmc("map", "vol")[0] == 1
    err = capsys.readouterr().err
    assert "vlmcd is not running" in err and "archipelago start" in err
    assert device.mappings(node.config) == []


def test_a_stale_mapping_is_shown_and_cleaned_by_unmap(node):
    node.store.create("vol", 4 * B)
    dev = node.map("vol")
    mapping = device.find(node.config, "vol")
    node.vlmcd.stop(signal.SIGKILL)  # the daemon crashed: its lock stays, the device errors
    with pytest.raises(OSError):
        read_device(dev, 0, B)
    os.kill(mapping.nbdfuse_pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while mapping.state() != "stale":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert node.vlmc("showmapped")[1].splitlines()[1] == f"0\tvol\t{dev}\tstale"
    assert node.vlmc("unmap", dev)[0] == 0
    assert device.mappings(node.config) == [] and not os.path.exists(mapping.mount)
    assert node.store.locks.get("vol").owner.endswith("/vlmcd")  # recovered by hand:
    assert node.vlmc("unlock", "-f", "vol")[0] == 0
    node.vlmcd = Vlmcd(node.config_path, node.config.run_dir)
    dev = node.map("vol")
    write_device(dev, 0, b"again")
    assert node.store.read("vol", 0, 5) == b"again"


def test_archipelago_stop_refuses_while_volumes_are_mapped(node, capsys):
    node.store.create("vol", B)
    dev = node.map("vol")
    assert archipelago.main(["-c", str(node.config_path), "stop"], out=io.StringIO()) == 1
    assert f"vlmcd serves mapped volumes: {dev} (vol); vlmc unmap them first" in capsys.readouterr().err
    assert node.vlmcd.process.poll() is None
    assert node.vlmc("unmap", dev)[0] == 0
    assert archipelago.main(["-c", str(node.config_path), "stop", "vlmcd"], out=io.StringIO()) == 0
    assert node.vlmcd.process.wait(timeout=60) == 0


def test_a_filesystem_on_the_device_survives_snapshot_and_clone(node, tmp_path):
    """What a hypervisor's guest does: a filesystem on the device; a snapshot taken while it is
    mounted (after sync), cloned and mapped, holds the same files. (Mounts happen in a private
    mount namespace: a namespace another program creates meanwhile must not copy them and keep
    the device busy.)"""
    require(shutil.which("mkfs.ext4") is not None and shutil.which("unshare") is not None,
            "e2fsprogs (mkfs.ext4) or unshare is not installed")
    node.store.create("vol", 16 << 20)
    dev = node.map("vol")
    subprocess.run(["mkfs.ext4", "-q", dev], check=True)
    mount, source = tmp_path / "mnt", tmp_path / "content"
    mount.mkdir()
    source.write_bytes(random.Random(2).randbytes(3 << 20))
    vlmc_command = f"{sys.executable} -m synnefo.archipelago.vlmc -c {node.config_path}"

    def in_private_namespace(script):
        subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-ec", script], check=True,
                       env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})

    in_private_namespace(f"mount {dev} {mount}; cp {source} {mount}/file; sync -f {mount}/file;"
                         f" {vlmc_command} snapshot vol snap; echo changed > {mount}/file; umount {mount}")
    assert node.vlmc("create", "clone", "--snap", "snap")[0] == 0
    clone = node.map("clone")
    # Crash-consistent, as a power cut: the journal may be replayed (1: "errors corrected").
    check = subprocess.run(["fsck.ext4", "-fy", clone], capture_output=True, text=True)
    assert check.returncode in (0, 1), check.stdout + check.stderr
    in_private_namespace(f"mount -o ro {clone} {mount}; cmp {mount}/file {source}; umount {mount}")


def test_an_id_abandoned_by_a_crashed_map_is_reused(node):
    node.store.create("vol", B)
    mapped = node.config.run_dir / "mapped"
    mapped.mkdir(parents=True)
    (mapped / "0").mkdir()  # a vlmc map that died before it wrote its state
    old = time.time() - 10 * device.WAIT
    os.utime(mapped / "0", (old, old))
    (mapped / "1").mkdir()  # one being mapped right now: left alone
    node.store.create("vol2", B)
    assert node.map("vol") and node.map("vol2")
    assert (device.find(node.config, "vol").id, device.find(node.config, "vol2").id) == (0, 2)
    assert (mapped / "1").is_dir() and not (mapped / "1.json").exists()
