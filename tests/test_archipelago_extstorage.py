"""The Ganeti ExtStorage provider ``archipelago``, script by script: installed by
deploy/install-extstorage into a directory, run as Ganeti runs them (only Ganeti's variables
in the environment), checked against the volume store."""

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from synnefo.archipelago import config as archip_config
from synnefo.archipelago.device import mappings as device_mappings
from synnefo.archipelago.store import VolumeStore
from tests.archip_helpers import Vlmcd, device_support, write_config_file

ROOT = Path(__file__).resolve().parent.parent
INSTALL = ROOT / "deploy" / "install-extstorage"
BLOCK = 64 * 1024
MiB = 1 << 20
GANETI_NAME = "0d5c4c57-6a4c-4b4c-9e55-6d9f0ad3b7a2.ext.disk0"


@pytest.fixture
def provider(tmp_path):
    """The provider installed under tmp_path/es/archipelago over a fresh store, and the node's
    vlmcd; ``run(script, **env)`` runs one script with only the given variables (as Ganeti
    does: a clean environment)."""
    device_support()  # the node must be able to map what it creates
    config = write_config_file(tmp_path / "archipelago", tmp_path / "store", block_size=BLOCK)
    result = subprocess.run([str(INSTALL), "--dir", str(tmp_path / "es"), "--python", sys.executable,
                             "--archipelago-config", str(config), "--host", "node1.test"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "installed" in result.stdout
    directory = tmp_path / "es" / "archipelago"

    def run(script, *args, **env):
        return subprocess.run([str(directory / script), *args], env={k: str(v) for k, v in env.items()},
                              capture_output=True, text=True, timeout=60)

    store = VolumeStore(archip_config.load(config), "node1.test/blockerm")
    # The node's vlmcd: create refuses without it (Ganeti could not attach the volume).
    vlmcd = Vlmcd(config, store.config.run_dir, {"ARCHIPELAGO_HOST": "node1.test"})
    yield run, store, directory, vlmcd
    vlmcd.stop()


def snapshot_with(store, data: bytes, name="snap1"):
    store.create("src", len(data))
    store.write("src", 0, data)
    store.snapshot("src", name)
    store.close("src")
    return name


def test_install_lays_out_every_script_and_is_idempotent(provider, tmp_path):
    _, _, directory, _ = provider
    scripts = ("create", "attach", "detach", "remove", "grow", "snapshot", "setinfo", "verify")
    for script in scripts:
        assert os.access(directory / script, os.X_OK), script
    assert (directory / "parameters.list").read_text().split()[0] == "origin"
    conf = (directory / "provider.conf").read_text()
    assert f"ARCHIPELAGO_CONFIG={tmp_path}/archipelago" in conf and "ARCHIPELAGO_HOST=node1.test" in conf
    before = {p.name: p.stat().st_mtime_ns for p in directory.iterdir()}
    again = subprocess.run([str(INSTALL), "--dir", str(tmp_path / "es"), "--python", sys.executable,
                            "--archipelago-config", str(tmp_path / "archipelago"), "--host", "node1.test"],
                           capture_output=True, text=True, timeout=60)
    assert again.returncode == 0, again.stderr
    assert {p.name: p.stat().st_mtime_ns for p in directory.iterdir()} == before  # nothing rewritten
    gone = subprocess.run([str(INSTALL), "--uninstall", "--dir", str(tmp_path / "es")], capture_output=True, text=True,
                          timeout=60)
    assert gone.returncode == 0 and not directory.exists() and (tmp_path / "es").is_dir(), gone.stderr


def test_create_empty_and_thin_clone(provider):
    run, store, _, _ = provider
    r = run("create", VOL_NAME=GANETI_NAME, VOL_SIZE=2)
    assert r.returncode == 0, r.stderr
    assert store.map_of(GANETI_NAME).size == 2 * MiB and store.read(GANETI_NAME, 0, 16) == bytes(16)

    data = os.urandom(3 * BLOCK + 100)
    snap = snapshot_with(store, data)
    objects_before = sorted(os.listdir(store.storage.objects_dir))
    r = run("create", VOL_NAME="d2.ext.disk0", VOL_CNAME="snf-vol-7", VOL_SIZE=1, EXTP_ORIGIN=snap)
    assert r.returncode == 0, r.stderr
    clone = store.map_of("snf-vol-7")
    # A thin clone: the snapshot's blocks, named, not copied; the rest zero up to VOL_SIZE.
    assert clone.size == MiB and clone.entries[:4] == store.map_of(snap).entries
    assert all(entry is None for entry in clone.entries[4:])
    assert sorted(os.listdir(store.storage.objects_dir)) == objects_before
    assert store.read("snf-vol-7", 0, len(data)) == data
    assert not store.exists("d2.ext.disk0")  # VOL_CNAME names the volume

    # An image's map exported to PITHOSMAPS (what Cyclades sends) clones the same way.
    digests = [store.blocks.put(data[i:i + BLOCK]) for i in range(0, len(data), BLOCK)]
    exported = store.export_pithos_map(f"{digests[0].hex()}-{len(data)}", digests, len(data))
    r = run("create", VOL_NAME="d3.ext.disk0", VOL_SIZE=1, EXTP_ORIGIN=exported)
    assert r.returncode == 0, r.stderr
    assert store.read("d3.ext.disk0", 0, len(data)) == data


def test_grow_snapshot_setinfo_remove(provider):
    run, store, _, _ = provider
    assert run("create", VOL_NAME=GANETI_NAME, VOL_CNAME="snf-vol-9", VOL_SIZE=1).returncode == 0
    store.write("snf-vol-9", 10, b"written")
    store.close("snf-vol-9")

    r = run("grow", VOL_NAME=GANETI_NAME, VOL_CNAME="snf-vol-9", VOL_SIZE=1, VOL_NEW_SIZE=3)
    assert r.returncode == 0, r.stderr
    assert store.map_of("snf-vol-9").size == 3 * MiB

    # Ganeti gives the snapshot script VOL_NAME only: create's record says which volume it is.
    r = run("snapshot", VOL_NAME=GANETI_NAME, VOL_SNAPSHOT_NAME=f"{GANETI_NAME}.snap", VOL_SNAPSHOT_SIZE=3072)
    assert r.returncode == 0, r.stderr
    assert store.read(f"{GANETI_NAME}.snap", 10, 7) == b"written"
    assert store.info(f"{GANETI_NAME}.snap")["type"] == "snapshot"

    r = run("setinfo", VOL_NAME=GANETI_NAME, VOL_CNAME="snf-vol-9", VOL_METADATA="originstname+snf-42")
    assert r.returncode == 0, r.stderr
    record = json.loads((store.storage.maps_dir / ".extstorage" / GANETI_NAME).read_text())
    assert record == {"volume": "snf-vol-9", "origin": None, "metadata": "originstname+snf-42"}

    r = run("remove", VOL_NAME=GANETI_NAME, VOL_CNAME="snf-vol-9")
    assert r.returncode == 0, r.stderr
    assert not store.exists("snf-vol-9") and not (store.storage.maps_dir / ".extstorage" / GANETI_NAME).exists()
    assert store.exists(f"{GANETI_NAME}.snap")  # the snapshot is its own map


def test_create_adopts_a_volume_made_beforehand(provider):
    """Cyclades may make a server's volume in the store itself (a thin clone, snf-vol-<id>) and
    send only its name: create makes it this Ganeti disk, once."""
    run, store, _, _ = provider
    data = os.urandom(BLOCK + 7)
    store.clone("snf-vol-5", snapshot_with(store, data), 2 * MiB)
    r = run("create", VOL_NAME=GANETI_NAME, VOL_CNAME="snf-vol-5", VOL_SIZE=2)
    assert r.returncode == 0, r.stderr
    assert store.read("snf-vol-5", 0, len(data)) == data  # kept as it was
    record = json.loads((store.storage.maps_dir / ".extstorage" / GANETI_NAME).read_text())
    assert record == {"volume": "snf-vol-5", "origin": None, "adopted": True}
    assert run("create", VOL_NAME=GANETI_NAME, VOL_CNAME="snf-vol-5", VOL_SIZE=2).returncode == 0  # a retry
    r = run("create", VOL_NAME="second.ext.disk0", VOL_CNAME="snf-vol-5", VOL_SIZE=2)
    assert r.returncode == 1 and "is the disk" in r.stderr  # never two disks on one volume
    store.create("snf-vol-6", MiB)
    r = run("create", VOL_NAME="d6.ext.disk0", VOL_CNAME="snf-vol-6", VOL_SIZE=2)
    assert r.returncode == 1 and "already exists with 1 MiB, not VOL_SIZE 2" in r.stderr
    r = run("create", VOL_NAME="d7.ext.disk0", VOL_CNAME="snap1", VOL_SIZE=2)
    assert r.returncode == 1 and "is a snapshot" in r.stderr
    VolumeStore(store.config, "node2.test/blockerm").open("snf-vol-6")
    r = run("create", VOL_NAME="d6.ext.disk0", VOL_CNAME="snf-vol-6", VOL_SIZE=1)
    assert r.returncode == 1 and "in use (locked by node2.test/blockerm)" in r.stderr
    assert not (store.storage.maps_dir / ".extstorage" / "d6.ext.disk0").exists()
    assert run("remove", VOL_NAME=GANETI_NAME, VOL_CNAME="snf-vol-5").returncode == 0  # Ganeti's now
    assert not store.exists("snf-vol-5")


def test_bad_input_is_refused_and_changes_nothing(provider, tmp_path):
    run, store, directory, _ = provider

    def listing():
        return sorted(str(p.relative_to(store.storage.maps_dir)) for p in store.storage.maps_dir.rglob("*") if ".mutex" not in p.parts)

    def refused(script, expected, code=1, **env):
        before = listing()
        r = run(script, **env)
        assert r.returncode == code, (r.returncode, r.stdout, r.stderr)
        assert r.stderr.startswith(f"archipelago {script}: ") and expected in r.stderr, r.stderr
        assert listing() == before
        return r

    refused("create", "unknown snapshot or image: no-such-image", VOL_NAME=GANETI_NAME, VOL_SIZE=1,
            EXTP_ORIGIN="no-such-image")
    refused("create", "VOL_NAME is not set", VOL_SIZE=1)
    refused("create", "VOL_SIZE must be a positive number of MiB, got '1G'", VOL_NAME=GANETI_NAME, VOL_SIZE="1G")
    refused("create", "invalid volume name", VOL_NAME=GANETI_NAME, VOL_CNAME="my disk", VOL_SIZE=1)
    snap = snapshot_with(store, os.urandom(2 * MiB))
    refused("create", "smaller than snap1", VOL_NAME=GANETI_NAME, VOL_SIZE=1, EXTP_ORIGIN=snap)
    refused("create", "src is a volume, not a snapshot", VOL_NAME=GANETI_NAME, VOL_SIZE=2, EXTP_ORIGIN="src")

    assert run("create", VOL_NAME=GANETI_NAME, VOL_SIZE=2).returncode == 0
    refused("create", "already exists", VOL_NAME=GANETI_NAME, VOL_SIZE=2, EXTP_ORIGIN=snap)
    refused("create", f"{GANETI_NAME} already exists and is the disk {GANETI_NAME} of Ganeti",
            VOL_NAME="other.ext.disk0", VOL_CNAME=GANETI_NAME, VOL_SIZE=2)
    refused("grow", "cannot shrink", VOL_NAME=GANETI_NAME, VOL_SIZE=2, VOL_NEW_SIZE=1)
    assert store.map_of(GANETI_NAME).size == 2 * MiB
    refused("grow", "VOL_NEW_SIZE must be a positive number", VOL_NAME=GANETI_NAME, VOL_SIZE=2)
    refused("grow", "no such volume or snapshot: other", VOL_NAME="other", VOL_SIZE=2, VOL_NEW_SIZE=3)
    refused("snapshot", "VOL_SNAPSHOT_NAME is not set", VOL_NAME=GANETI_NAME)
    refused("remove", "no such volume or snapshot", VOL_NAME="other")
    refused("remove", "VOL_NAME is not set")
    # A volume in use (open, locked) by another node is not removed.
    other = VolumeStore(store.config, "node2.test/blockerm")
    other.open(GANETI_NAME)
    refused("remove", "open or locked by node2.test/blockerm", VOL_NAME=GANETI_NAME)
    refused("grow", "locked by node2.test/blockerm", VOL_NAME=GANETI_NAME, VOL_SIZE=2, VOL_NEW_SIZE=4)
    other.close(GANETI_NAME)
    assert run("remove", VOL_NAME=GANETI_NAME).returncode == 0

    # Usage: -h, and arguments where there are none.
    r = run("create", "-h")
    assert r.returncode == 0 and "usage: create" in r.stdout
    r = run("remove", "extra")
    assert r.returncode == 2 and "usage: remove" in r.stderr

    # verify: the configuration and the store, and an origin given as parameter.
    assert run("verify").returncode == 0
    refused("verify", "unknown snapshot or image: nope", EXTP_ORIGIN="nope")
    conf = directory / "provider.conf"
    good = conf.read_text()
    conf.write_text(good.replace(f"{tmp_path}/archipelago", f"{tmp_path}/missing"))
    r = run("verify")
    assert r.returncode == 2 and "no such configuration file" in r.stderr
    conf.unlink()
    r = run("create", VOL_NAME=GANETI_NAME, VOL_SIZE=1)
    assert r.returncode == 2 and "provider.conf is missing (run deploy/install-extstorage)" in r.stderr
    conf.write_text(good)


def test_install_refuses_a_python_without_synnefo(tmp_path):
    r = subprocess.run([str(INSTALL), "--dir", str(tmp_path / "es"), "--python", "/bin/false"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "cannot import synnefo.archipelago.extstorage" in r.stderr
    assert not (tmp_path / "es").exists()


def test_attach_maps_a_block_device_and_detach_unmaps_it(provider):
    run, store, _, vlmcd = provider
    data = os.urandom(BLOCK + 500)
    snap = snapshot_with(store, data)
    env = {"VOL_NAME": GANETI_NAME, "VOL_CNAME": "snf-vol-3"}
    assert run("create", VOL_SIZE=1, EXTP_ORIGIN=snap, **env).returncode == 0
    try:
        r = run("attach", **env)
        assert r.returncode == 0, r.stderr
        path = r.stdout.strip()
        assert path.startswith("/dev/loop") and stat.S_ISBLK(os.stat(path).st_mode)
        assert run("attach", **env).stdout.strip() == path  # idempotent: the same device
        assert store.locks.get("snf-vol-3").owner == "node1.test/vlmcd"
        fd = os.open(path, os.O_RDWR)
        try:
            assert os.pread(fd, len(data), 0) == data
            os.pwrite(fd, b"through the device", BLOCK)
            os.fsync(fd)
        finally:
            os.close(fd)
        # Grow while mapped (Ganeti grows attached disks): vlmcd serves the new map.
        r = run("grow", VOL_SIZE=1, VOL_NEW_SIZE=2, **env)
        assert r.returncode == 0, r.stderr
        assert store.map_of("snf-vol-3").size == 2 * MiB
        refused = run("remove", **env)  # Ganeti detaches first; a mapped volume stays
        assert refused.returncode == 1 and "locked by node1.test/vlmcd" in refused.stderr

        assert run("detach", **env).returncode == 0
        assert store.locks.get("snf-vol-3") is None and not device_mappings(store.config)
        assert store.read("snf-vol-3", BLOCK, 18) == b"through the device"
        assert store.read(snap, BLOCK, 18) == data[BLOCK:BLOCK + 18]  # copy-on-write
        assert run("detach", **env).returncode == 0  # idempotent: nothing mapped
        r = run("attach", VOL_NAME="nope")
        assert r.returncode == 1 and "no such volume or snapshot: nope" in r.stderr
        assert run("remove", **env).returncode == 0
        # Without the node's vlmcd: attach and create say so; create makes nothing (Ganeti
        # would not remove a disk it could not attach).
        vlmcd.stop()
        r = run("attach", VOL_NAME="d5.ext.disk0", VOL_CNAME=snap)
        assert r.returncode == 1 and "vlmcd is not running" in r.stderr, r.stderr
        maps = sorted(os.listdir(store.storage.maps_dir))
        r = run("create", VOL_NAME="d5.ext.disk0", VOL_SIZE=1)
        assert r.returncode == 1 and "vlmcd is not running on this node" in r.stderr and "nothing created" in r.stderr
        assert sorted(os.listdir(store.storage.maps_dir)) == maps
    finally:
        for mapping in device_mappings(store.config):
            subprocess.run(["losetup", "-d", mapping.device], capture_output=True)
