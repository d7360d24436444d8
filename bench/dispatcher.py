"""Update-path throughput: messages applied per second end to end, beside kombu's raw rate.

* anchor: kombu alone on the same broker: persistent JSON messages published with publisher
  confirms by one thread while another consumes and acknowledges them (no database);
* end to end: the same publishing of ``ganeti-op-status`` messages for N VMs, consumed by the
  real ``Dispatcher`` (one transaction per message, row lock, ordering guard, ack after commit)
  writing to the database (PostgreSQL by default).

Usage: python bench/dispatcher.py [--messages 5000] [--database postgresql|sqlite]
Needs RabbitMQ on 127.0.0.1:5672 (guest/guest).
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.throwaway_db import throwaway_database  # noqa: E402

BROKER = "amqp://guest:guest@127.0.0.1:5672//"


def raw_rate(n: int) -> float:
    import kombu

    tag = "braw" + uuid.uuid4().hex[:6]
    exchange = kombu.Exchange(tag, "topic", durable=True)
    queue = kombu.Queue(tag, exchange, routing_key="k", durable=True)
    body = '{"type": "ganeti-op-status", "instance": "snf-1", "operation": "OP_INSTANCE_STARTUP", "status": "success"}'
    with kombu.Connection(BROKER, transport_options={"confirm_publish": True}) as conn:
        queue(conn.default_channel).declare()
        received = 0
        start = time.perf_counter()

        def publish():
            with kombu.Connection(BROKER, transport_options={"confirm_publish": True}) as pconn:
                producer = kombu.Producer(pconn.default_channel)
                for _ in range(n):
                    producer.publish(body, exchange=tag, routing_key="k", delivery_mode=2, content_type="application/json")

        thread = threading.Thread(target=publish)
        thread.start()

        def on_message(message):
            nonlocal received
            message.ack()
            received += 1

        with conn.Consumer(queue, on_message=on_message, prefetch_count=5):
            while received < n:
                conn.drain_events(timeout=30)
        elapsed = time.perf_counter() - start
        thread.join()
        queue(conn.default_channel).delete()
        exchange(conn.default_channel).delete()
    return n / elapsed


def end_to_end_rate(n: int, vms: int) -> float:
    from django.test import override_settings

    from synnefo.common import amqp
    from synnefo.cyclades.dispatcher import Dispatcher
    from synnefo.cyclades.models import VirtualMachine

    tag = "bdsp" + uuid.uuid4().hex[:6]
    with override_settings(AMQP_HOSTS=[BROKER], EXCHANGE_GANETI=tag, EXCHANGE_GANETI_DL=f"{tag}-dl", BACKEND_PREFIX_ID=f"{tag}-"):
        VirtualMachine.objects.bulk_create([VirtualMachine() for _ in range(vms)])
        ids = list(VirtualMachine.objects.values_list("id", flat=True))
        client = amqp.AMQPClient()
        client.ensure()
        key = f"ganeti.{tag}.event.op"

        def publish():
            publisher = amqp.AMQPClient()
            for i in range(n):
                vm_id = ids[i % len(ids)]
                status = ("queued", "running", "success")[(i // len(ids)) % 3]
                publisher.publish(key, {"type": "ganeti-op-status", "instance": f"{tag}-{vm_id}",
                                        "operation": "OP_INSTANCE_STARTUP", "status": status, "jobId": i,
                                        "event_time": [1_000_000 + i, 0], "logmsg": ""})
            publisher.close()

        dispatcher = Dispatcher(client=amqp.AMQPClient(), prefetch_count=5)
        start = time.perf_counter()
        thread = threading.Thread(target=publish)
        thread.start()
        dispatcher.run(until=lambda: dispatcher.stats["applied"] + dispatcher.stats["poison"] >= n)
        elapsed = time.perf_counter() - start
        thread.join()
        assert dispatcher.stats["poison"] == 0, dispatcher.stats
        channel = client.connection.default_channel
        queues, dl = amqp.event_queues(True)
        for queue in queues + dl:
            queue(channel).delete()
        for exchange in amqp.exchanges():
            exchange(channel).delete()
        client.close()
    return n / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--vms", type=int, default=500)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="postgresql")
    args = parser.parse_args()
    with throwaway_database(args.database):
        raw = raw_rate(args.messages)
        e2e = end_to_end_rate(args.messages, args.vms)
    print(f"broker: RabbitMQ 127.0.0.1:5672; database: {args.database}; messages: {args.messages}; VMs: {args.vms}")
    print(f"anchor  kombu publish(confirm)+consume(ack): {raw:8.0f} msg/s")
    print(f"end to end publish->RabbitMQ->dispatcher->DB: {e2e:8.0f} msg/s  = {e2e / raw:.0%} of the anchor")


if __name__ == "__main__":
    main()
