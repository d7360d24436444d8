"""Volumes (the store API; the block device comes with the next part of Archipelago).

* clone and snapshot cost for 1, 10 and 100 GiB volumes: a clone of an image's exported map
  (4 MiB blocks), then a snapshot of the clone after ``--dirty`` of its blocks were written
  (each becomes a content-addressed block). Reported: time, map writes and bytes written;
* I/O through ``VolumeStore.read/write``: sequential 4 MiB writes into a new volume (allocation),
  sequential 4 MiB reads, 4 KiB random writes (in place into the volume's own objects) and reads,
  and 4 KiB random writes into a fresh clone (each the first write of its block: a copy-up),
  beside the same pattern with pread/pwrite on one raw file in the same directory (the anchor).
  With FSYNC=yes (the default) every write is fsynced, in the anchor too. Reads come from the
  page cache on both sides (just written).

Usage: python bench/volumes.py [--dir DIR] [--io-mib 256] [--random-ops 2000] [--fsync yes|no]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from synnefo.archipelago.config import Config  # noqa: E402
from synnefo.archipelago.store import VolumeStore  # noqa: E402

MiB, GiB, BLOCK = 1 << 20, 1 << 30, 4 << 20


def timed(function):
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def clone_and_snapshot(store: VolumeStore, dirty: int) -> None:
    image_digest = store.blocks.put(os.urandom(BLOCK))
    print("| volume | clone | map writes | bytes written | snapshot (%d dirty blocks) | bytes written |" % dirty)
    print("|---|---|---|---|---|---|")
    for gib in (1, 10, 100):
        size = gib * GiB
        name = store.export_pithos_map(f"image-{gib}g", [image_digest] * (size // BLOCK), size)
        store.stats.__init__()
        seconds = timed(lambda: store.clone(f"clone-{gib}g", name))
        writes, written = store.stats.map_writes, store.stats.bytes_written
        for index in range(dirty):
            store.write(f"clone-{gib}g", index * (size // dirty), b"dirty")
        store.stats.__init__()
        snap = timed(lambda: store.snapshot(f"clone-{gib}g", f"snap-{gib}g"))
        print(f"| {gib} GiB | {seconds * 1000:.1f} ms | {writes} | {written / 1024:.0f} KiB | "
              f"{snap * 1000:.1f} ms | {store.stats.bytes_written / MiB:.1f} MiB |")


def io_rates(store: VolumeStore, directory: Path, io_mib: int, ops: int) -> None:
    size = io_mib * MiB
    chunk = os.urandom(BLOCK)
    small = os.urandom(4096)
    rng = random.Random(1)
    offsets = [rng.randrange(size // 4096) * 4096 for _ in range(ops)]
    store.create("io", size)
    raw = directory / "anchor.raw"
    fd = os.open(raw, os.O_RDWR | os.O_CREAT, 0o600)
    os.ftruncate(fd, size)

    def raw_write(offset, data):
        os.pwrite(fd, data, offset)
        if store.config.fsync:
            os.fsync(fd)

    rows = []

    def row(what, seconds, nbytes, count):
        rows.append((what, seconds, nbytes, count))

    row("sequential write 4 MiB", timed(lambda: [store.write("io", o, chunk) for o in range(0, size, BLOCK)]), size, size // BLOCK)
    row("  anchor", timed(lambda: [raw_write(o, chunk) for o in range(0, size, BLOCK)]), size, size // BLOCK)
    row("sequential read 4 MiB", timed(lambda: [store.read("io", o, BLOCK) for o in range(0, size, BLOCK)]), size, size // BLOCK)
    row("  anchor", timed(lambda: [os.pread(fd, BLOCK, o) for o in range(0, size, BLOCK)]), size, size // BLOCK)
    row("random write 4 KiB (in place)", timed(lambda: [store.write("io", o, small) for o in offsets]), ops * 4096, ops)
    row("  anchor", timed(lambda: [raw_write(o, small) for o in offsets]), ops * 4096, ops)
    row("random read 4 KiB", timed(lambda: [store.read("io", o, 4096) for o in offsets]), ops * 4096, ops)
    row("  anchor", timed(lambda: [os.pread(fd, 4096, o) for o in offsets]), ops * 4096, ops)
    store.snapshot("io", "io-snap")
    store.clone("io-clone", "io-snap")
    first_writes = list({o // BLOCK * BLOCK: o for o in offsets}.values())
    row("random write 4 KiB, copy-up", timed(lambda: [store.write("io-clone", o, small) for o in first_writes]),
        len(first_writes) * 4096, len(first_writes))
    os.close(fd)
    print("| operation | MB/s | IOPS |")
    print("|---|---|---|")
    for what, seconds, nbytes, count in rows:
        print(f"| {what} | {nbytes / seconds / 1e6:.1f} | {count / seconds:.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", help="where to put the store (default: a temporary directory)")
    parser.add_argument("--io-mib", type=int, default=256)
    parser.add_argument("--random-ops", type=int, default=2000)
    parser.add_argument("--dirty", type=int, default=16)
    parser.add_argument("--fsync", choices=("yes", "no"), default="yes")
    args = parser.parse_args()
    directory = Path(tempfile.mkdtemp(prefix="bench-volumes-", dir=args.dir))
    try:
        config = Config(directory / "objects", directory / "maps", directory / "blocks", directory / "pithosmaps",
                        BLOCK, args.fsync == "yes", "<bench>")
        store = VolumeStore(config, "bench/blockerm", create_dirs=True)
        clone_and_snapshot(store, args.dirty)
        print()
        io_rates(store, directory, args.io_mib, args.random_ops)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
