"""snf-progress-monitor <instance>: forward snf-image's JSON progress messages to AMQP.

snf-image runs it with the instance name and writes a stream of JSON objects on its stdin
(one or more per line). Each gets ``instance`` and ``event_time`` ([sec, usec]) and goes to
``ganeti.<prefix>.event.progress``. Bad input is logged and skipped, never fatal: image
deployment must not fail because a progress line could not be parsed.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time

log = logging.getLogger("synnefo.progress_monitor")


def parse_stream(text: str):
    """Yield the JSON objects of a stream of concatenated / newline-separated documents."""
    decoder = json.JSONDecoder()
    index = 0
    while index < len(text):
        while index < len(text) and text[index].isspace():
            index += 1
        if index >= len(text):
            return
        try:
            obj, index = decoder.raw_decode(text, index)
        except ValueError:
            end = text.find("\n", index)
            log.warning("skipping non-JSON progress input: %r", text[index:end if end >= 0 else None][:200])
            if end < 0:
                return
            index = end + 1
            continue
        yield obj


def build_message(obj: dict, instance: str, now: float | None = None) -> dict:
    now = time.time() if now is None else now
    msg = dict(obj)
    msg["instance"] = instance
    msg["event_time"] = [int(now), int((now % 1) * 1_000_000)]
    msg.setdefault("type", "image-info")
    return msg


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="snf-progress-monitor", description=__doc__.split("\n\n")[0])
    parser.add_argument("instance", help="Ganeti instance name (e.g. snf-42)")
    args = parser.parse_args(argv)
    from synnefo.common.conf import setup_django_or_exit

    setup_django_or_exit("snf-progress-monitor")
    from synnefo.common.amqp import AMQPClient

    client = AMQPClient()
    key = f"ganeti.{args.instance.split('-')[0]}.event.progress"
    buffer = ""
    for line in sys.stdin:
        buffer += line
        try:
            objects = list(parse_stream(buffer))
        except Exception:  # pragma: no cover - parse_stream never raises on bad input
            objects = []
        buffer = ""
        for obj in objects:
            if not isinstance(obj, dict):
                log.warning("skipping non-object progress message %r", obj)
                continue
            client.publish(key, build_message(obj, args.instance))
    client.close()
