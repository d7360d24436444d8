"""API tokens: issue, validate, renew, revoke.

A token is 256 random bits, URL-safe base64. The database keeps only its SHA-256, so a
leaked database does not leak usable tokens and validation is one indexed lookup.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from datetime import datetime, timedelta
from functools import cache

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from synnefo.astakos.models import AuthToken, User
from synnefo.common import rows
from synnefo.common.auth import ApiUser


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _new_token_value() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()


def _expiry() -> datetime:
    return timezone.now() + timedelta(seconds=settings.ASTAKOS_AUTH_TOKEN_DURATION)


@transaction.atomic
def issue_token(user: User, description: str = "") -> tuple[str, AuthToken]:
    """A new, non-main token for ``user`` (one per login or client)."""
    now = timezone.now()
    AuthToken.objects.filter(user=user, expires__lte=now).delete()
    # Room for the new token within the per-user limit (the main token does not count).
    limit = max(settings.ASTAKOS_MAX_TOKENS_PER_USER - 1, 1)
    others = AuthToken.objects.filter(user=user, is_main=False).order_by("-created")
    stale = list(others.values_list("pk", flat=True)[limit - 1 :])
    if stale:
        AuthToken.objects.filter(pk__in=stale).delete()
    value = _new_token_value()
    token = AuthToken.objects.create(
        user=user, digest=digest(value), description=description[:255], created=now, expires=_expiry()
    )
    return value, token


@transaction.atomic
def renew_main_token(user: User) -> tuple[str, AuthToken]:
    """Replace the user's main token with a new one; the old one stops working at once."""
    AuthToken.objects.filter(user=user, is_main=True).delete()
    value = _new_token_value()
    token = AuthToken.objects.create(
        user=user, digest=digest(value), is_main=True, description="main token", expires=_expiry()
    )
    return value, token


def revoke_all(user: User) -> int:
    """Revoke every token of ``user`` (password change, deactivation)."""
    deleted, _ = AuthToken.objects.filter(user=user).delete()
    return deleted


def revoke(token_value: str) -> bool:
    deleted, _ = AuthToken.objects.filter(digest=digest(token_value)).delete()
    return bool(deleted)


# Token lookup is the hot path of every API request in every service, so it is one hand-written
# join whose SQL is built once, instead of an ORM query compiled per call (3x the cost). Rows
# become ordinary model instances (other fields load on access).
_TOKEN_COLUMNS = rows.Columns(AuthToken, {"id", "user_id", "digest", "is_main", "description", "created", "expires"}, "t")
_USER_COLUMNS = rows.Columns(User, {"id", "uuid", "email", "first_name", "last_name", "is_superuser", "is_active"}, "u")


@cache
def _lookup_sql() -> str:
    qn = rows.quote
    return (
        f"SELECT {_TOKEN_COLUMNS.sql()}, {_USER_COLUMNS.sql()} FROM {qn(AuthToken._meta.db_table)} t "
        f"INNER JOIN {qn(User._meta.db_table)} u ON u.{qn('id')} = t.{qn('user_id')} "
        f"WHERE t.{qn('digest')} = %s"
    )


def lookup(token_value: str) -> AuthToken | None:
    """The live token record for ``token_value`` with its user, or None when the token is
    unknown, expired, or belongs to a user who may not use the API (inactive)."""
    if not token_value or len(token_value) > 256:
        return None
    row = rows.fetch_one(_lookup_sql(), [digest(token_value)])
    if row is None:
        return None
    split = len(_TOKEN_COLUMNS)
    token = _TOKEN_COLUMNS.instance(row[:split])
    token.user = _USER_COLUMNS.instance(row[split:])
    if token.expires <= timezone.now() or not token.user.is_active:
        return None
    return token


def api_user(token: AuthToken) -> ApiUser:
    user = token.user
    return ApiUser(
        uuid=str(user.uuid),
        email=user.email,
        display_name=user.email,
        is_admin=user.is_superuser,
        token_expires=token.expires,
        project=str(user.uuid),
    )


def api_user_for_token(token_value: str) -> ApiUser | None:
    token = lookup(token_value)
    return api_user(token) if token else None
