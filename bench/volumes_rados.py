"""Volumes on RADOS (STORAGE="rados"): the store API and vlmcd, each beside the cluster's own figure.

Everything runs in two fresh pools of the cluster (``bench-<hex>-maps``, ``bench-<hex>-blocks``),
deleted at the end, so a shared cluster (deploy/ceph-sandbox) is left as it was:

* clone and snapshot of 1, 10 and 100 GiB volumes: a clone of an image's exported map (4 MiB
  blocks), then a snapshot of the clone after ``--dirty`` of its blocks were written. Reported:
  time, map writes and bytes written; the anchor is the same bytes written with librados
  (``write_full`` of one object of the map's size for a clone; for a snapshot, reading and
  ``write_full``-ing each dirty block, plus the two maps);
* I/O through ``VolumeStore.read/write`` (each call reads the map and the lock from the pool) and
  through ``OpenVolume`` (as vlmcd uses it: the map in memory, the volume's mutex and a version
  check per request): sequential 4 MiB writes into a new volume (allocation) and reads, 4 KiB
  random writes (in place) and reads, 4 KiB random writes into a fresh clone (each the first
  write of its block: a copy-up). The anchor is the same pattern done directly with librados in
  the blocks pool (``write_full`` of 4 MiB objects, 4 KiB ``write``/``read`` at random offsets
  of them; a copy-up: ``read`` + ``write_full`` of 4 MiB): the cluster's limit from Python;
* I/O through vlmcd (its own process) over NBD with fio's nbd engine (``bench/volumes.py``'s
  jobs: queue depth 1, ``--seconds`` per figure), beside Ceph's own block device: an RBD image
  in the same blocks pool served by ``qemu-nbd`` (qemu's rbd driver, ``--cache=writethrough``),
  the same fio jobs. Needs deploy/archipelago-packages and ``deploy/ceph-sandbox rbd-tools``
  (the RBD rows are skipped, saying why, when qemu-nbd has no rbd driver).

Usage: python bench/volumes_rados.py [--ceph-conf CONF] [--io-mib 64] [--random-ops 1000]
       [--dirty 16] [--device-mib 64] [--seconds 3] [--only store|device]
(CEPH_CONF defaults to the sandbox's, /run/ceph-sandbox/env, else /etc/ceph/ceph.conf.)
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import shutil
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from bench.volumes import BLOCK, GiB, MiB, PATTERNS, fio, timed, wait_for  # noqa: E402
from synnefo.archipelago import config as archip_config  # noqa: E402
from synnefo.archipelago.store import OpenVolume, VolumeStore  # noqa: E402
from synnefo.common import radosclient  # noqa: E402

SANDBOX_ENV = Path("/run/ceph-sandbox/env")
ANCHOR_NAMESPACE = "bench-anchor"  # the librados anchor's objects, beside the volumes' own


def default_ceph_conf() -> str:
    if SANDBOX_ENV.exists():
        for line in SANDBOX_ENV.read_text().splitlines():
            key, _, value = line.partition("=")
            if key == "CEPH_CONF":
                return value.strip()
    return archip_config.DEFAULT_CEPH_CONF


@contextmanager
def bench_pools(ceph_conf: str):
    """(maps pool, blocks pool): two fresh pools of this run, deleted afterwards whatever happens."""
    handle = radosclient.cluster(ceph_conf)
    prefix = f"bench-{secrets.token_hex(4)}"
    names = [f"{prefix}-maps", f"{prefix}-blocks"]
    created = []
    try:
        for name in names:
            handle.create_pool(name)
            created.append(name)
        yield names
    finally:
        for name in created:
            handle.delete_pool(name)


def store_config(root: Path, ceph_conf: str, maps_pool: str, blocks_pool: str):
    """A STORAGE="rados" configuration file under ``root`` (vlmcd reads it too): its path."""
    values = archip_config.node_values(root, block_size=BLOCK, rados={
        "CEPH_CONF": ceph_conf, "RADOS_POOL_MAPS": maps_pool, "RADOS_POOL_BLOCKS": blocks_pool})
    path = root / "archipelago"
    path.write_text(archip_config.render(values))
    return path


def anchor_io(ceph_conf: str, pool: str):
    io = radosclient.ioctx(ceph_conf, pool)
    io.set_namespace(ANCHOR_NAMESPACE)
    return io


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f} ms"


# Clone and snapshot ---------------------------------------------------------------------------

def clone_and_snapshot(store: VolumeStore, anchor, dirty: int) -> None:
    image_digest = store.blocks.put(os.urandom(BLOCK))
    print(f"| volume | clone | anchor: write_full of the map | map writes | bytes written "
          f"| snapshot ({dirty} written blocks) | anchor: read + write_full of them, 2 maps | bytes written |")
    print("|---|---|---|---|---|---|---|---|")
    for gib in (1, 10, 100):
        size = gib * GiB
        name = store.export_pithos_map(f"image{gib}g", [image_digest] * (size // BLOCK), size)
        store.stats.__init__()
        clone = timed(lambda: store.clone(f"clone{gib}g", name))
        writes, written = store.stats.map_writes, store.stats.bytes_written
        map_bytes = bytes(written)
        clone_anchor = timed(lambda: anchor.write_full(f"map{gib}g", map_bytes))
        for index in range(dirty):
            store.write(f"clone{gib}g", index * (size // dirty), b"dirty")
        objects = [entry for entry in store.map_of(f"clone{gib}g").entries if isinstance(entry, str)]
        store.stats.__init__()
        snap = timed(lambda: store.snapshot(f"clone{gib}g", f"snap{gib}g"))
        block = os.urandom(BLOCK)
        for index in range(len(objects)):
            anchor.write_full(f"dirty{index}", block)

        def snapshot_anchor():
            for index in range(len(objects)):
                anchor.write_full(f"frozen{index}", anchor.read(f"dirty{index}", BLOCK))
            for copy in range(2):
                anchor.write_full(f"map{gib}g-{copy}", map_bytes)

        snap_anchor = timed(snapshot_anchor)
        print(f"| {gib} GiB | {ms(clone)} | {ms(clone_anchor)} | {writes} | {written / 1024:,.0f} KiB "
              f"| {ms(snap)} | {ms(snap_anchor)} | {store.stats.bytes_written / MiB:,.1f} MiB |", flush=True)


# I/O through the store API ----------------------------------------------------------------------

def io_rates(store: VolumeStore, anchor, io_mib: int, ops: int) -> None:
    """Each pattern three ways: VolumeStore calls, an OpenVolume (vlmcd's path), librados."""
    size = io_mib * MiB
    chunk, small = os.urandom(BLOCK), os.urandom(4096)
    rng = random.Random(1)
    offsets = [rng.randrange(size // 4096) * 4096 for _ in range(ops)]
    first_writes = list({o // BLOCK * BLOCK: o for o in offsets}.values())  # one per block
    sequential = range(0, size, BLOCK)
    store.create("iostore", size)
    store.create("ioopen", size)
    opened = OpenVolume(store, "ioopen")

    def anchor_name(offset):
        return f"object{offset // BLOCK}"

    def anchor_copy_up(offset):
        content = bytearray(anchor.read(anchor_name(offset), BLOCK))
        content[offset % BLOCK : offset % BLOCK + 4096] = small
        anchor.write_full(f"copy{offset // BLOCK}", bytes(content))

    # (row, count, bytes per op, store API, OpenVolume, librados)
    rows = [
        ("sequential write 4 MiB (allocation)", len(sequential), BLOCK,
         lambda: [store.write("iostore", o, chunk) for o in sequential],
         lambda: [opened.write(o, chunk) for o in sequential],
         lambda: [anchor.write_full(anchor_name(o), chunk) for o in sequential]),
        ("sequential read 4 MiB", len(sequential), BLOCK,
         lambda: [store.read("iostore", o, BLOCK) for o in sequential],
         lambda: [opened.read(o, BLOCK) for o in sequential],
         lambda: [anchor.read(anchor_name(o), BLOCK) for o in sequential]),
        ("random write 4 KiB, in place", ops, 4096,
         lambda: [store.write("iostore", o, small) for o in offsets],
         lambda: [opened.write(o, small) for o in offsets],
         lambda: [anchor.write(anchor_name(o), small, o % BLOCK) for o in offsets]),
        ("random read 4 KiB", ops, 4096,
         lambda: [store.read("iostore", o, 4096) for o in offsets],
         lambda: [opened.read(o, 4096) for o in offsets],
         lambda: [anchor.read(anchor_name(o), 4096, o % BLOCK) for o in offsets]),
    ]
    measured = [(what, count, nbytes, timed(by_store), timed(by_open), timed(by_rados))
                for what, count, nbytes, by_store, by_open, by_rados in rows]
    opened.close()
    store.snapshot("iostore", "iosnap")
    store.clone("clonestore", "iosnap")
    store.clone("cloneopen", "iosnap")
    opened = OpenVolume(store, "cloneopen")
    measured.append(("random write 4 KiB, first write of a shared block (copy-up)", len(first_writes), 4096,
                     timed(lambda: [store.write("clonestore", o, small) for o in first_writes]),
                     timed(lambda: [opened.write(o, small) for o in first_writes]),
                     timed(lambda: [anchor_copy_up(o) for o in first_writes])))
    opened.close()
    print(f"| operation ({io_mib} MiB volume, {ops} random ops) | store API MB/s | IOPS "
          "| OpenVolume MB/s | IOPS | anchor librados MB/s | IOPS |")
    print("|---|---|---|---|---|---|---|")
    for what, count, nbytes, *seconds in measured:
        cells = " | ".join(f"{count * nbytes / s / 1e6:,.1f} | {count / s:,.0f}" for s in seconds)
        print(f"| {what} | {cells} |", flush=True)


# I/O through vlmcd over NBD, beside RBD -----------------------------------------------------------

def rbd_missing() -> str | None:
    """Why an RBD image cannot be served by qemu-nbd here, or None."""
    if shutil.which("rbd") is None or shutil.which("qemu-nbd") is None:
        return "no rbd or qemu-nbd command"
    if not list(Path("/usr/lib/x86_64-linux-gnu/qemu").glob("block-rbd.so")):
        return "qemu-nbd has no rbd driver (Debian's qemu-block-extra)"
    return None


def rbd(ceph_conf: str, *args: str) -> None:
    # (quiet: the CLI complains that this process already holds the client's admin socket)
    result = subprocess.run(["rbd", "-c", ceph_conf, *args], capture_output=True, text=True, timeout=120)
    if result.returncode:
        raise SystemExit(f"rbd {' '.join(args)} failed: {result.stderr.strip()[-1000:]}")


def device_rates(root: Path, config_path: Path, ceph_conf: str, blocks_pool: str, size_mib: int,
                 seconds: float) -> None:
    if shutil.which("fio") is None:
        print("NBD rows skipped: no fio (deploy/archipelago-packages)")
        return
    size = size_mib * MiB
    config = archip_config.load(config_path)
    VolumeStore(config).create("bench", size)
    processes = [subprocess.Popen(
        [sys.executable, "-m", "synnefo.archipelago.peers", "vlmcd", "-c", str(config_path)],
        env={**os.environ, "PYTHONPATH": f"{ROOT / 'src'}:{ROOT}"})]
    vlmcd_socket = config.run_dir / "vlmcd.sock"
    targets = {"vlmcd, NBD": ["--ioengine=nbd", f"--uri=nbd+unix:///bench?socket={vlmcd_socket}"]}
    try:
        wait_for(vlmcd_socket, processes[0])
        why_not = rbd_missing()
        if why_not is None:
            rbd(ceph_conf, "pool", "init", blocks_pool)
            rbd(ceph_conf, "create", "--size", f"{size_mib}M", f"{blocks_pool}/bench")
            qemu_socket = root / "qemu-nbd.sock"
            processes.append(subprocess.Popen(
                ["qemu-nbd", "--format=raw", f"--socket={qemu_socket}", "--persistent", "--shared=8",
                 "--export-name=bench", "--cache=writethrough", f"rbd:{blocks_pool}/bench:conf={ceph_conf}"]))
            wait_for(qemu_socket, processes[1])
            targets["  anchor RBD, qemu-nbd, NBD"] = ["--ioengine=nbd", f"--uri=nbd+unix:///bench?socket={qemu_socket}"]
        else:
            print(f"RBD anchor skipped: {why_not} (deploy/ceph-sandbox rbd-tools)")
        print(f"| operation ({size_mib} MiB, queue depth 1, {seconds:g} s each) | target | MB/s | IOPS |")
        print("|---|---|---|---|")
        for what, rw, bs, options in PATTERNS.values():
            for name, target in targets.items():
                rate, iops = fio(target + options, size, rw, bs, seconds)
                print(f"| {what} | {name} | {rate:,.1f} | {iops:,.0f} |", flush=True)
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ceph-conf", default=default_ceph_conf())
    parser.add_argument("--io-mib", type=int, default=64)
    parser.add_argument("--random-ops", type=int, default=1000)
    parser.add_argument("--dirty", type=int, default=16)
    parser.add_argument("--device-mib", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=3)
    parser.add_argument("--only", choices=("store", "device"))
    args = parser.parse_args()
    if not radosclient.rados_available():
        raise SystemExit("no python rados module (deploy/ceph-sandbox up installs python3-rados)")
    root = Path(tempfile.mkdtemp(prefix="bench-volumes-rados-"))
    try:
        with bench_pools(args.ceph_conf) as (maps_pool, blocks_pool):
            config_path = store_config(root, args.ceph_conf, maps_pool, blocks_pool)
            print(f"pools {maps_pool}, {blocks_pool} of {args.ceph_conf}\n")
            if args.only != "device":
                store = VolumeStore(archip_config.load(config_path), "bench/blockerm")
                anchor = anchor_io(args.ceph_conf, blocks_pool)
                clone_and_snapshot(store, anchor, args.dirty)
                print()
                io_rates(store, anchor, args.io_mib, args.random_ops)
                print()
            if args.only != "store":
                device_rates(root, config_path, args.ceph_conf, blocks_pool, args.device_mib, args.seconds)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
