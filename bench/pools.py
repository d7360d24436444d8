"""Pools on PostgreSQL: allocations per second from a 65,536-entry pool with concurrent
allocators, beside PostgreSQL's own single-row UPDATE rate measured in the same run.

Each allocator is a process running ``pools.locked("bridge") -> pool.get()`` in a loop: one
transaction that locks the pool row (SELECT ... FOR UPDATE), decodes its two 8 KiB bitmaps,
takes the first free value and writes the row back. Every allocation contends for the one row,
as every network creation does. The anchor: the same number of processes running an autocommit
``UPDATE anchor SET n = n + 1 WHERE id = 1`` (also one row) through psycopg. Each figure is the
best of ``--repeat`` interleaved runs; the pool is created afresh for each run.

Usage: python bench/pools.py [--seconds 3] [--repeat 3] [--clients 1,4,16]
Needs PostgreSQL at 127.0.0.1:5432 (SYNNEFO_TEST_PG_* to change); uses a throwaway database.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.throwaway_db import throwaway_database  # noqa: E402

SIZE = 65536


def _allocator(seconds: float, start, counts) -> None:
    from django.db import connection

    from synnefo.cyclades.logic import pools

    connection.close()  # a connection of this process, not the parent's
    start.wait()
    done, deadline = 0, time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with pools.locked("bridge") as pool:
                pool.get()
        except pools.PoolExhausted:
            break
        done += 1
    counts.put(done)
    connection.close()


def _updater(dsn: dict, seconds: float, start, counts) -> None:
    import psycopg

    with psycopg.connect(autocommit=True, **dsn) as conn:
        start.wait()
        done, deadline = 0, time.monotonic() + seconds
        while time.monotonic() < deadline:
            conn.execute("UPDATE bench_anchor SET n = n + 1 WHERE id = 1")
            done += 1
    counts.put(done)


def _run(target, args, clients: int, seconds: float) -> float:
    ctx = multiprocessing.get_context("fork")
    start, counts = ctx.Barrier(clients + 1), ctx.Queue()
    procs = [ctx.Process(target=target, args=(*args, seconds, start, counts)) for _ in range(clients)]
    for proc in procs:
        proc.start()
    start.wait()
    began = time.monotonic()
    total = sum(counts.get(timeout=seconds + 60) for _ in procs)
    elapsed = time.monotonic() - began
    for proc in procs:
        proc.join()
    return total / max(elapsed, seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--clients", default="1,4,16")
    args = parser.parse_args()
    with throwaway_database("postgresql") as connection:
        from synnefo.cyclades.logic import pools
        from synnefo.cyclades.models import BridgePoolTable

        settings_dict = connection.settings_dict
        dsn = {"host": settings_dict["HOST"], "port": settings_dict["PORT"], "user": settings_dict["USER"],
               "password": settings_dict["PASSWORD"], "dbname": settings_dict["NAME"]}
        with connection.cursor() as cursor:
            cursor.execute("CREATE TABLE bench_anchor (id int PRIMARY KEY, n bigint NOT NULL)")
            cursor.execute("INSERT INTO bench_anchor VALUES (1, 0)")
        print(f"pool of {SIZE} values, one row; best of {args.repeat} runs of {args.seconds} s")
        print(f"{'clients':>7} {'allocations/s':>14} {'UPDATE one row/s':>17} {'ratio':>6}")
        for clients in [int(c) for c in args.clients.split(",")]:
            best_pool = best_update = 0.0
            for _ in range(args.repeat):
                BridgePoolTable.objects.all().delete()
                pools.create_pool("bridge", "prv", SIZE)
                connection.close()
                best_pool = max(best_pool, _run(_allocator, (), clients, args.seconds))
                best_update = max(best_update, _run(_updater, (dsn,), clients, args.seconds))
            row = BridgePoolTable.objects.get()
            assert pools.pool_class("bridge")[1](row).count_available() < SIZE
            print(f"{clients:>7} {best_pool:>14.0f} {best_update:>17.0f} {best_pool / best_update:>6.0%}")


if __name__ == "__main__":
    main()
