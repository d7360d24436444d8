"""The Django side of the volume store: which store the node uses, Pithos images as clone
origins, snapshots registered as Pithos objects, and volume maps as references for the block
garbage collector (``snf-manage pithos-gc``)."""

from __future__ import annotations

import os
import uuid as uuidlib
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction

from synnefo.archipelago import config as archip_config
from synnefo.archipelago.mapfile import MAP_READONLY, Map, write_atomic
from synnefo.archipelago.store import EMPTY_BLOCK, VolumeError, VolumeStore
from synnefo.common import faults

SNAPSHOTS_CONTAINER = "snapshots"


def node_config() -> archip_config.Config:
    """ARCHIPELAGO_CONFIG if set (it must then be valid), else the data directory's configuration."""
    if settings.ARCHIPELAGO_CONFIG:
        return archip_config.load(settings.ARCHIPELAGO_CONFIG)
    return archip_config.from_values(node_values(), "<derived from the data directory>")


def node_values() -> dict[str, str]:
    """Volumes share Pithos's blocks: in its block directory, or in its RADOS pool."""
    rados = None
    if settings.PITHOS_BACKEND_STORAGE == "rados":
        rados = {"CEPH_CONF": settings.PITHOS_RADOS_CEPH_CONF, "RADOS_POOL_MAPS": settings.ARCHIPELAGO_RADOS_POOL_MAPS,
                 "RADOS_POOL_BLOCKS": settings.PITHOS_RADOS_POOL_BLOCKS}
    return archip_config.node_values(
        settings.SYNNEFO_DATA_DIR, settings.PITHOS_BACKEND_BLOCK_PATH, settings.PITHOS_BACKEND_BLOCK_SIZE, rados
    )


def node_config_text() -> str:
    text = archip_config.render(node_values())
    archip_config.from_values(archip_config.parse(text))  # what we write must load
    return text


def write_node_config(path, force: bool = False) -> bool:
    """Write the derived configuration to ``path`` (atomically, mode 0644: it holds no secret);
    False if it exists (unless force)."""
    path = Path(path)
    if path.exists() and not force:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, node_config_text().encode())
    os.chmod(path, 0o644)
    return True


def bootstrap_node(data_dir) -> None:
    """``synnefo up``: an all-in-one node gets ``<data dir>/archipelago`` for ``vlmc -c``."""
    if settings.ARCHIPELAGO_CONFIG:
        return
    path = Path(data_dir) / "archipelago"
    VolumeStore(node_config(), create_dirs=True)  # its directories, so vlmc finds them
    if write_node_config(path):
        print(f"synnefo: wrote the volume store configuration {path} (vlmc -c {path}; for block devices,"
              f" as root: archipelago -c {path} start)", flush=True)


def node_store(owner: str | None = None) -> VolumeStore:
    """The node's volume store; the directories of a derived (all-in-one) store are created."""
    return VolumeStore(node_config(), owner, create_dirs=not settings.ARCHIPELAGO_CONFIG)


def _version_of(origin: str):
    """The current Pithos version named by ``pithos://account/container/path`` or an image id."""
    from synnefo.pithos.backend import objects
    from synnefo.plankton import backend as plankton

    try:
        if origin.startswith("pithos://"):
            account, container, path = plankton.parse_location(origin)
            return objects.get_version(objects.get_container(account, container), path)
        uuidlib.UUID(origin)
        return plankton.any_image(origin).version
    except ValueError:
        raise VolumeError(f"unknown snapshot or image: {origin}") from None
    except faults.Fault as exc:
        raise VolumeError(f"unknown snapshot or image: {origin} ({exc})") from None


def _is_store_origin(store: VolumeStore, origin: str) -> bool:
    """True if ``origin`` is the store's own (snapshot or exported map); False if it names a
    Pithos object or image; refused if it is neither."""
    if "://" in origin:
        return False
    try:
        store.origin(origin)
        return True
    except VolumeError:
        try:
            uuidlib.UUID(origin)
        except ValueError:
            raise VolumeError(f"unknown snapshot or image: {origin}") from None
        return False


def _check_pithos_hashing() -> None:
    if settings.PITHOS_BACKEND_HASH_ALGORITHM != "sha256":
        raise VolumeError(f"volumes need PITHOS_BACKEND_HASH_ALGORITHM sha256, not {settings.PITHOS_BACKEND_HASH_ALGORITHM}")


def _pithos_map(origin: str) -> tuple[str, Map]:
    from synnefo.pithos.backend.data import digests

    _check_pithos_hashing()

    version = _version_of(origin)
    return f"{version.merkle}-{version.size}", Map(version.size, settings.PITHOS_BACKEND_BLOCK_SIZE, 0,
                                                   MAP_READONLY, digests(version))


def export_origin(store: VolumeStore, origin: str) -> str:
    """A name under which any node can clone ``origin`` with the store alone: the store's own
    snapshot or exported map as is; a Pithos object or image has its map exported to PITHOSMAPS
    (once, ``<X-Object-Hash>-<size>``). For handing an image to nodes without the database."""
    if _is_store_origin(store, origin):
        return origin
    name, origin_map = _pithos_map(origin)
    return store.export_pithos_map(name, origin_map.entries, origin_map.size)


def clone(store: VolumeStore, name: str, origin: str, size: int | None = None):
    """A thin clone of a snapshot, an exported map, a Pithos object or an image: one map write."""
    if _is_store_origin(store, origin):
        return store.clone(name, origin, size)
    _, origin_map = _pithos_map(origin)
    return store.clone_map(name, origin_map, origin, size)


def register_snapshot(store: VolumeStore, snapshot: str, account: str, object_name: str | None = None):
    """Make the snapshot a Pithos object ``snapshots/<object_name>`` of ``account`` whose map is
    the snapshot's: it downloads like any file and can be registered as an image."""
    from synnefo.pithos.backend import objects

    _check_pithos_hashing()
    frozen = store.map_of(snapshot)
    if not frozen.readonly:
        raise VolumeError(f"{snapshot} is a volume, not a snapshot")
    if frozen.block_size != settings.PITHOS_BACKEND_BLOCK_SIZE:
        raise VolumeError(f"{snapshot} has block size {frozen.block_size}, Pithos {settings.PITHOS_BACKEND_BLOCK_SIZE}")
    if any(entry is None for entry in frozen.entries):
        store.blocks.put(b"")  # the (empty) block that zero blocks are named by in Pithos
    hashmap = b"".join(EMPTY_BLOCK if entry is None else entry for entry in frozen.entries)
    objects.create_container(account, SNAPSHOTS_CONTAINER)
    with transaction.atomic():
        container = objects.get_container(account, SNAPSHOTS_CONTAINER)
        return objects.commit_version(
            container,
            object_name or snapshot,
            hashmap=hashmap,
            size=frozen.size,
            # No MD5 (reading the whole volume would make snapshots cost their size); the ETag is
            # then the Merkle hash, as for hashmap uploads, unless the same content is known.
            checksum=objects.known_checksum(hashmap, frozen.size) or "",
            content_type="application/octet-stream",
            user=account,
            meta={"Archipelago-Snapshot": snapshot},
        )


def volume_maps():
    """Maps (concatenated digests) of every volume, snapshot and exported map: references for the
    block garbage collector. An unreadable configuration stops the collection (raises), since
    blocks only volumes use would otherwise look unreferenced."""
    try:
        config = node_config()
    except archip_config.ConfigError as exc:
        raise ImproperlyConfigured(f"volume store: {exc} (the collection stops: volumes may reference blocks)") from None
    try:
        store = VolumeStore(config)
    except VolumeError as exc:
        if settings.ARCHIPELAGO_CONFIG:  # a store that is not there (not mounted?): do not guess
            raise ImproperlyConfigured(f"volume store: {exc}") from None
        return  # the node's own store was never used
    yield b"".join(store.referenced_digests(_pithos_object_exists))


def _pithos_object_exists(exported: str) -> bool:
    """An exported map ``<merkle>-<size>`` keeps its blocks while some Pithos version (current or
    old) has that content; once none has, the blocks may go (volumes cloned from it hold their
    own references, and new clones from it are refused: its blocks are missing)."""
    from synnefo.pithos.models import ObjectVersion

    merkle, _, size = exported.rpartition("-")
    if not merkle or not size.isdigit():
        return True  # not ours to judge: keep
    return ObjectVersion.objects.filter(merkle=merkle, size=int(size)).exists()
