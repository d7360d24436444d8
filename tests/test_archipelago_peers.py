"""The archipelago tool (start, stop, restart, status, -u) and the store-side peers' work."""

import io
import os
import time

import pytest

from synnefo.archipelago import archipelago, keepers, mapfile, peers
from synnefo.archipelago import config as archip_config
from synnefo.archipelago.locks import default_owner
from synnefo.archipelago.store import VolumeStore
from tests.archip_helpers import SMALL_BLOCK, device_config, make_store, write_config_file

B = SMALL_BLOCK


def run(config_path, *argv):
    out = io.StringIO()
    return archipelago.main(["-c", str(config_path), *argv], out=out), out.getvalue()


@pytest.fixture
def node(tmp_path):
    path = device_config(tmp_path)
    path.write_text(path.read_text() + "KEEPER_INTERVAL=0.05\nVERBOSITY_MAPPER=1\nVERBOSITY_BLOCKERB=1\n")
    yield path, archip_config.load(path)
    run(path, "stop")


def statuses(config_path):
    code, out = run(config_path, "status")
    assert code == 0
    return dict(line.split("\t") for line in out.splitlines())


def test_start_status_stop_restart_and_userspace_only(node):
    path, config = node
    assert statuses(path) == {peer: "stopped" for peer in peers.PEERS}
    code, out = run(path, "start")
    assert code == 0 and [line.split(":")[0] for line in out.splitlines()] == list(peers.PEERS)
    status = statuses(path)
    for peer in peers.PEERS:
        pid = peers.running_pid(config, peer)
        assert status[peer] == f"running (pid {pid})"
        assert (config.run_dir / f"{peer}.pid").read_text().strip() == str(pid)
        assert (config.log_dir / f"{peer}.log").exists()
    assert run(path, "start", "vlmcd")[1] == f"vlmcd: already running (pid {peers.running_pid(config, 'vlmcd')})\n"
    assert run(path, "-u", "stop") == (0, "mapperd: stopped\nblockerm: stopped\nblockerb: stopped\n")
    assert statuses(path)["vlmcd"].startswith("running") and statuses(path)["mapperd"] == "stopped"
    assert run(path, "-u", "stop", "vlmcd")[0] == 1  # not a userspace peer
    old = peers.running_pid(config, "vlmcd")
    assert run(path, "restart", "vlmcd")[0] == 0
    assert peers.running_pid(config, "vlmcd") not in (None, old)
    assert run(path, "stop")[0] == 0
    assert statuses(path) == {peer: "stopped" for peer in peers.PEERS}
    assert not any((config.run_dir / f"{peer}.pid").exists() for peer in peers.PEERS)
    assert "serving volumes on" in (config.log_dir / "vlmcd.log").read_text()


def test_a_stale_pid_file_counts_as_stopped(node):
    path, config = node
    config.run_dir.mkdir(parents=True, exist_ok=True)
    (config.run_dir / "blockerm.pid").write_text(f"{os.getpid()}\n")  # a live pid, but not blockerm
    assert statuses(path)["blockerm"] == "stopped"
    assert run(path, "start", "blockerm")[0] == 0
    assert peers.running_pid(config, "blockerm") != os.getpid()


@pytest.mark.parametrize(
    "text, message",
    [
        ('STORAGE="files"\nFILED_MAPS=/m\nPITHOS=/p\n', "needs FILED_IMAGES, PITHOSMAPS"),
        ('STORAGE="rados"\nRADOS_POOL_BLOCKS=b\n', "needs RADOS_POOL_MAPS"),
    ],
)
def test_start_is_refused_naming_the_missing_settings(tmp_path, capsys, text, message):
    path = tmp_path / "archipelago"
    path.write_text(text)
    assert run(path, "start")[0] == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_start_on_rados_is_refused_without_the_cluster(tmp_path, capsys):
    from synnefo.common.radosclient import rados_available

    path = tmp_path / "archipelago"
    path.write_text('STORAGE="rados"\nRADOS_POOL_MAPS=m\nRADOS_POOL_BLOCKS=b\nCEPH_CONF=/nonexistent/ceph.conf\n'
                    f'RUN_DIR={tmp_path}/run\n')
    assert run(path, "start")[0] == (1 if rados_available() else 2)
    assert ("no Ceph configuration file" if rados_available() else "rados backend is not available") \
        in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_start_is_refused_when_the_store_is_not_mounted(tmp_path, capsys):
    path = write_config_file(tmp_path / "archipelago", tmp_path / "store")
    (tmp_path / "store" / "maps").rmdir()
    assert run(path, "start")[0] == 1
    assert "maps does not exist (is the store mounted?" in capsys.readouterr().err


def test_mapperd_releases_the_locks_of_this_hosts_dead_vlmcd(node):
    path, config = node
    store = VolumeStore(config)
    for name in ("served", "opened", "theirs"):
        store.create(name, B)
    VolumeStore(config, default_owner("vlmcd")).open("served")  # a vlmcd that died holding it
    store.open("opened")  # vlmc open: administrative, stays
    VolumeStore(config, "otherhost/vlmcd").open("theirs")
    assert run(path, "start", "mapperd")[0] == 0
    deadline = time.monotonic() + 30
    while store.locks.get("served") is not None:
        assert time.monotonic() < deadline, "mapperd did not release the stale lock"
        time.sleep(0.02)
    assert store.locks.get("opened").owner == store.owner
    assert store.locks.get("theirs").owner == "otherhost/vlmcd"
    assert "released the lock of served" in (config.log_dir / "mapperd.log").read_text()


def test_mapperd_leaves_the_locks_of_a_running_vlmcd(node):
    path, config = node
    store = VolumeStore(config)
    store.create("vol", B)
    assert run(path, "start", "vlmcd")[0] == 0
    VolumeStore(config, default_owner("vlmcd")).open("vol")
    assert keepers.release_stale_locks(store, config) == []
    assert run(path, "stop", "vlmcd")[0] == 0
    assert keepers.release_stale_locks(store, config) == ["vol"]


def test_blockerb_deletes_crash_leftovers_only(tmp_path):
    store = make_store(tmp_path)
    store.create("vol", 2 * B)
    store.write("vol", 0, b"x")
    store.create("gone", 2 * B)
    store.write("gone", 0, b"y")
    (store.storage.maps_dir / "gone").unlink()  # a crash in the middle of remove: its object stays
    old, young = store.storage.objects_dir / ".tmp-vol_0000000000000001_0000000000000001-abcdef", store.storage.maps_dir / ".tmp-vol-123456"
    old.write_bytes(b"partial")
    young.write_bytes(b"being written")
    hour_ago = time.time() - 2 * keepers.LEFTOVER_AGE
    for path in (old, *store.storage.objects_dir.glob("gone_*")):
        os.utime(path, (hour_ago, hour_ago))
    removed = keepers.sweep_leftovers(store)
    assert sorted(os.path.basename(p) for p in removed) == sorted([old.name, "gone_0000000000000001_0000000000000000"])
    assert young.exists() and store.read("vol", 0, 1) == b"x"
    assert keepers.sweep_leftovers(store) == []


def test_blockerm_reports_missing_objects_blocks_and_broken_maps(tmp_path):
    store = make_store(tmp_path)
    store.create("vol", 3 * B)
    store.write("vol", 0, b"a")
    store.write("vol", B, b"b")
    store.snapshot("vol", "snap")
    store.write("vol", 2 * B, b"c")
    assert keepers.check_maps(store) == {"maps": 2, "objects": 1, "blocks": 2, "problems": []}
    (store.storage.objects_dir / mapfile.read(store.storage.maps_dir / "vol").entries[2]).unlink()
    digest = mapfile.read(store.storage.maps_dir / "snap").entries[0]
    os.unlink(store.blocks._path(digest.hex()))
    (store.storage.maps_dir / "broken").write_bytes(b"AMF.")
    problems = keepers.check_maps(store)["problems"]
    assert len(problems) == 3
    assert "broken" in problems[0] and "truncated" in problems[0]
    assert any("vol block 2: object" in p and "missing" in p for p in problems)
    assert any(f"block {digest.hex()} is missing from the Pithos store" in p for p in problems)
