"""Service tokens: how services (cyclades, pithos, ...) authenticate to the service-only
endpoints (commissions, service_quotas).

A component's token is 256 random bits, shown once; only its SHA-256 is stored, as for user
tokens. A user token is never a service token, so users cannot reach these endpoints.
"""

from __future__ import annotations

from datetime import timedelta
from functools import cache

from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.utils import timezone

from synnefo.astakos.logic.tokens import _new_token_value, digest
from synnefo.astakos.quotaholder.models import Component
from synnefo.common import faults
from synnefo.common.auth import request_token


class ComponentError(ValueError):
    pass


def _expiry(days: int | None):
    return timezone.now() + timedelta(days=days) if days else None


@transaction.atomic
def add_component(name: str, url: str = "", expires_days: int | None = None) -> tuple[str, Component]:
    name = (name or "").strip()
    if not name or len(name) > 255 or any(c.isspace() for c in name):
        raise ComponentError("A component name is one word of at most 255 characters")
    if Component.objects.filter(name=name).exists():
        raise ComponentError(f"Component '{name}' already exists")
    value = _new_token_value()
    component = Component.objects.create(
        name=name, url=url, token_digest=digest(value), token_expires=_expiry(expires_days)
    )
    return value, component


def renew_token(component: Component, expires_days: int | None = None) -> str:
    """A new token for ``component``; the old one stops working at once."""
    value = _new_token_value()
    component.token_digest = digest(value)
    component.token_created = timezone.now()
    component.token_expires = _expiry(expires_days)
    component.save(update_fields=["token_digest", "token_created", "token_expires"])
    return value


@cache
def _lookup_plan(vendor: str) -> tuple[str, list[str], list]:
    """The lookup's SQL, field names and column converters, built once per process: every
    service request runs it, and composing it through the ORM cost more than running it."""
    connection = connections[DEFAULT_DB_ALIAS]
    qn = connection.ops.quote_name
    table = Component._meta.db_table
    fields = Component._meta.concrete_fields
    sql = f"SELECT {', '.join(qn(f.column) for f in fields)} FROM {qn(table)} WHERE {qn('token_digest')} = %s"
    converters = []
    for field in fields:
        col = field.get_col(table)
        converters.append((col, connection.ops.get_db_converters(col) + field.get_db_converters(connection)))
    return sql, [f.attname for f in fields], converters


def _lookup(token_digest: str) -> Component | None:
    connection = connections[DEFAULT_DB_ALIAS]
    sql, attnames, converters = _lookup_plan(connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(sql, [token_digest])
        row = cursor.fetchone()
    if row is None:
        return None
    values = []
    for (col, functions), value in zip(converters, row):
        for function in functions:
            value = function(value, col, connection)
        values.append(value)
    return Component.from_db(DEFAULT_DB_ALIAS, attnames, values)


def component_for_token(token: str | None) -> Component | None:
    if not token or len(token) > 256:
        return None
    component = _lookup(digest(token))
    if component is None:
        return None
    if component.token_expires is not None and component.token_expires <= timezone.now():
        return None
    return component


def authenticate_service(request) -> Component:
    """The component calling a service-only endpoint, or 401 (also for user tokens)."""
    token = request_token(request)
    if not token:
        raise faults.Unauthorized("No authentication token given (X-Auth-Token)")
    component = component_for_token(token)
    if component is None:
        raise faults.Unauthorized("Invalid or expired service token")
    return component
