"""Mails of the identity service: one helper renders a subject and a body template and sends
them with Django's email framework (EMAIL_BACKEND: files under <data dir>/mail by default,
SMTP in production).

Templates live in ``templates/astakos/email/``: ``<name>_subject.txt`` (one line) and
``<name>.txt`` (plain text, so wrapped in ``autoescape off``). Every template sees
``site_name``, ``base_url`` (the public base URL of the identity service) and ``login_url``
besides what the caller passes.
"""

from __future__ import annotations

import logging
import smtplib
from urllib.parse import urljoin

from django.conf import settings
from django.core.mail import EmailMessage
from django.template.loader import render_to_string
from django.urls import reverse

from synnefo.common.components import COMPONENTS

log = logging.getLogger("synnefo.astakos.mail")


class MailError(RuntimeError):
    """The mail could not be handed to the mail server."""


def base_url(request=None) -> str:
    """Public base URL of the identity service, as links in mails start."""
    return COMPONENTS["astakos"].base_url(request)


def send(name: str, to: list[str], context: dict | None = None, request=None) -> None:
    """Render ``astakos/email/<name>*`` with ``context`` and send it to ``to``; raise
    ``MailError`` if the mail server refuses or cannot be reached."""
    recipients = [address for address in to if address]
    if not recipients:
        return
    base = base_url(request)
    context = {
        "site_name": settings.ASTAKOS_SITE_NAME,
        "base_url": base,
        "login_url": urljoin(base + "/", reverse("astakos-login")),
        **(context or {}),
    }
    subject = render_to_string(f"astakos/email/{name}_subject.txt", context)
    subject = " ".join(subject.split())  # one line, whatever the template's layout
    body = render_to_string(f"astakos/email/{name}.txt", context)
    message = EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, recipients)
    try:
        message.send()
    except (smtplib.SMTPException, OSError) as exc:
        # The exception never carries credentials; the addresses are kept out of the log too.
        log.error("sending the %s mail failed: %s", name, exc.__class__.__name__)
        raise MailError("The mail could not be sent; please try again later.") from exc
    log.info("sent the %s mail to %d recipient(s)", name, len(recipients))
