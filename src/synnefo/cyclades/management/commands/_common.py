"""Helpers of the backend-* commands."""

from django.core.management.base import CommandError

from synnefo.cyclades.models import Backend


def get_backend(ident: str) -> Backend:
    try:
        return Backend.objects.get(pk=int(ident))
    except (ValueError, Backend.DoesNotExist):
        pass
    try:
        return Backend.objects.get(clustername=ident)
    except Backend.DoesNotExist:
        raise CommandError(f"No backend with id or cluster name '{ident}'") from None


def parse_bool(value: str) -> bool:
    lowered = str(value).strip().lower()
    if lowered in ("true", "yes", "1", "on"):
        return True
    if lowered in ("false", "no", "0", "off"):
        return False
    raise CommandError(f"Expected True or False, not '{value}'")
