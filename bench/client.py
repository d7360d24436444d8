"""The kamaki client library (synnefo.client) beside python-swiftclient, against the same node.

Workload, on one fresh `synnefo up` node (or --url/--token/--password for another):

* upload of a --size file (default 1 GiB) of fresh random data with each client: ours with the
  hashmap protocol (hash locally, PUT ?hashmap, 409, parallel block POSTs, PUT again), swiftclient
  with one streamed PUT (its `Connection.put_object` from an open file);
* download of it: ours by hashmap with parallel ranged GETs into the file, swiftclient with one
  streamed GET (1 MiB chunks) into a file;
* re-upload of the unchanged file: ours hashes it and sends the hashmap (no block goes up),
  swiftclient sends every byte again.

Anchors measured in the same run: SHA-256 MB/s over 4 MiB blocks on one core (the floor of any
hashmap upload or re-upload: the client must hash the file), and the loaded machine's figures
are all from the same minute. Each client gets its own file, so neither is deduplicated by the
content-addressed store on the other's data.

    python bench/client.py [--size MiB] [--workers N] [--repeat N]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

MiB = 1024 * 1024


def sha256_speed(seconds: float = 2.0) -> float:
    block = os.urandom(4 * MiB)
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        hashlib.sha256(block).digest()
        done += len(block)
    return done / MiB / (time.perf_counter() - start)


def make_file(path: Path, size: int) -> None:
    with open(path, "wb") as f:
        left = size
        while left:
            chunk = os.urandom(min(left, 16 * MiB))
            f.write(chunk)
            left -= len(chunk)


def timed(fn, *args, **kw) -> tuple[float, object]:
    """Time one phase; dirty pages of the phases before are written back first, so a phase
    does not pay for its predecessor's writes (the data files are made just before)."""
    os.sync()
    start = time.perf_counter()
    result = fn(*args, **kw)
    return time.perf_counter() - start, result


@contextlib.contextmanager
def live_node(workdir: Path, database: str):
    from tests.live import make_node

    # The node runs this checkout's code, whatever is installed in the virtualenv.
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")]))
    node, drop_db = make_node(workdir / "node", database)
    (node.settings_dir / "60-bench.conf").write_text("SYNNEFO_WEB_WORKERS = None\n")
    try:
        node.start(timeout=180)
        try:
            yield node.url, node.credentials["token"], node.credentials["email"], node.credentials["password"]
        except Exception:
            print("".join(node.output[-40:]), file=sys.stderr)  # the node's side of a failure
            raise
    finally:
        if node.process and node.process.poll() is None:
            node.stop()
        drop_db()


def run(url: str, token: str, email: str, password: str, args, workdir: Path) -> list[tuple[str, float, str]]:
    """Each phase --repeat times on fresh data, ours and swiftclient's turns interleaved; the
    best time of each phase is reported (the machine is shared: the best is the least disturbed)."""
    import swiftclient

    from synnefo.client import Cloud

    size = args.size * MiB
    ours_file, swift_file = workdir / "ours.bin", workdir / "swift.bin"
    best: dict[str, tuple[float, str]] = {}

    def record(label: str, seconds: float, note: str = "") -> None:
        if label not in best or seconds < best[label][0]:
            best[label] = (seconds, note)

    sha = sha256_speed()
    cloud = Cloud(f"{url}/astakos/identity/v2.0", token)
    pithos = cloud.pithos
    pithos.create_container("bench-ours")
    conn = swiftclient.Connection(authurl=f"{url}/auth/v1.0", user=email, key=password, auth_version="1",
                                  retries=0, timeout=600)
    conn.put_container("bench-swift")

    def swift_get(name: str) -> None:
        _, body = conn.get_object("bench-swift", name, resp_chunk_size=MiB)
        with open(workdir / "swift.out", "wb") as out:
            for chunk in body:
                out.write(chunk)

    for rep in range(args.repeat):
        make_file(ours_file, size)  # fresh data every time: nothing to deduplicate
        make_file(swift_file, size)
        seconds, result = timed(pithos.upload_file, "bench-ours", f"f{rep}", ours_file, workers=args.workers)
        record("synnefo.client upload (hashmap)", seconds,
               f"{result.blocks_uploaded} blocks in {result.requests} POSTs")
        with open(swift_file, "rb") as f:
            seconds, _ = timed(conn.put_object, "bench-swift", f"f{rep}", f, content_length=size,
                               content_type="application/octet-stream")
        record("swiftclient upload (one PUT)", seconds)
        seconds, got = timed(pithos.download_file, "bench-ours", f"f{rep}", workdir / "ours.out",
                             workers=args.workers, resume=False)
        record("synnefo.client download (ranged, parallel)", seconds, f"{got.blocks_fetched} blocks in {got.requests} ranged GETs")
        assert (workdir / "ours.out").read_bytes() == ours_file.read_bytes()
        os.unlink(workdir / "ours.out")
        seconds, _ = timed(swift_get, f"f{rep}")
        record("swiftclient download (one GET)", seconds)
        assert (workdir / "swift.out").stat().st_size == size, (workdir / "swift.out").stat().st_size
        os.unlink(workdir / "swift.out")
        seconds, result = timed(pithos.upload_file, "bench-ours", f"again{rep}", ours_file, workers=args.workers)
        record("synnefo.client re-upload, unchanged", seconds, f"{result.blocks_uploaded} blocks sent")
        with open(swift_file, "rb") as f:
            seconds, _ = timed(conn.put_object, "bench-swift", f"again{rep}", f, content_length=size,
                               content_type="application/octet-stream")
        record("swiftclient re-upload, unchanged", seconds, "every byte again")

    rows = [("anchor: SHA-256, one core", sha, f"a {args.size} MiB file hashes in {args.size / sha:.2f} s")]
    for label, (seconds, note) in best.items():
        rows.append((label, size / MiB / seconds, f"{seconds:.2f} s" + (f"; {note}" if note else "")))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=1024, help="file size in MiB (default 1024)")
    parser.add_argument("--workers", type=int, default=5, help="parallel block transfers of our client")
    parser.add_argument("--repeat", type=int, default=2, help="runs of every phase; the best is shown")
    parser.add_argument("--database", default="sqlite", choices=("sqlite", "postgresql"))
    parser.add_argument("--url", help="an existing node (http://host:port) instead of a fresh one")
    parser.add_argument("--token")
    parser.add_argument("--email")
    parser.add_argument("--password")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-client-") as tmp:
        workdir = Path(tmp)
        with contextlib.ExitStack() as stack:
            if args.url:
                creds = (args.url, args.token, args.email, args.password)
                if not all(creds):
                    parser.error("--url needs --token, --email and --password")
            else:
                creds = stack.enter_context(live_node(workdir, args.database))
            rows = run(*creds, args, workdir)
    print(f"\nsynnefo.client vs python-swiftclient, {args.size} MiB, {os.cpu_count()} CPUs, workers {args.workers}, "
          f"best of {args.repeat}, load average {os.getloadavg()[0]:.1f}")
    print(f"{'what':<46} {'MB/s':>9}  notes")
    for label, speed, note in rows:
        print(f"{label:<46} {speed:>9.1f}  {note}")


if __name__ == "__main__":
    main()
