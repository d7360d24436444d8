"""Allocator decision time with many backends, beside one query of all backends as anchor.

Creates N backends (default 1,000) with fresh, varied statistics on a throwaway database and
times ``allocate_backend`` (lock all candidates, filters, disk template, score, reserve) against
``list(Backend.objects.all())`` (one query of all backends, the least any decision needs).

Usage: python bench/allocator.py [--backends 1000] [--rounds 50] [--database sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.throwaway_db import throwaway_database  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    args = parser.parse_args()
    with throwaway_database(args.database):
        from django.utils import timezone

        from synnefo.cyclades.logic.allocator import VMRequest, allocate_backend
        from synnefo.cyclades.models import Backend

        rng = random.Random(1)
        now = timezone.now()
        Backend.objects.bulk_create([
            Backend(clustername=f"cluster{i}.example.org", mtotal=256_000, mfree=rng.randint(1_000, 256_000),
                    dtotal=10_000_000, dfree=rng.randint(10_000, 10_000_000), ctotal=64,
                    pinst_cnt=rng.randint(0, 40), disk_templates=["drbd", "file", "ext"], updated=now,
                    drained=(i % 10 == 0))
            for i in range(args.backends)
        ])

        def timed(fn):
            samples = []
            for _ in range(args.rounds):
                start = time.perf_counter()
                fn()
                samples.append(time.perf_counter() - start)
            return statistics.median(samples) * 1000

        anchor = timed(lambda: list(Backend.objects.all()))
        vm = VMRequest(ram=2048, disk=20_480, cpu=2, disk_template="drbd", userid="bench")
        decision = timed(lambda: allocate_backend(VMRequest(**vm.__dict__)))
        print(f"database: {args.database}; backends: {args.backends} (10% drained); rounds: {args.rounds}")
        print(f"anchor  list(Backend.objects.all()): {anchor:8.2f} ms (median)")
        print(f"allocate_backend (lock+filter+score): {decision:8.2f} ms (median)  = {decision / anchor:.1f}x the anchor")


if __name__ == "__main__":
    main()
