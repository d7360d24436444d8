"""Helpers of the quotaholder's snf-manage commands."""

from django.core.management.base import CommandError

from synnefo.astakos.quotaholder.models import Component, Resource
from synnefo.astakos.quotaholder.resources import parse_quantity


def get_component(name: str) -> Component:
    try:
        return Component.objects.get(name=name)
    except Component.DoesNotExist:
        raise CommandError(f"No component '{name}' (see component-list)") from None


def get_resource(name: str) -> Resource:
    try:
        return Resource.objects.get(name=name)
    except Resource.DoesNotExist:
        raise CommandError(f"No resource '{name}' (see resource-list)") from None


def quantity(text: str) -> int:
    try:
        return parse_quantity(text)
    except ValueError as exc:
        raise CommandError(str(exc)) from None


def flag(text: str) -> bool:
    value = text.strip().lower()
    if value not in ("true", "false", "yes", "no", "1", "0"):
        raise CommandError(f"Expected true or false, got '{text}'")
    return value in ("true", "yes", "1")
