"""Single-use, expiring links sent by mail (verify an email, reset a password, confirm a new
address).

A link carries 256 random bits; the database keeps only their SHA-256, so a leaked database
does not leak working links. A new link of a purpose ends the user's older unused ones of that
purpose (they answer "expired"), so only the newest mail works. Lifetimes are ``ASTAKOS_EMAIL_LINK_LIFETIME``.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from synnefo.astakos.models import EmailLink, User

# The longest secret we look up: a token_urlsafe(32) is 43 characters.
_MAX_SECRET = 64


class TooManyLinks(ValueError):
    """Enough links of this purpose were mailed to this user lately."""


class LinkError(ValueError):
    """A link cannot be used. ``code`` is the HTTP status of the page that says so: 404 for a
    link that never existed (mistyped, forged), 410 for one already used or expired."""

    def __init__(self, message: str, code: int):
        super().__init__(message)
        self.code = code


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def lifetime(purpose: str) -> timedelta:
    return timedelta(seconds=settings.ASTAKOS_EMAIL_LINK_LIFETIME[purpose])


def lifetime_text(purpose: str) -> str:
    """The lifetime in words for mails: "7 days", "2 hours", "90 minutes"."""
    seconds = settings.ASTAKOS_EMAIL_LINK_LIFETIME[purpose]
    if seconds % 86400 == 0:
        count, unit = seconds // 86400, "day"
    elif seconds % 3600 == 0:
        count, unit = seconds // 3600, "hour"
    else:
        count, unit = max(-(-seconds // 60), 1), "minute"
    return f"{count} {unit}{'' if count == 1 else 's'}"


@transaction.atomic
def create(user: User, purpose: str, new_email: str = "", limited: bool = True) -> str:
    """A new link for ``user``; returns its secret (to put in the mail, never stored).
    ``TooManyLinks`` if ``limited`` and ``ASTAKOS_EMAIL_LINKS_PER_USER`` links of ``purpose``
    were created for the user within the throttling window."""
    now = timezone.now()
    if limited:
        since = now - timedelta(seconds=settings.ASTAKOS_LOGIN_FAILURE_WINDOW)
        recent = EmailLink.objects.filter(user=user, purpose=purpose, created__gt=since).count()
        if recent >= settings.ASTAKOS_EMAIL_LINKS_PER_USER:
            raise TooManyLinks("A mail with a link was sent just now; check your mailbox, or try again in a few minutes.")
    mine = EmailLink.objects.filter(user=user, purpose=purpose)
    # Rows dead for longer than a lifetime (and than the window) go; live ones expire now, so their mails answer
    # "expired, ask for a new one" rather than "not valid".
    horizon = max(lifetime(purpose), timedelta(seconds=settings.ASTAKOS_LOGIN_FAILURE_WINDOW))
    mine.filter(expires__lt=now - horizon).delete()
    expire(mine)
    secret = secrets.token_urlsafe(32)
    EmailLink.objects.create(
        user=user, purpose=purpose, digest=_digest(secret), new_email=new_email, created=now, expires=now + lifetime(purpose)
    )
    return secret


def expire(queryset) -> None:
    """End the unused links of ``queryset`` now (they answer "expired" from then on)."""
    queryset.filter(used_at__isnull=True, expires__gt=timezone.now()).update(expires=timezone.now())


def _find(secret: str, purpose: str, lock: bool) -> EmailLink:
    if not secret or len(secret) > _MAX_SECRET:
        raise LinkError("This link is not valid. Check that you copied it completely.", 404)
    links = EmailLink.objects.select_related("user")
    if lock:
        links = links.select_for_update()
    link = links.filter(digest=_digest(secret), purpose=purpose).first()
    if link is None:
        raise LinkError("This link is not valid. Check that you copied it completely.", 404)
    if link.used_at is not None:
        raise LinkError("This link has already been used.", 410)
    if link.expires <= timezone.now():
        raise LinkError("This link has expired. Please ask for a new one.", 410)
    return link


def check(secret: str, purpose: str) -> EmailLink:
    """The usable link with ``secret`` (e.g. to show a form), or ``LinkError``; uses nothing."""
    return _find(secret, purpose, lock=False)


def consume(secret: str, purpose: str) -> EmailLink:
    """Mark the link used and return it, or raise ``LinkError``. Call it inside the transaction
    that makes the link's change, so a failed change leaves the link usable; the row lock
    makes two concurrent uses of one link end with exactly one success."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("links.consume() must run inside a transaction")
    link = _find(secret, purpose, lock=True)
    link.used_at = timezone.now()
    link.save(update_fields=["used_at"])
    return link
