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

Each figure is the best of ``--repeat`` runs, the four measurements interleaved, so that load from
anything else on the machine penalises the quotaholder and the anchor alike.

Usage: python bench/quotas.py [--seconds 3] [--repeat 3] [--clients 1,4,16]
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


def _setup(db_name: str) -> None:
    pg = pg_params()
    settings_dir = Path(tempfile.mkdtemp(prefix="bench-quotas-etc-"))
    (settings_dir / "50-bench.conf").write_text(
        "DATABASES = {'default': {'ENGINE': 'django.db.backends.postgresql', "
        f"'NAME': {db_name!r}, 'HOST': {pg['host']!r}, 'PORT': {pg['port']!r}, "
        f"'USER': {pg['user']!r}, 'PASSWORD': {pg['password']!r}}}}}\n"
    )
    os.environ["SYNNEFO_SETTINGS_DIR"] = str(settings_dir)
    os.environ["SYNNEFO_DATA_DIR"] = tempfile.mkdtemp(prefix="bench-quotas-data-")
    from synnefo.common.conf import setup_django_or_exit

    setup_django_or_exit("bench")


def _commission_worker(args) -> int:
    user_uuid, deadline, start = args
    from django.db import connections

    from synnefo.astakos.quotaholder.client import LocalClient

    client = LocalClient("bench")
    while time.time() < start:
        time.sleep(0.001)
    done = 0
    while time.time() < deadline:
        serial = client.issue_one_commission(user_uuid, {"cyclades.vm": 1})
        client.accept(serial)
        done += 1
    connections.close_all()
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
    args = parser.parse_args()
    clients = [int(c) for c in args.clients.split(",")]

    import psycopg

    pg = pg_params()
    db_name = f"bench_quotas_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(dbname="postgres", autocommit=True, **pg) as conn:
        conn.execute(f'CREATE DATABASE "{db_name}"')
    try:
        _setup(db_name)
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
        connections.close_all()

        print(f"quotaholder benchmark: {version}, {os.cpu_count()} cores, best of {args.repeat} x {args.seconds:g} s, "
              "in-process client (no HTTP), one commission = member + project provision")
        print(f"{'clients':>7}  {'shared c/s':>10}  {'spread c/s':>10}  {'UPDATE 1 row/s':>14}  {'UPDATE own row/s':>16}")
        for n in clients:
            shared = spread = one_row = own_row = 0.0
            for _ in range(args.repeat):
                shared = max(shared, _run(n, _commission_worker, lambda i, s, d: (users[0], d, s), args.seconds))
                spread = max(spread, _run(n, _commission_worker, lambda i, s, d: (users[i], d, s), args.seconds))
                one_row = max(one_row, _run(n, _update_worker, lambda i, s, d: (db_name, 1, d, s), args.seconds))
                own_row = max(own_row, _run(n, _update_worker, lambda i, s, d: (db_name, i + 1, d, s), args.seconds))
            print(f"{n:>7}  {shared:>10.0f}  {spread:>10.0f}  {one_row:>14.0f}  {own_row:>16.0f}", flush=True)
    finally:
        with psycopg.connect(dbname="postgres", autocommit=True, **pg) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
