import logging

import kombu
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from synnefo.common import amqp

log = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Re-publish the messages of a dead-letter queue to the Ganeti exchange, with their routing keys."

    def add_arguments(self, parser):
        parser.add_argument("queue", help="Dead-letter queue (<queue>-dl)")
        parser.add_argument("--count", type=int, help="At most this many messages (default: all)")

    def handle(self, *args, **o):
        client = amqp.AMQPClient()
        try:
            client.ensure()
        except ConnectionError as exc:
            raise CommandError(str(exc)) from None
        try:
            _, dl_queues = amqp.event_queues(client.native_dl)
            names = [q.name for q in dl_queues]
            if o["queue"] not in names:
                raise CommandError(f"Not a dead-letter queue: '{o['queue']}'; they are: {', '.join(names)}")
            channel = client.connection.channel()
            producer = kombu.Producer(client.connection.default_channel)
            moved = 0
            while o["count"] is None or moved < o["count"]:
                message = channel.basic_get(o["queue"], no_ack=False)
                if message is None:
                    break
                headers = {k: v for k, v in (message.headers or {}).items() if not str(k).startswith("x-synnefo-")}
                # Published (and confirmed) before the ack: a crash here duplicates, never loses.
                producer.publish(message.body, exchange=settings.EXCHANGE_GANETI,
                                 routing_key=message.delivery_info.get("routing_key", ""), delivery_mode=2,
                                 content_type="application/json", content_encoding="utf-8", headers=headers)
                channel.basic_ack(message.delivery_info["delivery_tag"])
                moved += 1
            channel.close()
            log.info("queue-retry: %d message(s) from %s re-published", moved, o["queue"])
            self.stdout.write(f"{moved} message(s) re-published from {o['queue']}")
        finally:
            client.close()
