"""Volumes with Pithos: images as clone origins, snapshots as Pithos objects, and the block GC."""

import io
import os
import time

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from synnefo.archipelago import pithos as archip_pithos
from synnefo.archipelago.store import VolumeError, VolumeStore
from synnefo.pithos.backend import objects
from synnefo.pithos.backend.blocks import get_block_store, reset_block_store
from synnefo.plankton import backend as plankton
from tests.archip_helpers import make_config, write_config_file
from tests.pithos_helpers import Store, small_blocks  # noqa: F401

pytestmark = pytest.mark.django_db

GiB = 1 << 30


@pytest.fixture
def volumes(settings, small_blocks, tmp_path):  # noqa: F811
    """A volume store sharing the Pithos block store (1 KiB blocks), configured by file."""
    path = write_config_file(tmp_path / "archipelago", tmp_path / "archip", block_size=small_blocks)
    path.write_text(path.read_text().replace(f"PITHOS='{tmp_path}/archip/blocks'", f"PITHOS='{settings.PITHOS_BACKEND_BLOCK_PATH}'"))
    settings.ARCHIPELAGO_CONFIG = str(path)
    get_block_store()  # creates the Pithos block directory, as the first upload would
    return archip_pithos.node_store("node1/blockerm")


def age_all(root, seconds=10_000):
    old = time.time() - seconds
    for directory, _, names in os.walk(root):
        for name in names:
            os.utime(os.path.join(directory, name), (old, old))


def test_clone_of_a_10_gib_image_is_one_map_write(settings, tmp_path, client, alice, django_capture_on_commit_callbacks):
    settings.PITHOS_BACKEND_BLOCK_PATH = str(tmp_path / "blocks")  # real 4 MiB blocks
    reset_block_store()
    user = str(alice[0].uuid)
    block_size = settings.PITHOS_BACKEND_BLOCK_SIZE
    digest = get_block_store().put(b"image block")
    size = 10 * GiB
    objects.create_container(user, "images")
    with django_capture_on_commit_callbacks(execute=True):
        objects.commit_version(objects.get_container(user, "images"), "big.img", hashmap=digest * (size // block_size),
                               size=size, checksum="", content_type="application/octet-stream", user=user)
    image = plankton.register(user, f"pithos://{user}/images/big.img", {"name": "big"})
    store = VolumeStore(make_config(tmp_path / "archip", block_size=block_size, pithos=tmp_path / "blocks"), "n/blockerm",
                        create_dirs=True)
    map_bytes = 512 + (size // block_size) * 128  # 320 KiB for 10 GiB: the whole cost of a clone

    archip_pithos.clone(store, "disk", image.id)
    assert (store.stats.map_writes, store.stats.object_writes, store.stats.bytes_written) == (1, 0, map_bytes)
    assert store.stats.written_maps == ["disk"]
    # For nodes without the database: the image's map exported once, then cloned there.
    exported = archip_pithos.export_origin(store, image.id)
    assert archip_pithos.export_origin(store, image.id) == exported and store.stats.map_writes == 2
    store.clone("on-another-node", exported)
    assert (store.stats.map_writes, store.stats.object_writes, store.stats.bytes_written) == (3, 0, 3 * map_bytes)
    store.stats.bytes_written = 0

    assert store.read("disk", 5 * GiB, 16) == b"image block\0\0\0\0\0"
    assert store.read("disk", 10 * GiB - 4, 4) == bytes(4)
    store.write("disk", 5 * GiB, b"IMAGE")  # one block copied up, the image untouched
    assert store.stats.object_writes == 1 and store.stats.bytes_written == block_size + map_bytes
    s = Store(client, alice[0], alice[2])
    r = s.call("GET", "/images/big.img", HTTP_RANGE=f"bytes={5 * GiB}-{5 * GiB + 10}")
    assert s.body(r) == b"image block"
    assert store.read("disk", 5 * GiB, 11) == b"IMAGE block"


def test_clone_from_a_pithos_file_and_bad_origins(client, alice, volumes, django_capture_on_commit_callbacks):
    s = Store(client, alice[0], alice[2], on_commit=django_capture_on_commit_callbacks)
    s.call("PUT", "/images")
    content = os.urandom(2500)
    s.call("PUT", "/images/file.raw", content)
    user = str(alice[0].uuid)
    archip_pithos.clone(volumes, "vol", f"pithos://{user}/images/file.raw", 4096)
    assert volumes.read("vol", 0, 4096) == content + bytes(4096 - 2500)
    volumes.write("vol", 1000, b"changed")
    assert s.body(s.call("GET", "/images/file.raw")) == content  # the file is not changed
    for origin in (f"pithos://{user}/images/none", "pithos://bad", "5c7f8d9e-0000-4000-8000-000000000000", "nosuch"):
        with pytest.raises(VolumeError, match="unknown snapshot or image"):
            archip_pithos.clone(volumes, "other", origin)
    assert not volumes.exists("other")


def test_snapshot_is_a_pithos_object_with_the_same_bytes(client, alice, volumes, django_capture_on_commit_callbacks):
    user = str(alice[0].uuid)
    volumes.create("vol", 5 * 1024 + 100)
    volumes.write("vol", 10, b"first block")
    volumes.write("vol", 3 * 1024 - 5, b"spans two blocks")
    volumes.write("vol", 5 * 1024 + 90, b"the end.")  # block 1 and 4 stay zero
    volumes.snapshot("vol", "snap")
    with django_capture_on_commit_callbacks(execute=True):
        version = archip_pithos.register_snapshot(volumes, "snap", user)
    assert (version.container.name, version.name, version.size) == ("snapshots", "snap", 5 * 1024 + 100)
    volumes.write("vol", 10, b"after")  # later writes do not reach the snapshot

    s = Store(client, alice[0], alice[2], on_commit=django_capture_on_commit_callbacks)
    expected = volumes.read("snap", 0, 5 * 1024 + 100)
    r = s.call("GET", "/snapshots/snap")
    assert r.status_code == 200 and s.body(r) == expected and expected[10:21] == b"first block"
    assert r["X-Object-Meta-Archipelago-Snapshot"] == "snap"
    assert s.body(s.call("GET", "/snapshots/snap", HTTP_RANGE="bytes=3067-3082")) == b"spans two blocks"

    # Registered as an image, it deploys like any other: a clone reads the same bytes.
    image = plankton.register(user, f"pithos://{user}/snapshots/snap", {"name": "from a volume"})
    archip_pithos.clone(volumes, "restored", image.id)
    assert volumes.read("restored", 0, len(expected)) == expected

    with pytest.raises(VolumeError, match="not a snapshot"):
        archip_pithos.register_snapshot(volumes, "vol", user)
    with pytest.raises(VolumeError, match="no such volume or snapshot"):
        archip_pithos.register_snapshot(volumes, "missing", user)


def test_gc_keeps_blocks_of_volume_maps_and_collects_them_after_removes(settings, volumes):
    volumes.create("vol", 3 * 1024)
    volumes.write("vol", 0, b"A" * 1024 + b"B" * 1024)
    volumes.snapshot("vol", "snap")  # the two blocks are now content-addressed in the Pithos store
    volumes.clone("clone", "snap")
    blocks = get_block_store()
    digests = [d for d in volumes.map_of("snap").entries if d is not None]
    age_all(settings.PITHOS_BACKEND_BLOCK_PATH)

    out = io.StringIO()
    call_command("pithos-gc", "--grace", "3600", stdout=out)
    assert "deleted 0" in out.getvalue() and all(blocks.contains(d) for d in digests)

    volumes.remove("snap")
    volumes.close("vol")
    volumes.remove("vol")
    call_command("pithos-gc", "--grace", "3600", stdout=io.StringIO())
    assert all(blocks.contains(d) for d in digests)  # the clone still names them
    assert volumes.read("clone", 0, 2048) == b"A" * 1024 + b"B" * 1024
    volumes.remove("clone")
    out = io.StringIO()
    call_command("pithos-gc", "--grace", "3600", stdout=out)
    assert "deleted 2" in out.getvalue() and not any(blocks.contains(d) for d in digests)


def test_gc_refuses_to_run_when_the_volume_store_is_missing(settings, volumes, tmp_path):
    volumes.create("vol", 1024)
    volumes.write("vol", 0, b"x")
    volumes.snapshot("vol", "snap")
    digest = volumes.map_of("snap").entries[0]
    age_all(settings.PITHOS_BACKEND_BLOCK_PATH)
    settings.ARCHIPELAGO_CONFIG = str(tmp_path / "not-there")
    with pytest.raises(CommandError, match="volume store: .*no such configuration file"):
        call_command("pithos-gc", "--grace", "3600", stdout=io.StringIO())
    assert get_block_store().contains(digest)
    (tmp_path / "not-there").write_text(f'STORAGE="files"\nFILED_IMAGES=/x\nFILED_MAPS={tmp_path}/unmounted\nPITHOS=/x\nPITHOSMAPS=/x\n')
    with pytest.raises(CommandError, match="volume store: .*/unmounted does not exist .is the store mounted"):
        call_command("pithos-gc", "--grace", "3600", stdout=io.StringIO())
    assert get_block_store().contains(digest)


def test_archipelago_config_command(settings, tmp_path):
    settings.SYNNEFO_DATA_DIR = str(tmp_path / "data")
    settings.PITHOS_BACKEND_BLOCK_PATH = None
    out = io.StringIO()
    call_command("archipelago-config", stdout=out)
    assert f'FILED_MAPS="{tmp_path}/data/archip/maps"' in out.getvalue()
    assert f'PITHOS="{tmp_path}/data/blocks"' in out.getvalue()
    target = tmp_path / "etc" / "archipelago"
    call_command("archipelago-config", "--write", str(target), stdout=io.StringIO())
    assert target.read_text() == out.getvalue()
    with pytest.raises(CommandError, match="exists; use --force"):
        call_command("archipelago-config", "--write", str(target), stdout=io.StringIO())
    call_command("archipelago-config", "--write", str(target), "--force", stdout=io.StringIO())


def test_vlmc_clones_a_pithos_file_and_registers_a_snapshot(client, alice, volumes, settings, capsys,
                                                           django_capture_on_commit_callbacks):
    from synnefo.archipelago import vlmc

    s = Store(client, alice[0], alice[2], on_commit=django_capture_on_commit_callbacks)
    s.call("PUT", "/images")
    s.call("PUT", "/images/disk.raw", b"bootable" * 300)
    user = str(alice[0].uuid)
    run = lambda *argv: (vlmc.main(["-c", settings.ARCHIPELAGO_CONFIG, *argv]), *capsys.readouterr())  # noqa: E731
    assert run("create", "vm1", "--snap", f"pithos://{user}/images/disk.raw", "--size", "4K") == (0, "created vm1 (4K)\n", "")
    assert run("create", "vm2", "--snap", f"pithos://{user}/images/gone") == (
        1, "", f"vlmc: unknown snapshot or image: pithos://{user}/images/gone (Object does not exist)\n")
    volumes.write("vm1", 0, b"BOOTABLE")
    volumes.close("vm1")
    with django_capture_on_commit_callbacks(execute=True):
        code, out, err = run("snapshot", "vm1", "vm1-snap", "--account", user)
    assert (code, err) == (0, "") and out.endswith(f"registered pithos://{user}/snapshots/vm1-snap\n")
    body = s.body(s.call("GET", "/snapshots/vm1-snap"))
    assert body == b"BOOTABLE" + b"bootable" * 299 + bytes(4096 - 2400)


def test_an_all_in_one_node_writes_its_configuration_once(settings, tmp_path, capsys):
    settings.SYNNEFO_DATA_DIR = str(tmp_path)
    settings.PITHOS_BACKEND_BLOCK_PATH = None
    archip_pithos.bootstrap_node(tmp_path)
    assert f"wrote the volume store configuration {tmp_path}/archipelago" in capsys.readouterr().out
    from synnefo.archipelago import config as archip_config

    config = archip_config.load(tmp_path / "archipelago")
    assert config.pithos == tmp_path / "blocks" and config.block_size == settings.PITHOS_BACKEND_BLOCK_SIZE
    (tmp_path / "archipelago").write_text("# edited by the operator\n")
    archip_pithos.bootstrap_node(tmp_path)  # never overwritten
    assert (tmp_path / "archipelago").read_text() == "# edited by the operator\n" and capsys.readouterr().out == ""


def test_blocks_of_a_deleted_image_are_collected_after_its_clones_go(client, alice, volumes, settings,
                                                                     django_capture_on_commit_callbacks):
    s = Store(client, alice[0], alice[2], on_commit=django_capture_on_commit_callbacks)
    s.call("PUT", "/images", HTTP_X_CONTAINER_POLICY_VERSIONING="none")
    s.call("PUT", "/images/img", b"I" * 1024 + b"J" * 100)
    user = str(alice[0].uuid)
    archip_pithos.clone(volumes, "vm", f"pithos://{user}/images/img")
    exported = archip_pithos.export_origin(volumes, f"pithos://{user}/images/img")
    digests = [d for d in volumes.origin(exported).entries if d is not None]
    assert s.call("DELETE", "/images/img").status_code == 204
    age_all(settings.PITHOS_BACKEND_BLOCK_PATH)
    call_command("pithos-gc", "--grace", "3600", stdout=io.StringIO())
    assert all(get_block_store().contains(d) for d in digests)  # the clone still names them
    volumes.remove("vm")
    out = io.StringIO()
    call_command("pithos-gc", "--grace", "3600", stdout=out)
    assert "deleted 2" in out.getvalue()  # the exported map alone keeps nothing once the image is gone
    with pytest.raises(VolumeError, match="blocks missing from the store"):
        volumes.clone("late", exported)
    assert not volumes.exists("late")
