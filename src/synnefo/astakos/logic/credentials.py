"""Checking a user's credentials: a password, or one of the user's own tokens.

Synnefo users often have only a token (kamaki, the UI), so wherever a password is asked for,
the user's token is accepted too, as upstream's ``passwordCredentials`` did.
"""

from __future__ import annotations

import uuid as uuidlib

from synnefo.astakos.logic import throttle, tokens
from synnefo.astakos.models import User
from synnefo.common.faults import Unauthorized

INVALID = "Invalid credentials"


def find_user(identifier: str) -> User | None:
    """A user by uuid or email (case-insensitive)."""
    try:
        return User.objects.filter(uuid=uuidlib.UUID(identifier)).first()
    except ValueError:
        return User.objects.filter(email__iexact=identifier).first()


def check_password_login(identifier: str, secret: str, address: str) -> User:
    """The active user that ``identifier`` (email or uuid) and ``secret`` (password or token)
    name; ``Unauthorized`` otherwise, ``TooManyRequests`` when throttled. Failures are
    counted against the account and the address; no answer tells which part was wrong."""
    identifier = identifier.strip()
    throttle.check(identifier, address)
    user = find_user(identifier) if identifier else None
    if user is not None and _secret_matches(user, secret):
        if not user.is_active:
            raise Unauthorized("User account is not active")
        throttle.clear(identifier)
        return user
    throttle.record_failure(identifier, address)
    raise Unauthorized(INVALID)


def _secret_matches(user: User, secret: str) -> bool:
    token = tokens.lookup(secret)
    if token is not None:
        return token.user_id == user.pk
    return bool(secret) and user.check_password(secret)
