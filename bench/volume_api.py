"""Volumes through the volume API (Cinder v3), in-process on a throwaway database.

For each size (1, 10, 100 GiB by default): the latency of POST /volumes of an ext_archipelago
volume cloned from an image (token, validation, quota commission, the clone's map write in the
node's volume store), of POST /snapshots of it (freeze + Pithos object + image), and of
DELETE; beside two anchors measured in the same run: POST /volumes of an empty volume of the
same size (the map of zeros alone), and GET /volumes/<id> (an API round trip with no work).
Each figure is the median of --repeat runs.

Usage: python bench/volume_api.py [--sizes 1,10,100] [--repeat 5] [--database postgresql|sqlite]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.throwaway_db import throwaway_database  # noqa: E402


def timed(call) -> tuple[float, object]:
    start = time.perf_counter()
    result = call()
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1,10,100")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--database", default="postgresql", choices=("postgresql", "sqlite"))
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    data_dir = tempfile.mkdtemp(prefix="bench-volume-api-")
    os.environ["SYNNEFO_DATA_DIR"] = data_dir
    with throwaway_database(args.database):
        from django.conf import settings
        from django.core.management import call_command
        from django.test import Client

        from synnefo.astakos.logic import tokens, users
        from synnefo.cyclades.models import VolumeType
        from tests.compute_helpers import register_image
        from tests.pithos_helpers import Store

        settings.SYNNEFO_DATA_DIR = data_dir
        settings.PITHOS_BACKEND_BLOCK_PATH = str(Path(data_dir) / "blocks")
        user = users.create_user(f"bench-{uuid.uuid4().hex[:6]}@example.org", "Bench", "User", password="x" * 12)
        token, _ = tokens.renew_main_token(user)
        call_command("quota-modify", str(user.uuid), "--resource", "cyclades.disk", "--limit", str(10 * 1024 ** 4),
                     stdout=io.StringIO())
        call_command("quota-modify", str(user.uuid), "--resource", "pithos.diskspace", "--limit", str(10 * 1024 ** 4),
                     stdout=io.StringIO())
        VolumeType.objects.create(name="archip", disk_template="ext_archipelago")
        client = Client()
        image = register_image(client, Store(client, user, token), data=os.urandom(8 * 1024 * 1024))
        base = f"/cyclades/volume/v3/{user.uuid}"

        def call(method, path, body=None, expect=(200, 202)):
            r = client.generic(method, base + path, data=json.dumps(body).encode() if body else b"",
                               content_type="application/json", HTTP_X_AUTH_TOKEN=token)
            assert r.status_code in expect, r.content
            return r.json() if r.content else None

        print(f"database {args.database}, block size {settings.PITHOS_BACKEND_BLOCK_SIZE}, median of {args.repeat}")
        print(f"{'size':>8} {'clone':>9} {'empty':>9} {'snapshot':>9} {'delete':>9} {'GET':>9}   (ms)")
        for size in sizes:
            rows = {k: [] for k in ("clone", "empty", "snapshot", "delete", "get")}
            for _ in range(args.repeat):
                t, out = timed(lambda: call("POST", "/volumes", {"volume": {"size": size, "imageRef": image}}))
                rows["clone"].append(t)
                vid = out["volume"]["id"]
                rows["get"].append(timed(lambda: call("GET", f"/volumes/{vid}"))[0])
                t, snap = timed(lambda: call("POST", "/snapshots", {"snapshot": {"volume_id": vid, "name": f"s-{uuid.uuid4().hex[:6]}"}}))
                rows["snapshot"].append(t)
                call("DELETE", f"/snapshots/{snap['snapshot']['id']}")
                rows["delete"].append(timed(lambda: call("DELETE", f"/volumes/{vid}"))[0])
                t, out = timed(lambda: call("POST", "/volumes", {"volume": {"size": size}}))
                rows["empty"].append(t)
                call("DELETE", f"/volumes/{out['volume']['id']}")
            med = {k: statistics.median(v) * 1000 for k, v in rows.items()}
            print(f"{size:>5} GiB {med['clone']:>9.1f} {med['empty']:>9.1f} {med['snapshot']:>9.1f} {med['delete']:>9.1f} "
                  f"{med['get']:>9.1f}")


if __name__ == "__main__":
    main()
