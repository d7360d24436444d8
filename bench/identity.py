"""Token validation throughput through the real HTTP stack, beside the same server's ceiling.

Starts an all-in-one node (`synnefo up`: gunicorn gthread workers, SQLite by default or a
throwaway PostgreSQL database with --database postgresql), then drives it with wrk:

* ceiling: GET /healthz (the full Django stack, no database, no token);
* v2.0:    POST /astakos/identity/v2.0/tokens {"auth":{"token":{"id":...}}} - what kamaki sends
           before every command and every service sends per request; answers the full catalog;
* GET:     GET /astakos/identity/v2.0/tokens/<token> - validation without the catalog.

Usage: python bench/identity.py [--seconds 10] [--connections 32] [--database sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.live import make_node  # noqa: E402


def ensure_wrk() -> str:
    wrk = shutil.which("wrk")
    if wrk:
        return wrk
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("installing wrk (Debian package) ...", flush=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, capture_output=True)
        return shutil.which("wrk")
    sys.exit("bench needs wrk (apt-get install wrk)")


def run_wrk(wrk: str, url: str, seconds: int, connections: int, lua: str | None = None) -> float:
    command = [wrk, "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        if lua:
            script.write(lua)
            script.flush()
            command[1:1] = ["-s", script.name]
        out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        sys.exit(f"{url}: {non2xx.group(1)} failed responses\n{out}")
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1)
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    print(f"  {rate:10.0f} req/s  p50 {p50:>8}  {url}", flush=True)
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    args = parser.parse_args()
    wrk = ensure_wrk()

    with tempfile.TemporaryDirectory() as tmp:
        node, cleanup = make_node(Path(tmp), args.database)
        (node.settings_dir / "60-bench.conf").write_text("SYNNEFO_WEB_WORKERS = None\n")
        try:
            node.start()
            token = node.credentials["token"]
            body = json.dumps({"auth": {"token": {"id": token}}})
            post = (
                'wrk.method = "POST"\n'
                f"wrk.body = {json.dumps(body)}\n"
                'wrk.headers["Content-Type"] = "application/json"\n'
                f'wrk.headers["X-Auth-Token"] = "{token}"\n'
            )
            print(f"identity benchmark: {os.cpu_count()} cores, {args.connections} connections, "
                  f"{args.seconds}s each, database {args.database}")
            run_wrk(wrk, node.url + "/healthz", 2, args.connections)  # warm-up
            ceiling = run_wrk(wrk, node.url + "/healthz", args.seconds, args.connections)
            v2 = run_wrk(wrk, node.url + "/astakos/identity/v2.0/tokens", args.seconds, args.connections, post)
            get = run_wrk(wrk, f"{node.url}/astakos/identity/v2.0/tokens/{token}", args.seconds, args.connections)
            print(f"RESULT ceiling(/healthz) {ceiling:.0f} req/s | POST v2.0/tokens {v2:.0f} req/s "
                  f"({v2 / ceiling:.0%} of ceiling) | GET v2.0/tokens/<id> {get:.0f} req/s ({get / ceiling:.0%})")
        finally:
            if node.process and node.process.poll() is None:
                node.stop()
            cleanup()


if __name__ == "__main__":
    main()
