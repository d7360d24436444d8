"""Service tokens: how services (cyclades, pithos, ...) authenticate to the service-only
endpoints (commissions, service_quotas).

A component's token is 256 random bits, shown once; only its SHA-256 is stored, as for user
tokens. A user token is never a service token, so users cannot reach these endpoints.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
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


def component_for_token(token: str | None) -> Component | None:
    if not token or len(token) > 256:
        return None
    component = Component.objects.filter(token_digest=digest(token)).first()
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
