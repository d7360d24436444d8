"""``snf-dispatcher --status-check``: is the update path alive, end to end?

For the dispatcher: some consumer is attached to the op-status queue (RabbitMQ reports it).
For every online backend: RAPI answers, and a dry-run cluster tag
``snf:eventd:heartbeat:<host>:<pid>`` added through RAPI comes back as an ``eventd-heartbeat``
message within ``timeout`` seconds (Ganeti runs the dry-run job, eventd on the master sees its
job file and publishes). Nothing is changed on the clusters (dry run).
"""

from __future__ import annotations

import json
import os
import socket
import time

import kombu
from django.conf import settings

from synnefo.common import amqp
from synnefo.cyclades.ganeti.eventd import HEARTBEAT_TAG
from synnefo.cyclades.ganeti.rapi import GanetiApiError
from synnefo.cyclades.models import Backend


def status_check(timeout: float = 5.0) -> dict:
    client = amqp.AMQPClient()
    client.ensure()
    result: dict = {}
    try:
        channel = client.connection.channel()
        op_queue = next(iter(amqp.routing_keys()))
        if amqp.is_filesystem(client.connection):  # the embedded transport counts no consumers (always 0)
            result["dispatcher"] = "unknown"
        else:
            try:
                _, _, consumers = channel.queue_declare(op_queue, passive=True)
                result["dispatcher"] = "ok" if consumers else "fail"
            except Exception:  # a broker that does not say
                result["dispatcher"] = "unknown"
        exchange = kombu.Exchange(settings.EXCHANGE_GANETI, "topic", durable=True)
        queue = kombu.Queue(f"snf-status-check-{os.getpid()}", exchange, routing_key="eventd.heartbeat",
                            exclusive=True, auto_delete=True)
        queue(channel).declare()
        tags: dict[str, str] = {}
        clusters: dict[str, dict] = {}
        for backend in Backend.objects.filter(offline=False):
            entry = clusters[backend.clustername] = {"RAPI": "fail", "eventd": "fail"}
            tag = f"{HEARTBEAT_TAG}{socket.gethostname()}:{os.getpid()}:{backend.id}"
            try:
                backend.get_client().add_cluster_tags([tag], dry_run=True)
                entry["RAPI"] = "ok"
                tags[tag] = backend.clustername
            except GanetiApiError as exc:
                entry["error"] = str(exc)
        deadline = time.monotonic() + timeout
        pending = set(tags)
        while pending and time.monotonic() < deadline:
            message = channel.basic_get(queue.name, no_ack=True)
            if message is None:
                time.sleep(0.1)
                continue
            try:
                body = json.loads(message.body)
            except (TypeError, ValueError):
                continue
            if body.get("tag") in pending:
                pending.discard(body["tag"])
                clusters[tags[body["tag"]]]["eventd"] = "ok"
        result["clusters"] = clusters
        channel.close()
    finally:
        client.close()
    return result


def healthy(result: dict) -> bool:
    return result.get("dispatcher") != "fail" and all(
        c["RAPI"] == "ok" and c["eventd"] == "ok" for c in result.get("clusters", {}).values())
