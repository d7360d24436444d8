"""Volumes: the store API, and I/O through vlmcd (NBD) and a mapped device.

* clone and snapshot cost for 1, 10 and 100 GiB volumes: a clone of an image's exported map
  (4 MiB blocks), then a snapshot of the clone after ``--dirty`` of its blocks were written
  (each becomes a content-addressed block). Reported: time, map writes and bytes written;
* I/O through ``VolumeStore.read/write``: sequential 4 MiB writes into a new volume (allocation),
  sequential 4 MiB reads, 4 KiB random writes (in place into the volume's own objects) and reads,
  and 4 KiB random writes into a fresh clone (each the first write of its block: a copy-up),
  beside the same pattern with pread/pwrite on one raw file in the same directory (the anchor).
  With FSYNC=yes (the default) every write is fsynced, in the anchor too. Reads come from the
  page cache on both sides (just written).

* I/O through vlmcd, with fio (the same client, sizes and patterns on both sides): over NBD
  (fio's nbd engine on vlmcd's socket) and through the mapped device (``vlmc map``: loop over
  nbdfuse, fio libaio with O_DIRECT), beside ``qemu-nbd`` serving a raw file in the same
  directory (the anchor), over NBD and through the same nbdfuse + loop path. Sequential 4 MiB
  writes (the first pass allocates the volume's objects) and reads, 4 KiB random writes (in
  place) without and with a FLUSH after each (fio ``--fsync=1``: the durable small write) and
  reads; queue depth 1; ``--seconds`` per figure; ``--patterns`` picks rows (e.g.
  ``randwrite,randwrite-flush``, the write part). vlmcd's writes are durable at FLUSH/FUA, as
  NBD defines, and so are qemu-nbd's with ``--cache=writeback`` (the default anchor);
  ``--anchor-cache writethrough`` syncs the anchor after every write instead. Needs
  deploy/archipelago-packages; the device rows need root (skipped otherwise).

Usage: python bench/volumes.py [--dir DIR] [--io-mib 256] [--random-ops 2000] [--fsync yes|no]
       [--device-mib 256] [--seconds 3] [--only store|device] [--patterns KEY,...]
       [--anchor-cache writeback|writethrough]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"
sys.path.insert(0, str(SRC))

from synnefo.archipelago import config as archip_config  # noqa: E402
from synnefo.archipelago import device  # noqa: E402
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


PATTERNS = {  # key: (row, fio rw, block size, more fio options)
    "seqwrite": ("sequential write 4 MiB", "write", "4m", []),
    "seqread": ("sequential read 4 MiB", "read", "4m", []),
    "randwrite": ("random write 4 KiB", "randwrite", "4k", []),
    "randwrite-flush": ("random write 4 KiB, FLUSH after each", "randwrite", "4k", ["--fsync=1"]),
    "randread": ("random read 4 KiB", "randread", "4k", []),
}


def fio(target: list[str], size: int, rw: str, bs: str, seconds: float) -> tuple[float, float]:
    """(MB/s, IOPS) of one fio job on ``target`` (its engine and pattern options)."""
    result = subprocess.run(
        ["fio", "--name=bench", "--output-format=json", f"--rw={rw}", f"--bs={bs}", f"--size={size}",
         "--iodepth=1", f"--runtime={seconds}", "--time_based", "--randrepeat=1", *target],
        capture_output=True, text=True, check=True, timeout=seconds + 120)
    job = json.loads(result.stdout[result.stdout.index("{") :])["jobs"][0]  # (the nbd engine prints a line first)
    side = job["write" if "write" in rw else "read"]
    return side["bw_bytes"] / 1e6, side["iops"]


def wait_for(path: Path, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while not path.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"{process.args[0]} did not start")
        time.sleep(0.02)


def device_rates(directory: Path, size_mib: int, seconds: float, fsync: bool, patterns: list[str],
                 anchor_cache: str) -> None:
    missing = device.missing_tools() + [t for t in ("fio", "qemu-nbd") if shutil.which(t) is None]
    if missing:
        print(f"device and NBD rows skipped: missing {', '.join(missing)} (deploy/archipelago-packages)")
        return
    size = size_mib * MiB
    root = directory / "dev"
    values = archip_config.node_values(root, block_size=BLOCK)
    values["FSYNC"] = "yes" if fsync else "no"
    config_path = root / "archipelago"
    root.mkdir()
    config_path.write_text(archip_config.render(values))
    config = archip_config.load(config_path)
    store = VolumeStore(config, create_dirs=True)
    store.create("bench", size)
    # This tree's vlmcd, not whichever synnefo the interpreter would import.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")]))}
    vlmcd = subprocess.Popen([sys.executable, "-m", "synnefo.archipelago.peers", "vlmcd", "-c", str(config_path)], env=env)
    raw = root / "anchor.raw"
    with open(raw, "wb") as f:
        f.truncate(size)
    qemu_socket = root / "qemu-nbd.sock"
    qemu = subprocess.Popen(["qemu-nbd", "--format=raw", f"--socket={qemu_socket}", "--persistent", "--shared=8", "--export-name=bench",
                             f"--cache={anchor_cache}", str(raw)])
    attached = []
    try:
        wait_for(config.run_dir / "vlmcd.sock", vlmcd)
        wait_for(qemu_socket, qemu)
        targets = {
            "vlmcd, NBD": ["--ioengine=nbd", f"--uri=nbd+unix:///bench?socket={config.run_dir / 'vlmcd.sock'}"],
            "  anchor qemu-nbd, NBD": ["--ioengine=nbd", f"--uri=nbd+unix:///bench?socket={qemu_socket}"],
        }
        if os.geteuid() == 0 and os.path.exists("/dev/fuse"):
            mapping = device.map_volume(config, store, "bench")
            attached.append(lambda: device.unmap(config, store, mapping.device))
            mount = root / "anchor-mount"
            mount.mkdir()
            pid, loop = device.attach(f"nbd+unix:///bench?socket={qemu_socket}", mount, "bench", False, root / "anchor.log")
            attached.append(lambda: device.detach(loop, str(mount / "bench"), str(mount), pid))
            targets["vlmc map device"] = ["--ioengine=libaio", "--direct=1", f"--filename={mapping.device}"]
            targets["  anchor qemu-nbd, same device path"] = ["--ioengine=libaio", "--direct=1", f"--filename={loop}"]
        else:
            print("device rows skipped: they need root and /dev/fuse")
        if "seqwrite" not in patterns:  # write every block once: the rows measure in-place writes
            for target in targets.values():
                fio(target, size, "write", "4m", seconds)
        print(f"| operation ({size_mib} MiB, queue depth 1, {seconds:g} s each; FSYNC={'yes' if fsync else 'no'}, "
              f"qemu-nbd --cache={anchor_cache}) | target | MB/s | IOPS |")
        print("|---|---|---|---|")
        for key in patterns:
            what, rw, bs, options = PATTERNS[key]
            for name, target in targets.items():
                rate, iops = fio(target + options, size, rw, bs, seconds)
                print(f"| {what} | {name} | {rate:.1f} | {iops:.0f} |", flush=True)
    finally:
        for undo in reversed(attached):
            undo()
        for process in (vlmcd, qemu):
            process.terminate()
            process.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", help="where to put the store (default: a temporary directory)")
    parser.add_argument("--io-mib", type=int, default=256)
    parser.add_argument("--random-ops", type=int, default=2000)
    parser.add_argument("--dirty", type=int, default=16)
    parser.add_argument("--fsync", choices=("yes", "no"), default="yes")
    parser.add_argument("--device-mib", type=int, default=256)
    parser.add_argument("--seconds", type=float, default=3)
    parser.add_argument("--only", choices=("store", "device"))
    parser.add_argument("--patterns", default=",".join(PATTERNS), help=f"device rows, of {', '.join(PATTERNS)}")
    parser.add_argument("--anchor-cache", choices=("writeback", "writethrough"), default="writeback")
    args = parser.parse_args()
    patterns = args.patterns.split(",")
    unknown = [key for key in patterns if key not in PATTERNS]
    if unknown:
        parser.error(f"unknown patterns {', '.join(unknown)} (known: {', '.join(PATTERNS)})")
    directory = Path(tempfile.mkdtemp(prefix="bench-volumes-", dir=args.dir))
    try:
        if args.only != "device":
            config = Config(directory / "objects", directory / "maps", directory / "blocks", directory / "pithosmaps",
                            BLOCK, args.fsync == "yes", "<bench>")
            store = VolumeStore(config, "bench/blockerm", create_dirs=True)
            clone_and_snapshot(store, args.dirty)
            print()
            io_rates(store, directory, args.io_mib, args.random_ops)
            print()
        if args.only != "store":
            device_rates(directory, args.device_mib, args.seconds, args.fsync == "yes", patterns, args.anchor_cache)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
