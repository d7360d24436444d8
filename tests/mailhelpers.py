"""A real SMTP server (aiosmtpd) on 127.0.0.1 for the account tests, and helpers that read
the links out of the messages it received."""

from __future__ import annotations

import email
import email.policy
import re
import socket
from urllib.parse import urlsplit

import pytest

from tests.services import require

try:
    from aiosmtpd.controller import Controller
except ImportError:  # the test extras are not installed
    Controller = None


class Inbox:
    """Every message the server accepted, in order, as (envelope recipients, parsed message)."""

    def __init__(self):
        self.messages: list[tuple[list[str], email.message.EmailMessage]] = []

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((list(envelope.rcpt_tos), message))
        return "250 Message accepted"

    def to(self, address: str) -> list[email.message.EmailMessage]:
        return [message for rcpts, message in self.messages if address.lower() in (r.lower() for r in rcpts)]

    def last_to(self, address: str) -> email.message.EmailMessage:
        received = self.to(address)
        assert received, f"no mail to {address}; got mails to {[r for r, _ in self.messages]}"
        return received[-1]


def body(message) -> str:
    return message.get_content()


def link_path(message) -> str:
    """The path of the (first) link in a mail, to follow with the Django test client."""
    match = re.search(r"https?://\S+", body(message))
    assert match, f"no link in: {body(message)!r}"
    parts = urlsplit(match.group(0))
    return parts.path + (f"?{parts.query}" if parts.query else "")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server():
    """A running SMTP server on a free port of 127.0.0.1: (controller, inbox, port)."""
    require(Controller is not None, "aiosmtpd is not installed (the project's test extras)")
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    return controller, inbox, port


@pytest.fixture
def smtp(settings):
    """Start an SMTP server on a free port and point Django's SMTP backend at it."""
    controller, inbox, port = start_server()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_TIMEOUT = 10
    try:
        yield inbox
    finally:
        controller.stop()
