"""The store-side peers: each makes one pass over the store every ``KEEPER_INTERVAL`` seconds
(and one at start), logging what it found or did. vlmcd keeps the data path (see
docs/volumes.md, "Peers", for why the maps are not written through another process).

* ``blockerb``, the block keeper: deletes what crashes leave in the store's directories:
  ``.tmp-*`` files older than ``LEFTOVER_AGE`` (an interrupted atomic write) and writable
  objects of volumes whose map is gone (a crash in the middle of ``remove``);
* ``blockerm``, the map checker: reads every map (a map that does not decode is an error to
  report at once), checks that each writable object it names exists and each content-addressed
  block is in the Pithos store (a missing one means data loss, e.g. a block collected by
  mistake), and logs a summary;
* ``mapperd``, the lock keeper of this host: a lock held by ``<this host>/vlmcd`` whose vlmcd
  (the pid in the lock) is gone, while this configuration's vlmcd is not running, is stale (the
  daemon died; nothing of this host can write the volume now): it is released, so the volume can be opened again here or elsewhere. Locks of vlmc
  (``<host>/blockerm``, administrative, outliving the process that took them) and of other
  hosts are never touched.
"""

from __future__ import annotations

import logging
import re
import threading
import time

from synnefo.archipelago import mapfile, peers
from synnefo.archipelago.locks import DEVICE_DAEMON, default_owner
from synnefo.archipelago.store import VolumeStore

LEFTOVER_AGE = 3600.0  # seconds: a .tmp-* file older than this is no write in progress
OBJECT = re.compile(r"(?P<volume>.+)_[0-9a-f]{16}_[0-9a-f]{16}")


def sweep_leftovers(store: VolumeStore, now: float | None = None, age: float = LEFTOVER_AGE) -> list[str]:
    """blockerb's pass: what it deleted (paths, or RADOS object names)."""
    cutoff = (time.time() if now is None else now) - age
    storage = store.storage
    removed = storage.remove_temporaries(cutoff)
    for name, mtime in list(storage.objects()):
        match = OBJECT.fullmatch(name)
        # An object whose volume has no map; young ones may belong to a create in progress.
        if match and mtime < cutoff and not store.exists(match["volume"]):
            storage.remove_object(name)
            removed.append(storage.describe(name))
    return removed


def check_maps(store: VolumeStore) -> dict:
    """blockerm's pass: {maps, objects, blocks, problems: [message]}."""
    result = {"maps": 0, "objects": 0, "blocks": 0, "problems": []}
    digests: dict[bytes, str] = {}
    for exported in (False, True):
        for name in store.storage.map_names(exported):
            data = store.storage.read_map(name, exported)
            if data is None:
                continue  # removed meanwhile
            try:
                volume_map = mapfile.Map.decode(data, name)
            except mapfile.MapError as exc:
                result["problems"].append(f"map {exc}")
                continue
            result["maps"] += 1
            for index, entry in enumerate(volume_map.entries):
                if isinstance(entry, str):
                    result["objects"] += 1
                    if not store.storage.object_exists(entry):
                        result["problems"].append(f"{name} block {index}: object {entry} is missing")
                elif isinstance(entry, bytes):
                    digests.setdefault(entry, f"{name} block {index}")
    result["blocks"] = len(digests)
    for digest, where in digests.items():
        if not store.blocks.contains(digest):
            result["problems"].append(f"{where}: block {digest.hex()} is missing from the Pithos store")
    return result


def release_stale_locks(store: VolumeStore, config) -> list[str]:
    """mapperd's pass: the volumes whose stale vlmcd lock it released."""
    if peers.running_pid(config, DEVICE_DAEMON):
        return []
    holder = default_owner(DEVICE_DAEMON)
    released = []
    for volume in store.locks.names():
        lock = store.locks.get(volume)
        # The pid in the lock is the vlmcd that took it (or took it over): it must be gone too
        # (a vlmcd of another configuration of this host may share the store).
        if lock is not None and lock.owner == holder and not peers.is_peer(lock.pid, DEVICE_DAEMON) \
                and not peers.running_pid(config, DEVICE_DAEMON):
            store.locks.release(volume, holder)
            released.append(volume)
    return released


def _keep(name: str, config, stopping: threading.Event, one_pass) -> None:
    log = logging.getLogger(f"synnefo.archipelago.{name}")
    store = VolumeStore(config, default_owner(name))
    log.info("started: one pass every %s s", config.keeper_interval)
    while True:
        try:
            one_pass(store, log)
        except Exception:  # a failed pass is logged; the next one tries again
            log.exception("pass failed")
        if stopping.wait(config.keeper_interval):
            break
    log.info("stopped")


def serve_blockerb(config, stopping: threading.Event) -> None:
    def one_pass(store, log):
        for path in sweep_leftovers(store):
            log.warning("removed crash leftover %s", path)

    _keep("blockerb", config, stopping, one_pass)


def serve_blockerm(config, stopping: threading.Event) -> None:
    def one_pass(store, log):
        result = check_maps(store)
        for problem in result["problems"]:
            log.error("%s", problem)
        log.info("checked %(maps)d maps: %(objects)d objects, %(blocks)d distinct blocks", result)

    _keep("blockerm", config, stopping, one_pass)


def serve_mapperd(config, stopping: threading.Event) -> None:
    def one_pass(store, log):
        for volume in release_stale_locks(store, config):
            log.warning("released the lock of %s: held by this host's vlmcd, which is not running", volume)

    _keep("mapperd", config, stopping, one_pass)
