"""Helpers of the identity service's snf-manage commands."""

from django.core.management.base import CommandError

from synnefo.astakos.models import User


def get_user(identifier: str) -> User:
    """A user by id, uuid or email, or a CommandError naming what was not found."""
    try:
        return User.objects.get_by_identifier(identifier)
    except User.DoesNotExist:
        raise CommandError(f"No user with id, uuid or email '{identifier}'") from None


def user_details(user: User) -> dict:
    return {
        "id": user.pk,
        "uuid": user.uuid,
        "email": user.email,
        "first name": user.first_name,
        "last name": user.last_name,
        "affiliation": user.affiliation,
        "type": user.user_type,
        "status": user.status,
        "active": user.is_active,
        "deactivated reason": user.deactivated_reason,
        "email verified": user.email_verified,
        "moderated": user.moderated,
        "rejected": user.is_rejected,
        "rejected reason": user.rejected_reason,
        "accepted policy": user.accepted_policy,
        "signed terms": user.signed_terms_id,
        "signed terms at": user.signed_terms_at,
        "date joined": user.date_joined,
        "last login": user.last_login,
        "updated": user.updated,
        "live tokens": user.tokens.count(),
        "auth providers": ", ".join(
            f"{p.module}:{p.identifier}" + ("" if p.active else " (disabled)")
            for p in user.auth_providers.order_by("module", "pk")
        ),
    }
