"""The object upload path in-process: a request body through a real socket, gunicorn's body
reader and Django's stream, into the block store (``data.store_stream``), durable at the end.

No HTTP parsing, database or quota: this isolates the per-byte work of a PUT (socket reads,
copies, MD5, SHA-256, block files, fsyncs), the part that decides large-upload throughput.
A client thread sends random data (fresh in every 4 MiB block, so nothing deduplicates) over a
socketpair; the main thread reads it as gunicorn's sync/gthread workers would.

    .venv/bin/python bench/pithos_put.py [--mib 256] [--repeat 3] [--streams 1] [--profile] [--copying] [--buffered-io]
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

MiB = 1024 * 1024
DIRECT = True  # read the socket into the block buffers, as the PUT view does (--copying: not)


def setup(block_dir: str, direct_io: bool = True):
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django
    from django.conf import settings

    django.setup()
    settings.PITHOS_BACKEND_BLOCK_PATH = block_dir
    settings.PITHOS_BACKEND_DIRECT_IO = direct_io
    from synnefo.pithos.backend.blocks import reset_block_store

    reset_block_store()


def body_reader(sock: socket.socket, length: int):
    """``read(n)`` as a Django view sees it under gunicorn (with synnefo's 1 MiB recv)."""
    from django.core.handlers.wsgi import LimitedStream
    from gunicorn.http.body import Body, LengthReader
    from gunicorn.http.unreader import SocketUnreader

    import synnefo.webproject.gunicorn_config  # noqa: F401 (sets gunicorn's recv size)

    body = Body(LengthReader(SocketUnreader(sock), length))
    return LimitedStream(body, length), body


def upload(length: int, payload: bytearray) -> tuple[float, float]:
    """One upload of ``length`` bytes: (MB/s from first byte sent to blocks durable, CPU
    seconds per GiB of this process: the server side plus the sender's sendall)."""
    from synnefo.pithos.backend import data

    server, client = socket.socketpair()
    for s in (server, client):
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 * MiB)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * MiB)
    view = memoryview(payload)

    def send():
        sent = 0
        while sent < length:
            n = min(len(view), length - sent)
            view[:8] = os.urandom(8)  # new content in every block
            client.sendall(view[:n])
            sent += n

    sender = threading.Thread(target=send)
    start, cpu = time.perf_counter(), time.process_time()
    sender.start()
    stream, body = body_reader(server, length)
    readinto = None
    if DIRECT:
        from synnefo.pithos.api.util import socket_readinto

        readinto = socket_readinto(body, length)
    _, size, _ = data.store_stream(stream.read, length, readinto=readinto)
    elapsed = time.perf_counter() - start
    sender.join()
    cpu = time.process_time() - cpu
    server.close()
    client.close()
    assert size == length
    return length / elapsed / 1e6, cpu / (length / 2**30)


def parallel(streams: int, length: int) -> tuple[float, float]:
    """``streams`` uploads at once, each in its own thread as gunicorn's gthread workers run
    them: (aggregate MB/s, CPU seconds per GiB)."""
    payloads = [bytearray(os.urandom(4 * MiB)) for _ in range(streams)]
    start, cpu = time.perf_counter(), time.process_time()
    threads = [threading.Thread(target=upload, args=(length, payload)) for payload in payloads]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    total = streams * length
    return total / elapsed / 1e6, cpu / (total / 2**30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mib", type=int, default=256, help="upload size (MiB)")
    parser.add_argument("--repeat", type=int, default=3, help="uploads; the median is printed")
    parser.add_argument("--profile", action="store_true", help="cProfile one upload, top 25 by own time")
    parser.add_argument("--streams", type=int, default=1, help="concurrent uploads of --mib each (aggregate MB/s)")
    parser.add_argument("--buffered-io", action="store_true", help="PITHOS_BACKEND_DIRECT_IO = False")
    parser.add_argument("--copying", action="store_true", help="read through gunicorn's buffers (the old path)")
    parser.add_argument("--workdir", type=Path, help="where the block store goes (default: system temp dir)")
    args = parser.parse_args()
    global DIRECT
    DIRECT = not args.copying
    with tempfile.TemporaryDirectory(prefix="pithos-put-", dir=args.workdir) as tmp:
        setup(tmp, direct_io=not args.buffered_io)
        payload = bytearray(os.urandom(4 * MiB))
        length = args.mib * MiB
        if args.profile:
            import cProfile
            import pstats

            profiler = cProfile.Profile()
            profiler.enable()
            rate, _ = upload(length, payload)
            profiler.disable()
            print(f"profiled upload: {rate:.1f} MB/s")
            pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
            return
        runs = [parallel(args.streams, length) if args.streams > 1 else upload(length, payload) for _ in range(args.repeat)]
        rates = sorted(rate for rate, _ in runs)
        cpu = sorted(c for _, c in runs)[len(runs) // 2]
        load = os.getloadavg()[0]
        mode = ("copying" if args.copying else "direct read") + (", buffered io" if args.buffered_io else ", O_DIRECT")
        what = f"{args.streams} x {args.mib} MiB" if args.streams > 1 else f"{args.mib} MiB"
        print(f"store_stream via socket ({mode}), {what}: median {rates[len(rates) // 2]:.1f} MB/s "
              f"(runs: {', '.join(f'{r:.1f}' for r in rates)}); CPU {cpu:.2f} s/GiB (median, all threads, sender "
              f"included); load average {load:.1f}")


if __name__ == "__main__":
    main()
