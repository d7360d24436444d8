import json

from django.core.management.base import BaseCommand, CommandError

from synnefo.common import amqp
from synnefo.common.management import print_rows


class Command(BaseCommand):
    help = ("Show the Ganeti event queues and their sizes, or the messages of one queue (e.g. a dead-letter "
            "queue) without removing them.")

    def add_arguments(self, parser):
        parser.add_argument("queue", nargs="?", help="Queue name (default: list all queues with their sizes)")
        parser.add_argument("--count", type=int, default=20, help="At most this many messages (default 20)")

    def handle(self, *args, **o):
        client = amqp.AMQPClient()
        try:
            client.ensure()
        except ConnectionError as exc:
            raise CommandError(str(exc)) from None
        try:
            queues, dl_queues = amqp.event_queues(client.native_dl)
            names = [q.name for q in queues + dl_queues]
            if not o["queue"]:
                rows = [[name, _size(client, name)] for name in names]
                print_rows(self.stdout, ["queue", "messages"], rows)
                return
            if o["queue"] not in names:
                raise CommandError(f"Unknown queue '{o['queue']}'; queues: {', '.join(names)}")
            channel = client.connection.channel()
            shown = 0
            # Messages are fetched unacknowledged and returned to the queue when the channel closes.
            while shown < o["count"]:
                message = channel.basic_get(o["queue"], no_ack=False)
                if message is None:
                    break
                shown += 1
                body = message.body.decode() if isinstance(message.body, bytes) else message.body
                headers = message.headers or {}
                self.stdout.write(json.dumps({"routing_key": message.delivery_info.get("routing_key"),
                                              "reason": headers.get("x-synnefo-reason"), "body": _json(body)}))
            if hasattr(channel, "basic_recover"):
                try:
                    channel.basic_recover(requeue=True)
                except Exception:  # the close below returns them anyway
                    pass
            channel.close()
            self.stdout.write(f"{shown} message(s) shown from {o['queue']}")
        finally:
            client.close()


def _size(client, name):
    try:
        _, count, _ = client.connection.default_channel.queue_declare(name, passive=True)
        return count
    except Exception:  # the embedded transport has no sizes for some queues
        return ""


def _json(body):
    try:
        return json.loads(body)
    except (TypeError, ValueError):
        return body
