"""Quotaholder throughput on PostgreSQL: commissions per second (issue + accept), beside
PostgreSQL's own single-row UPDATE rate measured in the same run as the anchor.

Every client is a separate process using the **in-process** quotaholder client
(``synnefo.astakos.quotaholder.client.LocalClient``: the same logic the HTTP views call, without
HTTP), each commission being upstream's pair of provisions (member + base project), so one
issue + accept is two transactions locking two holdings. Two cases:

* shared:  every client charges the same user (one pair of holdings: fully contended);
* spread:  every client charges its own user (no lock contention).

Anchors, same number of processes, autocommit psycopg loops:

* UPDATE one row:   UPDATE anchor SET n = n + 1 WHERE id = 1   (all clients, one row);
* UPDATE own row:   each client updates its own row.

With ``--http`` the same two cases also run through the HTTP API (``HttpClient``, one
``requests`` session per client process, service token) against ``synnefo up`` (gunicorn,
2 x cores workers) on the same database.

Each figure is the best of ``--repeat`` runs, the four measurements interleaved, so that load from
anything else on the machine penalises the quotaholder and the anchor alike.

Usage: python bench/quotas.py [--seconds 3] [--repeat 3] [--clients 1,4,16] [--http]
Needs PostgreSQL at 127.0.0.1:5432 (SYNNEFO_TEST_PG_* to change); uses a throwaway database.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.pgcheck import params as pg_params  # noqa: E402


def _setup(db_name: str) -> tuple[Path, Path]:
    pg = pg_params()
    settings_dir = Path(tempfile.mkdtemp(prefix="bench-quotas-etc-"))
    (settings_dir / "50-bench.conf").write_text(
        "DATABASES = {'default': {'ENGINE': 'django.db.backends.postgresql', "
        f"'NAME': {db_name!r}, 'HOST': {pg['host']!r}, 'PORT': {pg['port']!r}, "
        f"'USER': {pg['user']!r}, 'PASSWORD': {pg['password']!r}}}}}\n"
    )
    os.environ["SYNNEFO_SETTINGS_DIR"] = str(settings_dir)
    data_dir = Path(tempfile.mkdtemp(prefix="bench-quotas-data-"))
    os.environ["SYNNEFO_DATA_DIR"] = str(data_dir)
    from synnefo.common.conf import setup_django_or_exit

    setup_django_or_exit("bench")
    return settings_dir, data_dir


def _commission_worker(args) -> int:
    user_uuid, deadline, start = args
    from django.db import connections

    from synnefo.astakos.quotaholder.client import LocalClient

    client = LocalClient("bench")
    return _commission_loop(client, user_uuid, deadline, start, connections.close_all)


def _http_worker(args) -> int:
    user_uuid, deadline, start, url, token = args
    from synnefo.astakos.quotaholder.client import HttpClient

    return _commission_loop(HttpClient("bench", url, token), user_uuid, deadline, start, lambda: None)


def _commission_loop(client, user_uuid, deadline, start, done_callback) -> int:
    while time.time() < start:
        time.sleep(0.001)
    done = 0
    while time.time() < deadline:
        serial = client.issue_one_commission(user_uuid, {"cyclades.vm": 1})
        client.accept(serial)
        done += 1
    done_callback()
    return done


def _update_worker(args) -> int:
    import psycopg

    db_name, row, deadline, start = args
    with psycopg.connect(dbname=db_name, autocommit=True, **pg_params()) as conn:
        while time.time() < start:
            time.sleep(0.001)
        done = 0
        while time.time() < deadline:
            conn.execute("UPDATE anchor SET n = n + 1 WHERE id = %s", (row,))
            done += 1
    return done


def _run(pool_size: int, worker, args_for, seconds: float) -> float:
    start = time.time() + 1.0
    deadline = start + seconds
    with multiprocessing.get_context("fork").Pool(pool_size) as pool:
        counts = pool.map(worker, [args_for(i, start, deadline) for i in range(pool_size)])
    return sum(counts) / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3)
    parser.add_argument("--repeat", type=int, default=3, help="Runs per figure; the best is shown")
    parser.add_argument("--clients", default="1,4,16", help="Comma-separated client (process) counts")
    parser.add_argument("--http", action="store_true", help="Also through the HTTP API of a synnefo up node")
    args = parser.parse_args()
    clients = [int(c) for c in args.clients.split(",")]

    import psycopg

    pg = pg_params()
    db_name = f"bench_quotas_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(dbname="postgres", autocommit=True, **pg) as conn:
        conn.execute(f'CREATE DATABASE "{db_name}"')
    node = None
    try:
        settings_dir, data_dir = _setup(db_name)
        from django.core.management import call_command
        from django.db import connection, connections

        from synnefo.astakos.logic.users import create_user
        from synnefo.astakos.quotaholder.logic import ensure_user_holdings
        from synnefo.astakos.quotaholder.models import UNLIMITED, Resource

        call_command("migrate", verbosity=0)
        Resource.objects.filter(name="cyclades.vm").update(uplimit=UNLIMITED)
        users = [str(create_user(f"bench{i}@example.org", "B", "U").uuid) for i in range(max(clients))]
        ensure_user_holdings(users)
        with connection.cursor() as cursor:
            cursor.execute("CREATE TABLE anchor (id int PRIMARY KEY, n bigint NOT NULL)")
            cursor.execute("INSERT INTO anchor SELECT g, 0 FROM generate_series(1, %s) g", [max(clients)])
        with connection.cursor() as cursor:
            cursor.execute("SELECT version()")
            version = cursor.fetchone()[0].split(",")[0]
        if args.http:
            from synnefo.astakos.quotaholder.service_tokens import add_component
            from tests.live import LiveNode, free_port

            token, _ = add_component("bench")
            (settings_dir / "60-bench.conf").write_text("SYNNEFO_WEB_WORKERS = None\n")
            node = LiveNode(data_dir, settings_dir, free_port())
        connections.close_all()
        if node is not None:
            node.start()
            url = f"{node.url}/astakos/account/v1.0"

        print(f"quotaholder benchmark: {version}, {os.cpu_count()} cores, best of {args.repeat} x {args.seconds:g} s, "
              "in-process client" + (" and HTTP" if node else " (no HTTP)") + ", one commission = member + project provision")
        http_head = f"  {'HTTP shared':>11}  {'HTTP spread':>11}" if node else ""
        print(f"{'clients':>7}  {'shared c/s':>10}  {'spread c/s':>10}  {'UPDATE 1 row/s':>14}  {'UPDATE own row/s':>16}{http_head}")
        for n in clients:
            shared = spread = one_row = own_row = http_shared = http_spread = 0.0
            for _ in range(args.repeat):
                if node is not None:
                    http_shared = max(http_shared, _run(n, _http_worker, lambda i, s, d: (users[0], d, s, url, token), args.seconds))
                    http_spread = max(http_spread, _run(n, _http_worker, lambda i, s, d: (users[i], d, s, url, token), args.seconds))
                shared = max(shared, _run(n, _commission_worker, lambda i, s, d: (users[0], d, s), args.seconds))
                spread = max(spread, _run(n, _commission_worker, lambda i, s, d: (users[i], d, s), args.seconds))
                one_row = max(one_row, _run(n, _update_worker, lambda i, s, d: (db_name, 1, d, s), args.seconds))
                own_row = max(own_row, _run(n, _update_worker, lambda i, s, d: (db_name, i + 1, d, s), args.seconds))
            http_cols = f"  {http_shared:>11.0f}  {http_spread:>11.0f}" if node else ""
            print(f"{n:>7}  {shared:>10.0f}  {spread:>10.0f}  {one_row:>14.0f}  {own_row:>16.0f}{http_cols}", flush=True)
    finally:
        if node is not None and node.process is not None and node.process.poll() is None:
            node.stop()
        with psycopg.connect(dbname="postgres", autocommit=True, **pg) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
