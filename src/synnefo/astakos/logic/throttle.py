"""Throttling of wrong passwords, per account and per client address.

Failures are rows in the database, so every web worker and node sees the same counts. Once an
account or an address has too many recent failures, logins from it are refused with 429 before
the password is even checked, until the window has passed.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from synnefo.astakos.models import LoginFailure
from synnefo.common.faults import TooManyRequests


def _window_start():
    return timezone.now() - timedelta(seconds=settings.ASTAKOS_LOGIN_FAILURE_WINDOW)


def check(account: str, address: str) -> None:
    """Raise ``TooManyRequests`` if ``account`` or ``address`` is over its failure budget."""
    since = _window_start()
    # Rows of mail-sending requests (note_request) are not login failures.
    recent = LoginFailure.objects.filter(at__gt=since).exclude(account__startswith=REQUEST_PREFIX)
    over = recent.filter(account=account.lower()).count() >= settings.ASTAKOS_LOGIN_FAILURES_PER_ACCOUNT
    if not over and address:
        over = recent.filter(address=address).count() >= settings.ASTAKOS_LOGIN_FAILURES_PER_ADDRESS
    if over:
        retry = settings.ASTAKOS_LOGIN_FAILURE_WINDOW
        raise TooManyRequests(
            "Too many failed login attempts; try again later", headers={"Retry-After": str(retry)}
        )


def recent_failures(account: str | None, address: str) -> tuple[int, int]:
    """Failed logins within the window: of ``account`` (0 when None) and from ``address``."""
    recent = LoginFailure.objects.filter(at__gt=_window_start())
    of_account = recent.filter(account=account.lower()).count() if account is not None else 0
    from_address = recent.filter(address=address).count() if address else 0
    return of_account, from_address


# Mail-sending requests (sign-up, password reset, email change) are kept in the same table,
# under an account name no email can have ("@signup", ...).
REQUEST_PREFIX = "@"


def note_request(kind: str, address: str) -> None:
    """Count one request of ``kind`` that sends a mail from ``address``; raise
    ``TooManyRequests`` (counting nothing) once the address is over
    ``ASTAKOS_EMAIL_REQUESTS_PER_ADDRESS`` within the window."""
    account = REQUEST_PREFIX + kind
    recent = LoginFailure.objects.filter(at__gt=_window_start(), account=account, address=address[:64])
    if recent.count() >= settings.ASTAKOS_EMAIL_REQUESTS_PER_ADDRESS:
        retry = settings.ASTAKOS_LOGIN_FAILURE_WINDOW
        raise TooManyRequests("Too many requests; try again later", headers={"Retry-After": str(retry)})
    record_failure(account, address)


def record_failure(account: str, address: str) -> None:
    LoginFailure.objects.filter(at__lte=_window_start()).delete()
    LoginFailure.objects.create(account=account.lower()[:254], address=address[:64])


def clear(account: str) -> None:
    LoginFailure.objects.filter(account=account.lower()).delete()
