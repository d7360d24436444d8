"""snf-dispatcher: consume Ganeti events and apply them to the database (docs/ganeti.md).

Guarantees, and how:
- Each message is applied in one database transaction and acknowledged only after the commit.
  Killed between commit and ack, the broker redelivers it; the ordering guard makes the replay
  a no-op. Killed before the commit, nothing was written and the replay applies it.
- A message that can never be applied (not JSON, unknown type, missing fields, or an error
  raised while applying it) is poison: it is copied to the dead-letter exchange with the
  reason in a header, then acknowledged, so it neither blocks the queue nor is lost
  (``snf-manage queue-inspect`` shows it, ``queue-retry`` re-publishes it).
- A database outage is not the message's fault: the message is requeued and retried.
- Broker loss: reconnect (to another of ``AMQP_HOSTS`` when there are several) with back-off;
  unacknowledged messages come back from the broker. After ``DISPATCHER_RECONNECT_TIMEOUT``
  seconds without a message it reconnects anyway and warns that eventd may be down.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import socket
import time
from pathlib import Path

log = logging.getLogger("synnefo.dispatcher")


class Dispatcher:
    def __init__(self, client=None, prefetch_count: int | None = None, reconnect_timeout: float | None = None):
        from django.conf import settings

        from synnefo.common.amqp import AMQPClient

        self.client = client or AMQPClient()
        self.prefetch_count = prefetch_count or settings.DISPATCHER_PREFETCH_COUNT
        self.reconnect_timeout = reconnect_timeout or settings.DISPATCHER_RECONNECT_TIMEOUT
        self.stopping = False
        self.stats = {"applied": 0, "poison": 0, "requeued": 0, "reconnects": 0}

    # -- one message -------------------------------------------------------------------------

    def handle_message(self, message) -> None:
        from django.db import DatabaseError, InterfaceError, OperationalError, connection, transaction

        from synnefo.cyclades.logic.callbacks import BadMessage, handler_for

        body = message.body
        try:
            if isinstance(body, bytes):
                body = body.decode("utf-8")
            msg = json.loads(body) if isinstance(body, str) else body
            handler = handler_for(msg)
        except (ValueError, BadMessage) as exc:
            return self._poison(message, f"malformed: {exc}")
        # One database connection for the life of the process (a new one per message would cost
        # more than the work); it is dropped after a database error and reopened on next use.
        try:
            with transaction.atomic():
                outcome = handler(msg)
        except BadMessage as exc:
            return self._poison(message, str(exc))
        except (OperationalError, InterfaceError) as exc:
            log.error("database unavailable (%s); message requeued", exc)
            if not connection.in_atomic_block:
                connection.close()
            self.stats["requeued"] += 1
            message.requeue()
            time.sleep(1)
            return
        except DatabaseError as exc:
            log.exception("message could not be applied")
            return self._poison(message, f"database error: {exc}")
        except Exception as exc:  # anything else is a bug or a bad message: keep it aside
            log.exception("message could not be applied")
            return self._poison(message, f"{type(exc).__name__}: {exc}")
        message.ack()
        self.stats["applied"] += 1
        log.info("%s", outcome)

    def _poison(self, message, reason: str) -> None:
        log.error("poison message to dead-letter queue (%s): %.300r", reason, message.body)
        self.client.dead_letter(message, reason)
        message.ack()
        self.stats["poison"] += 1

    # -- the loop ----------------------------------------------------------------------------

    def run(self, until=None) -> None:
        """Consume until stopped (or until ``until()`` is true, checked every second)."""
        from synnefo.common.amqp import event_queues

        backoff = 0.5
        while not self.stopping and not (until and until()):
            try:
                connection = self.client.ensure()
                queues, _ = event_queues(self.client.native_dl)
                with connection.Consumer(queues, on_message=self.handle_message, prefetch_count=self.prefetch_count):
                    backoff = 0.5
                    idle_since = time.monotonic()
                    while not self.stopping and not (until and until()):
                        try:
                            connection.drain_events(timeout=1)
                            idle_since = time.monotonic()
                        except socket.timeout:
                            if time.monotonic() - idle_since > self.reconnect_timeout:
                                log.warning("no message for %.0f s: reconnecting; verify that snf-ganeti-eventd is "
                                            "running on the Ganeti masters", self.reconnect_timeout)
                                break
            except Exception as exc:
                if self.client.connection is not None and not _connection_error(self.client.connection, exc):
                    raise
                log.warning("broker connection lost (%s); reconnecting in %.1f s", exc, backoff)
                self.stats["reconnects"] += 1
                time.sleep(backoff)
                backoff = min(backoff * 2, 10)
            self.client.close()


def _connection_error(connection, exc) -> bool:
    from synnefo.common.amqp import CONNECTION_ERRORS

    return isinstance(exc, CONNECTION_ERRORS + tuple(connection.connection_errors))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="snf-dispatcher", description=__doc__.split("\n\n")[0])
    parser.add_argument("-p", "--pid-file", help="Write the pid here")
    parser.add_argument("-d", "--debug", action="store_true")
    parser.add_argument("--status-check", action="store_true",
                        help="Check the update path (dispatcher consuming; per backend RAPI and eventd heartbeat) and exit")
    parser.add_argument("--timeout", type=float, default=5.0, help="Seconds to wait for eventd heartbeats")
    args = parser.parse_args(argv)

    from synnefo.common.conf import setup_django_or_exit

    setup_django_or_exit("snf-dispatcher")
    if args.status_check:
        import sys

        from synnefo.cyclades.status_check import healthy, status_check

        result = status_check(args.timeout)
        print(json.dumps(result, indent=2))
        sys.exit(0 if healthy(result) else 1)
    if args.debug:
        logging.getLogger("synnefo").setLevel(logging.DEBUG)
    if args.pid_file:
        Path(args.pid_file).write_text(f"{os.getpid()}\n")
    dispatcher = Dispatcher()

    def stop(signum, frame):
        dispatcher.stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        dispatcher.run()
    finally:
        dispatcher.client.close()
        if args.pid_file:
            Path(args.pid_file).unlink(missing_ok=True)
        log.info("stopped: %s", dispatcher.stats)
