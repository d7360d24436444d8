"""File storage throughput against any Swift-API endpoint, and Synnefo beside OpenStack Swift.

Workload (the same on every endpoint; sizes scale down with --quick):

* 1 GiB single-stream PUT, then GET of it (MB/s);
* 8 parallel streams: 8 x 128 MiB PUT, then GET (aggregate MB/s);
* 4 KiB objects: PUT, GET, HEAD per second with --clients concurrent clients;
* listing: a container filled with --listing-objects objects (concurrent 0-byte PUTs), then the
  p50 latency of a 10000-limit JSON page from the start and of one after a marker at 90 %;
* hashmap re-upload (Pithos only: when the container answers X-Container-Block-Hash): the client
  hashes the 1 GiB already stored and PUTs ?hashmap=True with the list; client hash + server answer.

Anchors measured in the same run: SHA-256 and MD5 MB/s (hashlib, one core), and the data disk's
sequential write MB/s (4 MiB writes, then fsync). Every upload carries data no store holds yet
(a per-upload tag in every 4 MiB block), so content-addressed stores cannot deduplicate it.

The client sends from one preallocated buffer with http.client on keep-alive connections and
discards downloads with readinto(); its CPU time is printed per phase to show it is not the limit.

Modes:
  python bench/pithos.py [--quick]              # compare: fresh `synnefo up` node AND
                                                #   scripts/swift-aio, same workload, ratios
  python bench/pithos.py --auth-url URL --user U --key K   # one endpoint (v1 auth)
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import http.client
import json
import os
import platform
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MiB = 1024 * 1024
TAG_STRIDE = 4 * MiB  # every 4 MiB block of every upload starts with a unique tag


class Endpoint:
    """A Swift v1 endpoint: auth once, then one keep-alive HTTP connection per thread."""

    def __init__(self, name: str, auth_url: str, user: str, key: str):
        self.name = name
        auth = urllib.parse.urlsplit(auth_url)
        conn = http.client.HTTPConnection(auth.hostname, auth.port or 80, timeout=60)
        conn.request("GET", auth.path or "/", headers={"X-Auth-User": user, "X-Auth-Key": key})
        response = conn.getresponse()
        response.read()
        if response.status // 100 != 2:
            sys.exit(f"{name}: v1 auth at {auth_url} answered {response.status}")
        self.token = response.getheader("X-Auth-Token")
        storage = urllib.parse.urlsplit(response.getheader("X-Storage-Url"))
        self.host, self.port, self.base = storage.hostname, storage.port or 80, storage.path.rstrip("/")
        conn.close()
        self._local = threading.local()

    def conn(self, fresh: bool = False) -> http.client.HTTPConnection:
        c = getattr(self._local, "conn", None)
        if fresh and c is not None:
            c.close()
            c = None
        if c is None:
            c = self._local.conn = http.client.HTTPConnection(self.host, self.port, timeout=300)
        return c

    def path(self, container: str, name: str = "", query: str = "") -> str:
        p = f"{self.base}/{urllib.parse.quote(container)}"
        if name:
            p += "/" + urllib.parse.quote(name)
        return p + (f"?{query}" if query else "")

    def request(self, method: str, path: str, body: bytes = b"", headers: dict | None = None,
                expect: tuple = (200, 201, 202, 204)) -> tuple[http.client.HTTPResponse, bytes]:
        h = {"X-Auth-Token": self.token, "Content-Length": str(len(body))}
        if headers:
            h.update(headers)
        try:
            c = self.conn()
            c.request(method, path, body=body if body else None, headers=h)
            response = c.getresponse()
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            # the server closed an idle keep-alive connection: once more on a new one
            c = self.conn(fresh=True)
            c.request(method, path, body=body if body else None, headers=h)
            response = c.getresponse()
        data = response.read()
        if response.status not in expect:
            raise RuntimeError(f"{self.name}: {method} {path} -> {response.status} {data[:300]!r}")
        return response, data

    def put_stream(self, path: str, data: memoryview, chunk: int = MiB) -> None:
        c = self.conn(fresh=True)  # a new connection costs nothing beside a big transfer
        c.putrequest("PUT", path, skip_accept_encoding=True)
        c.putheader("X-Auth-Token", self.token)
        c.putheader("Content-Length", str(len(data)))
        c.putheader("Content-Type", "application/octet-stream")
        c.endheaders()
        for offset in range(0, len(data), chunk):
            c.send(data[offset : offset + chunk])
        response = c.getresponse()
        body = response.read()
        if response.status != 201:
            raise RuntimeError(f"{self.name}: PUT {path} -> {response.status} {body[:300]!r}")

    def get_discard(self, path: str, sink: memoryview) -> int:
        c = self.conn(fresh=True)
        c.putrequest("GET", path, skip_accept_encoding=True)
        c.putheader("X-Auth-Token", self.token)
        c.endheaders()
        response = c.getresponse()
        if response.status != 200:
            raise RuntimeError(f"{self.name}: GET {path} -> {response.status} {response.read()[:300]!r}")
        total = 0
        while n := response.readinto(sink):
            total += n
        return total


# ------------------------------------------------------------------------------ measurements

class Phase:
    """Wall time and this process's CPU time (all threads) of one measured step."""

    def __enter__(self):
        self.cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.t0
        r = resource.getrusage(resource.RUSAGE_SELF)
        self.cpu = (r.ru_utime - self.cpu0.ru_utime) + (r.ru_stime - self.cpu0.ru_stime)


def stamp(buf: bytearray, tag: str) -> None:
    """Make every 4 MiB block of ``buf`` unique to this upload (32 bytes at each block start)."""
    marker = hashlib.sha256(f"{tag}-{uuid.uuid4()}".encode()).digest()
    for offset in range(0, len(buf), TAG_STRIDE):
        buf[offset : offset + 32] = marker[: min(32, len(buf) - offset)]
        marker = hashlib.sha256(marker).digest()


def hash_anchor(buf: memoryview, algorithm: str) -> float:
    h = hashlib.new(algorithm)
    t0 = time.perf_counter()
    for offset in range(0, len(buf), 4 * MiB):
        h.update(buf[offset : offset + 4 * MiB])
    h.digest()
    return len(buf) / MiB / (time.perf_counter() - t0)


def disk_anchor(directory: Path, buf: memoryview) -> float:
    path = directory / f"bench-disk-{uuid.uuid4().hex}"
    try:
        t0 = time.perf_counter()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            for offset in range(0, len(buf), 4 * MiB):
                os.write(fd, buf[offset : offset + 4 * MiB])
            os.fsync(fd)
        finally:
            os.close(fd)
        return len(buf) / MiB / (time.perf_counter() - t0)
    finally:
        path.unlink(missing_ok=True)


def fsync_anchor(directory: Path, seconds: float = 2.0) -> float:
    """Small durable writes per second: create a 4 KiB file, fsync it and its directory (what
    every store does per small object at least once)."""
    payload, n = os.urandom(4096), 0
    deadline = time.perf_counter() + seconds
    t0 = time.perf_counter()
    while time.perf_counter() < deadline:
        path = directory / f"bench-fsync-{n}"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, payload)
            os.fsync(fd)
        finally:
            os.close(fd)
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        n += 1
    rate = n / (time.perf_counter() - t0)
    for i in range(n):
        (directory / f"bench-fsync-{i}").unlink(missing_ok=True)
    return rate


def run_threads(count: int, target) -> None:
    errors: list[BaseException] = []

    def wrap(i):
        try:
            target(i)
        except BaseException as exc:  # noqa: BLE001 - reported after join
            errors.append(exc)

    threads = [threading.Thread(target=wrap, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def report(label: str, value: float, unit: str, phase: Phase | None = None) -> float:
    extra = f"   ({phase.seconds:.1f} s, client CPU {phase.cpu / phase.seconds:.0%} of one core)" if phase else ""
    print(f"    {label:<34} {value:10.1f} {unit}{extra}", flush=True)
    return value


def workload(eps: list[Endpoint], args, buf: bytearray) -> dict[str, dict[str, float]]:
    """The whole workload, each step run on every endpoint in turn before the next step, so that
    a change in background load touches both sides alike; returns figures by endpoint and metric."""
    results: dict[str, dict[str, float]] = {ep.name: {} for ep in eps}
    run = uuid.uuid4().hex[:8]
    big, small, listing = f"bench-{run}-big", f"bench-{run}-small", f"bench-{run}-list"
    for ep in eps:
        for container in (big, small, listing):
            ep.request("PUT", ep.path(container))
    view = memoryview(buf)
    sink = memoryview(bytearray(MiB))

    size = args.single_mib * MiB
    for ep in eps:
        print(f"  {ep.name}: {ep.host}:{ep.port}{ep.base}", flush=True)
        out = results[ep.name]
        stamp(buf, "single")
        with Phase() as p:
            ep.put_stream(ep.path(big, "single"), view[:size])
        out["single_put"] = report(f"PUT {args.single_mib} MiB, 1 stream", size / MiB / p.seconds, "MB/s", p)
        with Phase() as p:
            got = ep.get_discard(ep.path(big, "single"), sink)
        assert got == size, (got, size)
        out["single_get"] = report(f"GET {args.single_mib} MiB, 1 stream", size / MiB / p.seconds, "MB/s", p)
        # hashmap re-upload of the data just stored (Pithos only)
        if args.hashmap:
            response, _ = ep.request("HEAD", ep.path(big))
            algorithm, block_size = response.getheader("X-Container-Block-Hash"), response.getheader("X-Container-Block-Size")
            if algorithm and block_size:
                out.update(hashmap_reupload(ep, big, view[:size], algorithm, int(block_size), args.repeat))

    # parallel streams: each stream its own slice of the buffer, all tagged anew
    streams, each = args.streams, args.stream_mib * MiB
    sinks = [memoryview(bytearray(MiB)) for _ in range(streams)]
    for ep in eps:
        print(f"  {ep.name}:", flush=True)
        stamp(buf, "parallel")
        with Phase() as p:
            run_threads(streams, lambda i: ep.put_stream(ep.path(big, f"par-{i}"), view[i * each : (i + 1) * each]))
        results[ep.name]["par_put"] = report(f"PUT {streams} x {args.stream_mib} MiB", streams * each / MiB / p.seconds, "MB/s", p)
        with Phase() as p:
            run_threads(streams, lambda i: ep.get_discard(ep.path(big, f"par-{i}"), sinks[i]))
        results[ep.name]["par_get"] = report(f"GET {streams} x {args.stream_mib} MiB", streams * each / MiB / p.seconds, "MB/s", p)

    for ep in eps:
        print(f"  {ep.name}:", flush=True)
        results[ep.name].update(small_objects(ep, small, args))
    for ep in eps:
        print(f"  {ep.name}:", flush=True)
        results[ep.name].update(listings(ep, listing, args))
    if args.cleanup:
        for ep in eps:
            cleanup(ep, [big, small, listing])
    return results


def unpadded(block: memoryview):
    """Pithos names a block by the hash of its bytes without trailing NULs (copy only if any)."""
    return bytes(block).rstrip(b"\0") if block[-1:] == b"\0" else block


def hashmap_reupload(ep: Endpoint, container: str, data: memoryview, algorithm: str, block_size: int,
                     repeat: int) -> dict[str, float]:
    """Client hashes the data (as kamaki does) and PUTs the hashmap; all blocks are stored already."""
    times, hashing = [], []
    sha = hash_anchor(data, algorithm)  # the machine's speed now, on the same bytes
    for attempt in range(repeat):
        with Phase() as p:
            t0 = time.perf_counter()
            hashes = [hashlib.new(algorithm, unpadded(data[o : o + block_size])).hexdigest()
                      for o in range(0, len(data), block_size)]
            hashing.append(time.perf_counter() - t0)
            body = json.dumps({"hashes": hashes, "bytes": len(data)}).encode()
            ep.request("PUT", ep.path(container, f"rehash-{attempt}", "hashmap=True&format=json"), body,
                       {"Content-Type": "application/octet-stream"}, expect=(201,))
        times.append(p.seconds)
    mb = len(data) / MiB
    total, client = statistics.median(times), statistics.median(hashing)
    print(f"    {'hashmap re-upload (hash + PUT)':<34} {mb / total:10.1f} MB/s   "
          f"(median of {repeat}: {total:.2f} s = client hash {client:.2f} s + server {total - client:.2f} s)", flush=True)
    print(f"    {'  ' + algorithm + ' of the same bytes just before':<34} {sha:10.1f} MB/s   (re-upload at {mb / total / sha:.0%} of it)", flush=True)
    return {"hashmap": mb / total, "hashmap_server_s": total - client, "hashmap_client_s": client, "hashmap_sha": sha}


def small_objects(ep: Endpoint, container: str, args) -> dict[str, float]:
    clients, seconds = args.clients, args.small_seconds
    names: list[list[str]] = [[] for _ in range(clients)]
    payloads = [bytearray(os.urandom(4096)) for _ in range(clients)]
    ep.request("HEAD", ep.path(container))  # warm the connection of this thread

    def put(i):
        deadline, n = time.monotonic() + seconds, 0
        while time.monotonic() < deadline:
            payloads[i][:16] = f"{i:04d}{n:012d}".encode()
            name = f"c{i:02d}/{n:08d}"
            ep.request("PUT", ep.path(container, name), bytes(payloads[i]), {"Content-Type": "application/octet-stream"}, expect=(201,))
            names[i].append(name)
            n += 1

    def reader(method):
        counts = [0] * clients

        def loop(i):
            deadline, k = time.monotonic() + seconds, 0
            mine = names[i]
            while time.monotonic() < deadline:
                ep.request(method, ep.path(container, mine[k % len(mine)]), expect=(200,))
                k += 1
            counts[i] = k
        return loop, counts

    out = {}
    with Phase() as p:
        run_threads(clients, put)
    out["small_put"] = report(f"4 KiB PUT, {clients} clients", sum(map(len, names)) / p.seconds, "obj/s", p)
    for method in ("GET", "HEAD"):
        loop, counts = reader(method)
        with Phase() as p:
            run_threads(clients, loop)
        out[f"small_{method.lower()}"] = report(f"4 KiB {method}, {clients} clients", sum(counts) / p.seconds, "req/s", p)
    return out


def listings(ep: Endpoint, container: str, args) -> dict[str, float]:
    total, fillers = args.listing_objects, args.fill_clients
    names = [f"obj{i:08d}" for i in range(total)]

    def fill(i):
        for name in names[i::fillers]:
            ep.request("PUT", ep.path(container, name), b"", {"Content-Type": "application/octet-stream"}, expect=(201,))

    with Phase() as p:
        run_threads(fillers, fill)
    out = {"fill": report(f"fill {total} objects (0-byte PUT)", total / p.seconds, "obj/s", p)}
    page = min(10000, total)
    deep = names[int(total * 0.9)]
    _, body = ep.request("GET", ep.path(container, query=f"limit={page}&format=json"), expect=(200,))
    listed = json.loads(body)
    assert [o["name"] for o in listed] == names[:page], "listing does not match what was stored"
    rest = total - int(total * 0.9) - 1
    for key, query, label in (("list_first", f"limit={page}&format=json", f"list {page} from start"),
                              ("list_deep", f"limit={page}&format=json&marker={deep}", f"list {min(page, rest)} after 90 % marker")):
        samples = []
        for _ in range(args.repeat_list):
            t0 = time.perf_counter()
            ep.request("GET", ep.path(container, query=query), expect=(200,))
            samples.append((time.perf_counter() - t0) * 1000)
        out[key] = report(f"{label} (p50)", statistics.median(samples), "ms")
    return out


def cleanup(ep: Endpoint, containers: list[str]) -> None:
    """Delete what the run made (bulk delete where the endpoint has it)."""
    for container in containers:
        while True:
            _, body = ep.request("GET", ep.path(container, query="format=json&limit=10000"), expect=(200, 204))
            objs = [o["name"] for o in json.loads(body or b"[]")]
            if not objs:
                break
            lines = "\n".join(urllib.parse.quote(f"/{container}/{o}") for o in objs).encode()
            response, _ = ep.request("POST", f"{ep.base}?bulk-delete", lines,
                                     {"Content-Type": "text/plain", "Accept": "application/json"}, expect=tuple(range(200, 600)))
            if response.status != 200:
                for o in objs:
                    ep.request("DELETE", ep.path(container, o), expect=(204, 404))
        ep.request("DELETE", ep.path(container), expect=(204, 404, 409))


# ------------------------------------------------------------------------------ compare mode

def swift_aio(command: str) -> None:
    subprocess.run([str(ROOT / "scripts" / "swift-aio"), command], check=True, stdout=subprocess.DEVNULL)


@contextlib.contextmanager
def synnefo_node(args, workdir: Path):
    """A fresh all-in-one node (`synnefo up`, default workers), as bench/identity.py starts it."""
    import requests

    from tests.live import make_node

    node, drop_db = make_node(workdir / "synnefo", args.database)
    (node.settings_dir / "60-bench.conf").write_text("SYNNEFO_WEB_WORKERS = None\n" + "".join(f"{line}\n" for line in args.synnefo_conf))
    try:
        try:
            node.start(timeout=120)
        except requests.RequestException:  # a busy machine: give /healthz longer than 2 s
            deadline = time.monotonic() + 120
            while requests.get(node.url + "/healthz", timeout=30).status_code != 200:
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)
        yield Endpoint("synnefo", f"{node.url}/auth/v1.0", node.credentials["email"], node.credentials["password"])
    finally:
        if node.process and node.process.poll() is None:
            node.stop()
        drop_db()


@contextlib.contextmanager
def swift_node():
    """A fresh Swift all-in-one (scripts/swift-aio), its data removed afterwards."""
    swift_aio("down")
    swift_aio("purge")
    try:
        swift_aio("up")
        port = os.environ.get("SWIFT_AIO_PORT", "8090")
        yield Endpoint("swift", f"http://127.0.0.1:{port}/auth/v1.0", "test:tester", "testing")
    finally:
        swift_aio("down")
        swift_aio("purge")


ROWS = [  # key, label, unit, higher is better
    ("single_put", "PUT {single} MiB, 1 stream", "MB/s", True),
    ("single_get", "GET {single} MiB, 1 stream", "MB/s", True),
    ("par_put", "PUT {streams} x {stream} MiB", "MB/s", True),
    ("par_get", "GET {streams} x {stream} MiB", "MB/s", True),
    ("small_put", "4 KiB PUT ({clients} clients)", "obj/s", True),
    ("small_get", "4 KiB GET ({clients} clients)", "req/s", True),
    ("small_head", "4 KiB HEAD ({clients} clients)", "req/s", True),
    ("fill", "0-byte PUT ({fill} clients, listing fill)", "obj/s", True),
    ("list_first", "list limit=10000 from the start ({objects} objects), p50", "ms", False),
    ("list_deep", "list limit=10000 after a marker at 90 %, p50", "ms", False),
    ("hashmap", "hashmap re-upload of {single} MiB (hash + PUT)", "MB/s", True),
    ("hashmap_sha", "SHA-256 of the same bytes, just before", "MB/s", True),
]


def table(results: dict[str, dict[str, float]], args, anchors: dict[str, float]) -> str:
    names = list(results)
    fmt = dict(single=args.single_mib, streams=args.streams, stream=args.stream_mib, clients=args.clients,
               fill=args.fill_clients, objects=args.listing_objects)
    lines = ["| measurement | " + " | ".join(names) + (" | ratio |" if len(names) == 2 else " |"),
             "|---|" + "---|" * len(names) + ("---|" if len(names) == 2 else "")]
    for key, label, unit, higher in ROWS:
        if not any(key in r for r in results.values()):
            continue
        cells = [f"{results[n][key]:.1f} {unit}" if key in results[n] else "n/a" for n in names]
        line = f"| {label.format(**fmt)} | " + " | ".join(cells) + " |"
        if len(names) == 2:
            a, b = (results[n].get(key) for n in names)
            line += f" {(a / b if higher else b / a):.2f}x |" if a and b else " |"
        lines.append(line)
    for key, label in (("sha256", "anchor: SHA-256, one core"), ("md5", "anchor: MD5, one core"),
                       ("disk", "anchor: disk sequential write + fsync"), ("fsync", "anchor: 4 KiB file + fsync (one thread)")):
        unit = "/s" if key == "fsync" else " MB/s"
        lines.append(f"| {label} | " + " | ".join([f"{anchors[key]:.0f}{unit}"] * len(names)) + (" | |" if len(names) == 2 else " |"))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--auth-url", help="v1 auth URL of one endpoint to measure (no compare)")
    parser.add_argument("--user", help="X-Auth-User (with --auth-url)")
    parser.add_argument("--key", help="X-Auth-Key (with --auth-url)")
    parser.add_argument("--name", default="endpoint", help="label of the endpoint (with --auth-url)")
    parser.add_argument("--quick", action="store_true", help="small sizes: about a minute in all")
    parser.add_argument("--only", choices=["synnefo", "swift"], help="compare mode: run one side only")
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite", help="database of the Synnefo node")
    parser.add_argument("--synnefo-conf", action="append", default=[], metavar="SETTING",
                        help="extra settings line for the Synnefo node, e.g. 'PITHOS_BACKEND_FSYNC = \"never\"' (repeatable)")
    parser.add_argument("--single-mib", type=int, help="single-stream object size (default 1024, quick 256)")
    parser.add_argument("--streams", type=int, default=8)
    parser.add_argument("--stream-mib", type=int, help="size of each parallel stream (default 128, quick 32)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients for 4 KiB objects")
    parser.add_argument("--small-seconds", type=float, help="seconds per 4 KiB phase (default 10, quick 3)")
    parser.add_argument("--listing-objects", type=int, help="objects in the listing container (default 10000, quick 2000; the issue's figure is 100000)")
    parser.add_argument("--fill-clients", type=int, default=16)
    parser.add_argument("--repeat", type=int, help="hashmap re-uploads, median (default 3, quick 1)")
    parser.add_argument("--repeat-list", type=int, default=9, help="listing requests per figure (median)")
    parser.add_argument("--no-hashmap", dest="hashmap", action="store_false")
    parser.add_argument("--no-cleanup", dest="cleanup", action="store_false", help="keep the objects (single endpoint)")
    parser.add_argument("--workdir", type=Path, help="temp data (node data dir, disk anchor); default: system temp dir")
    args = parser.parse_args()
    # Stopped with SIGTERM: unwind, so the node and the Swift all-in-one are stopped and cleaned.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    quick = args.quick
    args.single_mib = args.single_mib or (256 if quick else 1024)
    args.stream_mib = args.stream_mib or (32 if quick else 128)
    args.small_seconds = args.small_seconds or (3 if quick else 10)
    args.listing_objects = args.listing_objects or (2000 if quick else 10000)
    args.repeat = args.repeat or (1 if quick else 3)

    size = max(args.single_mib, args.streams * args.stream_mib) * MiB
    buf = bytearray(os.urandom(size))
    with tempfile.TemporaryDirectory(prefix="bench-pithos-", dir=args.workdir) as tmp:
        workdir = Path(tmp)
        view = memoryview(buf)
        anchor_size = min(size, (256 if quick else 1024) * MiB)
        anchors = {"sha256": hash_anchor(view[:anchor_size], "sha256"), "md5": hash_anchor(view[:anchor_size], "md5"),
                   "disk": disk_anchor(workdir, view[:anchor_size]), "fsync": fsync_anchor(workdir)}
        print(f"file storage benchmark: {os.cpu_count()} cores, {platform.python_implementation()} "
              f"{platform.python_version()}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
        print(f"  anchors: SHA-256 {anchors['sha256']:.0f} MB/s, MD5 {anchors['md5']:.0f} MB/s, "
              f"disk write+fsync {anchors['disk']:.0f} MB/s ({anchor_size // MiB} MiB in {workdir}), "
              f"4 KiB file+fsync {anchors['fsync']:.0f}/s", flush=True)
        with contextlib.ExitStack() as stack:
            if args.auth_url:
                if not (args.user and args.key):
                    parser.error("--auth-url needs --user and --key")
                eps = [Endpoint(args.name, args.auth_url, args.user, args.key)]
            else:
                eps, args.cleanup = [], False  # both stores are thrown away whole
                if args.only != "swift":
                    eps.append(stack.enter_context(synnefo_node(args, workdir)))
                if args.only != "synnefo":
                    eps.append(stack.enter_context(swift_node()))
            results = workload(eps, args, buf)
        print("\n" + table(results, args, anchors))
        if "hashmap" in next(iter(results.values()), {}):
            r = next(r for r in results.values() if "hashmap" in r)
            print(f"\nhashmap re-upload: {r['hashmap'] / r['hashmap_sha']:.0%} of SHA-256 speed measured just before it "
                  f"(client hash {r['hashmap_client_s']:.2f} s, server {r['hashmap_server_s']:.2f} s)")


if __name__ == "__main__":
    main()
