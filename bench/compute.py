"""Compute: servers created through the API until ACTIVE, on the simulated cluster.

* creates: N servers POSTed one after another through the compute API (auth, validation,
  quota commission, allocator, RAPI, database), each then taken to ACTIVE by its Ganeti events
  through RabbitMQ and the real dispatcher. Reported: the time until all are ACTIVE, and the
  API's create latency (p50, p99);
* ceiling: the same creates with the update path bypassed: the simulated cluster's events are
  applied by the dispatcher's callbacks directly (no broker, no dispatcher process);
* listing: GET servers/detail for a user with 10,000 servers, beside the database's own fetch of
  the same rows (the anchor);
* with --ganeti (the sandbox, deploy/ganeti-sandbox up): the API's submission latency of a
  create beside a bare RAPI create submission on the same cluster, i.e. what we add per create.

The simulated cluster runs its jobs at ``--speed`` times Ganeti's durations (0.01: our costs, not
Ganeti's, dominate). Usage: python bench/compute.py [--servers 1000] [--list 10000]
[--database postgresql|sqlite] [--ganeti]
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.throwaway_db import throwaway_database  # noqa: E402

BROKER = "amqp://guest:guest@127.0.0.1:5672//"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def setup_cloud(servers: int):
    """A user with room for the servers, an image, a flavor; returns (client, token, image, flavor)."""
    from django.core.management import call_command
    from django.test import Client

    from synnefo.astakos.logic import tokens, users
    from synnefo.cyclades.models import Flavor, VolumeType
    from tests.compute_helpers import register_image
    from tests.pithos_helpers import Store

    user = users.create_user(f"bench-{uuid.uuid4().hex[:6]}@example.org", "Bench", "User", password="x" * 12)
    token, _ = tokens.renew_main_token(user)
    for resource, limit in (("cyclades.vm", servers), ("cyclades.cpu", servers), ("cyclades.total_cpu", servers),
                            ("cyclades.ram", servers * 1024 ** 3), ("cyclades.total_ram", servers * 1024 ** 3),
                            ("cyclades.disk", servers * 1024 ** 3)):
        call_command("quota-modify", str(user.uuid), "--resource", resource, "--limit", str(limit), stdout=io.StringIO())
    client = Client()
    image = register_image(client, Store(client, user, token))
    vt = VolumeType.objects.create(name="Bench", disk_template="drbd")
    flavor = Flavor.objects.create(cpu=1, ram=512, disk=1, volume_type=vt)
    return client, user, token, image, flavor


def add_backend(publisher, speed: float):
    from django.core.management import call_command

    from synnefo.cyclades.ganeti import simulated
    from synnefo.cyclades.models import Backend

    name = f"bench-{uuid.uuid4().hex[:6]}"
    cluster = simulated.SimulatedCluster(name, speed=speed, publisher=publisher, mem_per_node=10 ** 9,
                                         disk_per_node=10 ** 12, cpus_per_node=10 ** 6)
    simulated._clusters[name] = cluster
    backend = Backend.objects.create(clustername=name, host=simulated.SIMULATED_HOST, drained=False, hypervisor="fake")
    call_command("backend-update-status", str(backend.id), stdout=io.StringIO())
    return cluster


def drain(cluster) -> None:
    """Wait until every job of the cluster has ended and published its events."""
    from synnefo.cyclades.ganeti import simulated

    rapi = simulated.SimulatedRapiClient(cluster)
    for job_id in list(cluster.jobs):
        rapi.wait_for_job(job_id, timeout=120, interval=0.01, raise_on_error=False)
    time.sleep(0.2)
    simulated._clusters.pop(cluster.name, None)


def create_all(client, token, image, flavor, n: int) -> list[float]:
    latencies = []
    body = json.dumps({"server": {"name": "bench", "imageRef": image, "flavorRef": flavor.id}})
    for _ in range(n):
        start = time.perf_counter()
        r = client.post("/cyclades/compute/v2.0/servers", body, content_type="application/json", HTTP_X_AUTH_TOKEN=token)
        latencies.append(time.perf_counter() - start)
        assert r.status_code == 202, r.content
    return latencies


def wait_active(user, n: int, timeout: float) -> None:
    from synnefo.cyclades.models import VirtualMachine

    deadline = time.monotonic() + timeout
    while VirtualMachine.objects.filter(userid=user.uuid, operstate="STARTED", task=None).count() < n:
        if time.monotonic() > deadline:
            raise RuntimeError("servers did not all reach ACTIVE in time")
        time.sleep(0.05)


def run_through_dispatcher(n: int, speed: float) -> tuple[float, list[float]]:
    from django.test import override_settings

    from synnefo.common import amqp
    from synnefo.cyclades.dispatcher import Dispatcher
    from synnefo.cyclades.ganeti.simulated import _LockedPublisher

    tag = "bcmp" + uuid.uuid4().hex[:6]
    with override_settings(AMQP_HOSTS=[BROKER], EXCHANGE_GANETI=tag, EXCHANGE_GANETI_DL=f"{tag}-dl", BACKEND_PREFIX_ID=f"{tag}-"):
        setup = amqp.AMQPClient()
        setup.ensure()
        client, user, token, image, flavor = setup_cloud(n)
        cluster = add_backend(_LockedPublisher(amqp.AMQPClient()), speed)
        dispatcher = Dispatcher(client=amqp.AMQPClient(), prefetch_count=20)
        done = threading.Event()
        thread = threading.Thread(target=lambda: dispatcher.run(until=done.is_set), daemon=True)
        thread.start()
        start = time.perf_counter()
        latencies = create_all(client, token, image, flavor, n)
        wait_active(user, n, timeout=600)
        elapsed = time.perf_counter() - start
        drain(cluster)
        done.set()
        thread.join(30)
        channel = setup.connection.default_channel
        queues, dead = amqp.event_queues(True)
        for queue in queues + dead:
            queue(channel).delete()
        for exchange in amqp.exchanges():
            exchange(channel).delete()
        setup.close()
    return elapsed, latencies


class DirectApply:
    """The ceiling's publisher: each event is applied at once by the dispatcher's callbacks."""

    def __init__(self):
        self.lock = threading.Lock()

    def publish(self, key, msg):
        from django.db import transaction

        from synnefo.cyclades.logic import callbacks

        with self.lock, transaction.atomic():
            callbacks.handler_for(msg)(msg)


def run_bypassing_dispatcher(n: int, speed: float) -> tuple[float, list[float]]:
    client, user, token, image, flavor = setup_cloud(n)
    cluster = add_backend(DirectApply(), speed)
    start = time.perf_counter()
    latencies = create_all(client, token, image, flavor, n)
    wait_active(user, n, timeout=600)
    elapsed = time.perf_counter() - start
    drain(cluster)
    return elapsed, latencies


def listing(count: int) -> tuple[float, float]:
    from django.db import connection

    from synnefo.cyclades.models import VirtualMachine

    client, user, token, image, flavor = setup_cloud(1)
    VirtualMachine.objects.bulk_create([
        VirtualMachine(name=f"s{i}", userid=str(user.uuid), flavor=flavor, imageid=image, operstate="STARTED")
        for i in range(count)], batch_size=2000)
    timings, anchors = [], []
    for _ in range(3):
        start = time.perf_counter()
        r = client.get("/cyclades/compute/v2.0/servers/detail", HTTP_X_AUTH_TOKEN=token)
        timings.append(time.perf_counter() - start)
        assert r.status_code == 200 and len(r.json()["servers"]) == count
        start = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute("SELECT * FROM cyclades_virtualmachine WHERE userid = %s AND NOT deleted", [str(user.uuid)])
            rows = cursor.fetchall()
        anchors.append(time.perf_counter() - start)
        assert len(rows) == count
    return min(timings), min(anchors)


def ganeti_overhead(repeats: int) -> tuple[float, float]:
    """(API create submission, bare RAPI create submission) median seconds on the sandbox."""
    from django.test import override_settings

    from synnefo.cyclades.logic.backends import create_backend
    from synnefo.cyclades.models import Flavor, VolumeType
    from tests.ganeti_helpers import sandbox_env

    g = sandbox_env()
    tag = "bg" + uuid.uuid4().hex[:6]
    with override_settings(BACKEND_PREFIX_ID=f"{tag}-"):
        client, user, token, image, _ = setup_cloud(repeats)
        backend = create_backend(g["GANETI_CLUSTER_NAME"], int(g["GANETI_RAPI_PORT"]), g["GANETI_RAPI_USER"],
                                 g["GANETI_RAPI_PASSWORD"], host=g["GANETI_RAPI_HOST"], ca_file=g["GANETI_RAPI_CA"])
        backend.drained = False
        backend.save()
        flavor = Flavor.objects.create(cpu=1, ram=128, disk=1, volume_type=VolumeType.objects.create(name="d", disk_template="diskless"))
        rapi = backend.get_client()
        api, bare, jobs, names = [], [], [], []
        try:
            for i in range(repeats):
                api += create_all(client, token, image, flavor, 1)
                name = f"{tag}-bare{i}"
                names.append(name)
                start = time.perf_counter()
                jobs.append(rapi.create_instance(name, "diskless", [], [{}], os_type="snf-image+default", pnode=g["GANETI_NODE_NAME"],
                                                 beparams={"maxmem": 128, "minmem": 128, "vcpus": 1}, hypervisor=backend.hypervisor,
                                                 name_check=False, ip_check=False, start=True))
                bare.append(time.perf_counter() - start)
        finally:
            from synnefo.cyclades.models import VirtualMachine

            for job in jobs:
                rapi.wait_for_job(job, raise_on_error=False)
            for name in names + [vm.backend_vm_id for vm in VirtualMachine.objects.filter(userid=user.uuid)]:
                try:
                    rapi.wait_for_job(rapi.delete_instance(name, shutdown_timeout=0), raise_on_error=False)
                except Exception:  # noqa: BLE001 - not created
                    pass
    return statistics.median(api), statistics.median(bare)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--servers", type=int, default=1000)
    parser.add_argument("--list", type=int, default=10000)
    parser.add_argument("--speed", type=float, default=0.01)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="postgresql")
    parser.add_argument("--ganeti", action="store_true", help="also measure on the Ganeti sandbox")
    args = parser.parse_args()
    import logging

    with throwaway_database(args.database):
        logging.getLogger("synnefo").setLevel(logging.ERROR)
        logging.getLogger("django").setLevel(logging.ERROR)
        full, lat = run_through_dispatcher(args.servers, args.speed)
        ceiling, lat_ceiling = run_bypassing_dispatcher(args.servers, args.speed)
        listed, anchor = listing(args.list)
        overhead = ganeti_overhead(5) if args.ganeti else None
    n = args.servers
    print(f"database: {args.database}; simulated cluster at speed {args.speed}; servers: {n}")
    print(f"{n} creates -> ACTIVE, through RabbitMQ + dispatcher: {full:7.1f} s  ({n / full:6.1f} servers/s)")
    print(f"ceiling, events applied directly:          {ceiling:7.1f} s  ({n / ceiling:6.1f} servers/s)"
          f"  = ours {ceiling / full:.0%} of the ceiling's rate")
    print(f"API create latency p50/p99: {percentile(lat, 50) * 1000:6.1f} / {percentile(lat, 99) * 1000:6.1f} ms"
          f"  (ceiling run: {percentile(lat_ceiling, 50) * 1000:.1f} / {percentile(lat_ceiling, 99) * 1000:.1f} ms)")
    print(f"GET servers/detail of {args.list} servers: {listed * 1000:7.1f} ms; anchor, the database's fetch of the "
          f"rows: {anchor * 1000:6.1f} ms ({listed / anchor:.1f}x)")
    if overhead:
        print(f"Ganeti sandbox create submission: API {overhead[0] * 1000:.0f} ms vs bare RAPI {overhead[1] * 1000:.0f} ms"
              f" (we add {1000 * (overhead[0] - overhead[1]):.0f} ms)")


if __name__ == "__main__":
    main()
