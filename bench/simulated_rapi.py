"""snf-ganeti-simulated: RAPI requests per second, beside the same server's bare endpoint.

* anchor: ``GET /version`` on the same service (TLS, Basic auth, routing; no cluster work);
* ``GET /2/jobs/<id>``: what every caller does while waiting for a job;
* ``GET /2/instances?bulk=1`` with ``--instances`` instances (the reconciliation's read);
* ``POST /2/instances``: job submissions (each one rewrites and fsyncs the state file).

The service runs as its own process (as under ``synnefo up``), on a throwaway data directory
with the embedded message queue; ``--threads`` client threads with keep-alive connections
(the real ``GanetiRapiClient``) drive it for ``--seconds`` per figure.

Usage: python bench/simulated_rapi.py [--threads 4] [--seconds 5] [--instances 200]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from synnefo.cyclades.ganeti.rapi import GanetiRapiClient  # noqa: E402
from tests.live import free_port  # noqa: E402


def rate(make_client, call, threads: int, seconds: float) -> float:
    """Calls per second over ``threads`` threads, each with its own client (connection)."""
    counts = [0] * threads
    stop = time.monotonic() + seconds

    def run(i):
        client = make_client()
        n = 0
        while time.monotonic() < stop:
            call(client, i, n)
            n += 1
        counts[i] = n
        client.close()

    workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return sum(counts) / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--instances", type=int, default=200)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-simrapi-"))
    (tmp / "etc").mkdir()
    port = free_port()
    (tmp / "etc" / "50-bench.conf").write_text(f"SIMULATED_GANETI_PORT = {port}\nSIMULATED_GANETI_SPEED = 0.001\n")
    env = {**os.environ, "SYNNEFO_DATA_DIR": str(tmp / "data"), "SYNNEFO_SETTINGS_DIR": str(tmp / "etc"),
           "PYTHONPATH": os.pathsep.join(sys.path)}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    service = subprocess.Popen([sys.executable, "-m", "synnefo.cyclades.ganeti.simulated_rapi"], env=env,
                               stdout=subprocess.PIPE, text=True)
    try:
        assert "serving RAPI" in service.stdout.readline()
        files = tmp / "data" / "ganeti-simulated"
        password = (files / "rapi-password").read_text().strip()

        def make_client():
            return GanetiRapiClient("127.0.0.1", port, "synnefo", password, ca_file=str(files / "rapi.pem"))

        setup = make_client()
        for i in range(args.instances):
            job = setup.create_instance(f"snf-{i}", "file", [{"size": 1024}], [{}], os_type="snf-image+default",
                                        beparams={"maxmem": 128, "vcpus": 1})
        setup.wait_for_job(job, interval=0.05)
        time.sleep(0.5)
        figures = {
            "GET /version (anchor)": rate(make_client, lambda c, i, n: c.get_version(), args.threads, args.seconds),
            "GET /2/jobs/<id>": rate(make_client, lambda c, i, n: c.get_job_status(job), args.threads, args.seconds),
            f"GET /2/instances?bulk=1 ({args.instances})": rate(
                make_client, lambda c, i, n: c.get_instances(bulk=True), args.threads, args.seconds),
            "POST /2/instances (submit)": rate(make_client, lambda c, i, n: c.create_instance(
                f"b{i}-{n}", "file", [{"size": 1}], [{}], os_type="snf-image+default", beparams={"maxmem": 1}),
                args.threads, args.seconds),
        }
        setup.close()
    finally:
        service.terminate()
        service.wait(timeout=20)
    anchor = next(iter(figures.values()))
    print(f"snf-ganeti-simulated, {args.threads} client threads, {args.seconds:.0f} s per figure, {os.cpu_count()} cores")
    for name, value in figures.items():
        print(f"  {name:40s} {value:8.0f} req/s  ({value / anchor:.0%} of the anchor)")


if __name__ == "__main__":
    main()
