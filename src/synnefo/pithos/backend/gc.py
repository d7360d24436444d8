"""Garbage collection of blocks that no map references any more.

Mark: collect the digests referenced by every object version (current, history and deleted
markers alike: old versions stay readable) and by every other map owner registered in
``MAP_SOURCES`` (volumes and snapshots add theirs). Sweep: walk the store shard by shard and
delete each unreferenced block not used since the cutoff (now minus PITHOS_GC_GRACE_PERIOD).

Safe against concurrent uploads: a block an upload writes or reuses is touched, so it is newer
than the cutoff, and the store's delete re-checks that after taking the block away atomically
(``delete_if_unused_since``). Resumable: the shards already swept in this collection are kept
in a state file; an interrupted collection started again with ``resume`` skips them.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

from synnefo.pithos.backend.blocks import BlockStore, get_block_store
from synnefo.pithos.backend.objects import expire_objects
from synnefo.pithos.models import ObjectVersion


def _version_maps() -> Iterator[bytes]:
    for hashmap in ObjectVersion.objects.values_list("hashmap", flat=True).iterator(chunk_size=2000):
        yield bytes(hashmap)


# Callables yielding maps (concatenated raw digests). Other components append theirs.
MAP_SOURCES: list[Callable[[], Iterable[bytes]]] = [_version_maps]


@dataclass
class Report:
    referenced: int = 0
    scanned: int = 0
    deleted: int = 0
    kept_recent: int = 0
    temporaries: int = 0
    shards_done: list[str] = field(default_factory=list)


def referenced_digests(width: int) -> set[bytes]:
    referenced: set[bytes] = set()
    for source in MAP_SOURCES:
        for hashmap in source():
            referenced.update(hashmap[i : i + width] for i in range(0, len(hashmap), width))
    return referenced


def collect(
    store: BlockStore | None = None,
    *,
    grace: float | None = None,
    state_file: Path | None = None,
    resume: bool = False,
    dry_run: bool = False,
    progress: Callable[[str], None] = lambda message: None,
) -> Report:
    store = store or get_block_store()
    grace = settings.PITHOS_GC_GRACE_PERIOD if grace is None else grace
    state_file = state_file or Path(settings.SYNNEFO_DATA_DIR) / "pithos-gc-state.json"
    report = Report()
    state = json.loads(state_file.read_text()) if resume and state_file.exists() else {}
    cutoff = state.get("cutoff") or time.time() - grace
    done = set(state.get("shards_done", []))

    if not dry_run:
        expired = expire_objects()
        if expired:
            progress(f"expired: {expired} objects past their X-Delete-At deleted")
    # Mark after fixing the cutoff: anything referenced later was touched after the cutoff.
    width = hashlib.new(store.algorithm).digest_size
    referenced = referenced_digests(width)
    report.referenced = len(referenced)
    progress(f"mark: {len(referenced)} blocks referenced")

    shards = store.shards()
    for number, shard in enumerate(shards, 1):
        if shard in done:
            continue
        for digest, used in store.iter_shard(shard):
            report.scanned += 1
            if digest in referenced:
                continue
            if used >= cutoff:
                report.kept_recent += 1
            elif not dry_run and store.delete_if_unused_since(digest, cutoff):
                report.deleted += 1
            elif dry_run:
                report.deleted += 1
        done.add(shard)
        report.shards_done.append(shard)
        if not dry_run:
            state_file.write_text(json.dumps({"cutoff": cutoff, "shards_done": sorted(done)}))
        progress(f"sweep: shard {number}/{len(shards)}, {report.scanned} scanned, {report.deleted} deleted")
    if not dry_run:
        report.temporaries = store.remove_stale_temporaries(cutoff)
        state_file.unlink(missing_ok=True)
    return report
