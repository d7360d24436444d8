"""AMQP messaging on kombu: brokers with failover, the Ganeti event topology, durable publishing.

Why it is shaped like this:
- ``AMQP_HOSTS`` lists brokers; each connection picks them in random order and fails over to
  the next one when a broker is down or a connection breaks mid-stream (then the publish is
  retried on the new connection: a message is never dropped silently, but may be delivered
  twice, which the dispatcher's ordering guard absorbs).
- Everything is durable: exchanges, queues, and messages (``delivery_mode=2``). On RabbitMQ
  publishes wait for the broker's confirm (``confirm_publish``), so "published" means "on disk".
- The topology is SYNNEFO.md 1.6: topic exchange ``ganeti``; per kind of event one queue bound
  by its routing key, and a ``<queue>-dl`` twin bound to the dead-letter exchange ``ganeti-dl``
  with the same key. Poison messages are re-published to ``ganeti-dl`` explicitly (with the
  reason in a header) and then acknowledged; the same code works on the embedded transport,
  which has no native dead-lettering. On RabbitMQ the queues also carry
  ``x-dead-letter-exchange`` so a message rejected by any other client is kept too.
- The embedded transport of an all-in-one node is kombu's ``filesystem`` transport in
  ``<data dir>/amqp``: messages are files, so they survive restarts, and several processes
  (eventd, progress monitor, dispatcher) share them. Its limit: a message is taken out of its
  folder when delivered, so a dispatcher killed after taking and before applying one loses it
  (RabbitMQ redelivers). Production uses RabbitMQ.
"""

from __future__ import annotations

import json
import logging
import random
import socket
import time
from pathlib import Path

import kombu
from django.conf import settings

log = logging.getLogger(__name__)

#: Connection-level failures on which we fail over to another broker.
CONNECTION_ERRORS = (OSError, socket.timeout, ConnectionError)


def broker_urls() -> list[str]:
    hosts = settings.AMQP_HOSTS
    if not hosts:
        return ["filesystem://localhost//"]
    return [hosts] if isinstance(hosts, str) else list(hosts)


def _filesystem_options() -> dict:
    base = Path(settings.AMQP_FILESYSTEM_DIR or Path(settings.SYNNEFO_DATA_DIR) / "amqp")
    data, control, processed = base / "data", base / "control", base / "processed"
    for folder in (data, control, processed):
        folder.mkdir(parents=True, exist_ok=True)
    return {"data_folder_in": str(data), "data_folder_out": str(data), "control_folder": str(control),
            "processed_folder": str(processed), "store_processed": False, "polling_interval": 0.1}


def make_connection(url: str) -> kombu.Connection:
    if url.startswith("filesystem"):
        return kombu.Connection(url, transport_options=_filesystem_options())
    return kombu.Connection(url, connect_timeout=settings.AMQP_CONNECT_TIMEOUT, heartbeat=0,
                            transport_options={"confirm_publish": True})


def is_filesystem(connection: kombu.Connection) -> bool:
    return connection.transport_cls == "filesystem" or str(connection.as_uri()).startswith("filesystem")


def queue_prefix() -> str:
    return settings.BACKEND_PREFIX_ID.split("-")[0] or "snf"


def routing_keys() -> dict[str, str]:
    """Queue name -> routing key, per SYNNEFO.md 1.6 (the prefix comes from BACKEND_PREFIX_ID)."""
    p = queue_prefix()
    return {
        f"{p}-events-op": f"ganeti.{p}.event.op",
        f"{p}-events-network": f"ganeti.{p}.event.network",
        f"{p}-events-progress": f"ganeti.{p}.event.progress",
        f"{p}-events-cluster": "ganeti.event.cluster",
    }


def exchanges() -> tuple[kombu.Exchange, kombu.Exchange]:
    return (kombu.Exchange(settings.EXCHANGE_GANETI, "topic", durable=True),
            kombu.Exchange(settings.EXCHANGE_GANETI_DL, "topic", durable=True))


def event_queues(native_dl: bool = True) -> tuple[list[kombu.Queue], list[kombu.Queue]]:
    """(queues, their dead-letter twins)."""
    exchange, dl_exchange = exchanges()
    arguments = {"x-dead-letter-exchange": dl_exchange.name} if native_dl else {}
    queues, dl_queues = [], []
    for name, key in routing_keys().items():
        queues.append(kombu.Queue(name, exchange, routing_key=key, durable=True, queue_arguments=arguments))
        dl_queues.append(kombu.Queue(f"{name}-dl", dl_exchange, routing_key=key, durable=True))
    return queues, dl_queues


class AMQPClient:
    """One connection at a time to one of ``AMQP_HOSTS``; reconnects elsewhere on failure."""

    def __init__(self, hosts: list[str] | None = None, retry_seconds: float = 60.0):
        self.hosts = hosts or broker_urls()
        # How long publish keeps trying (with back-off) while no broker is reachable, e.g. during
        # a broker restart, before giving up with the error.
        self.retry_seconds = retry_seconds
        self.connection: kombu.Connection | None = None
        self._producer = None
        self._declared = False

    # -- connection --------------------------------------------------------------------------

    def connect(self) -> kombu.Connection:
        self.close()
        order = random.sample(self.hosts, len(self.hosts))
        errors = []
        for url in order:
            connection = make_connection(url)
            try:
                connection.ensure_connection(max_retries=1, timeout=settings.AMQP_CONNECT_TIMEOUT)
            except Exception as exc:  # kombu wraps transport errors in several types
                errors.append(f"{connection.as_uri()}: {exc}")
                connection.release()
                continue
            log.info("AMQP connected to %s", connection.as_uri())
            self.connection = connection
            self._declared = False
            return connection
        raise ConnectionError("no AMQP broker reachable: " + "; ".join(errors))

    def ensure(self) -> kombu.Connection:
        if self.connection is None or not self.connection.connected:
            self.connect()
        if not self._declared:
            self.declare()
        return self.connection

    def close(self) -> None:
        if self.connection is not None:
            try:
                self.connection.release()
            except Exception:  # closing a broken connection may fail; it is gone either way
                pass
        self.connection = None
        self._producer = None

    @property
    def native_dl(self) -> bool:
        return self.connection is not None and not is_filesystem(self.connection)

    def declare(self) -> None:
        """Declare exchanges, queues and dead-letter queues (idempotent)."""
        channel = self.connection.default_channel
        for exchange in exchanges():
            exchange(channel).declare()
        queues, dl_queues = event_queues(self.native_dl)
        for queue in queues + dl_queues:
            queue(channel).declare()
        self._declared = True

    # -- publishing --------------------------------------------------------------------------

    def publish(self, routing_key: str, body: dict, exchange: str | None = None, headers: dict | None = None) -> None:
        """Publish one persistent JSON message; waits for the broker's confirm on RabbitMQ.
        Connection failures fail over to another broker and retry."""
        payload = json.dumps(body)
        exchange = exchange or settings.EXCHANGE_GANETI
        deadline = time.monotonic() + self.retry_seconds
        attempt = 0
        while True:
            attempt += 1
            try:
                self.ensure()
                if self._producer is None:
                    self._producer = kombu.Producer(self.connection.default_channel)
                self._producer.publish(payload, exchange=exchange, routing_key=routing_key, delivery_mode=2,
                                       content_type="application/json", content_encoding="utf-8",
                                       headers=headers or {}, retry=False)
                return
            except Exception as exc:
                if not _is_connection_error(self.connection, exc):
                    raise
                if time.monotonic() > deadline and attempt > len(self.hosts):
                    raise
                log.warning("AMQP publish failed (%s); reconnecting (attempt %d)", exc, attempt)
                self.close()
                if attempt > len(self.hosts):  # every broker tried once at once; then back off
                    time.sleep(min(0.25 * 2 ** (attempt - len(self.hosts)), 5.0))

    def dead_letter(self, message, reason: str) -> None:
        """Send a message's body to the dead-letter exchange with the same routing key."""
        routing_key = message.delivery_info.get("routing_key", "")
        body = message.body if isinstance(message.body, (bytes, str)) else json.dumps(message.body)
        if isinstance(body, bytes):
            body = body.decode("utf-8", "replace")
        headers = dict(message.headers or {})
        headers.update({"x-synnefo-reason": reason[:500], "x-synnefo-exchange": message.delivery_info.get("exchange", "")})
        self.ensure()
        producer = kombu.Producer(self.connection.default_channel)
        producer.publish(body, exchange=settings.EXCHANGE_GANETI_DL, routing_key=routing_key, delivery_mode=2,
                         content_type="application/json", content_encoding="utf-8", headers=headers, retry=False)


def _is_connection_error(connection, exc) -> bool:
    if isinstance(exc, CONNECTION_ERRORS):
        return True
    if connection is None:
        return True
    # Channel errors (a refused declare, a missing exchange) are not cured by another broker.
    return isinstance(exc, tuple(connection.connection_errors))
