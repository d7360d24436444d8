"""State changes of user accounts, shared by snf-manage, the web UI and the APIs.

Every change that should end a user's API access (deactivation, rejection, a new password)
revokes the user's tokens in the same transaction.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from synnefo.astakos.logic import tokens
from synnefo.astakos.models import AuthProvider, User


class UserError(ValueError):
    """A requested change is not valid (bad email, duplicate, ...)."""


def random_password() -> str:
    return secrets.token_urlsafe(15)


def clean_email(email: str) -> str:
    email = User.objects.normalize_email(email.strip())
    try:
        validate_email(email)
    except ValidationError:
        raise UserError(f"Invalid email address '{email}'") from None
    return email


def check_names(*names: str) -> None:
    limit = settings.ASTAKOS_MAX_NAME_LENGTH
    if any(len(name) > limit for name in names):
        raise UserError(f"Names are limited to {limit} characters")


def check_new_password(password: str, email: str, first_name: str = "", last_name: str = "") -> None:
    """Hold a password a user chooses to AUTH_PASSWORD_VALIDATORS (length, not common, not all
    digits, not like the email or names); ``UserError`` with every reason otherwise."""
    if len(password) > settings.ASTAKOS_MAX_PASSWORD_LENGTH:
        raise UserError(f"A password must have at most {settings.ASTAKOS_MAX_PASSWORD_LENGTH} characters")
    candidate = User(email=email, first_name=first_name, last_name=last_name)
    try:
        validate_password(password, candidate)
    except ValidationError as exc:
        raise UserError(" ".join(exc.messages)) from None


@transaction.atomic
def create_user(email, first_name="", last_name="", *, password=None, affiliation="", admin=False, active=True) -> User:
    """An account created by an administrator: verified and accepted, active unless told."""
    email = clean_email(email)
    check_names(first_name, last_name)
    if User.objects.filter(email__iexact=email).exists():
        raise UserError(f"A user with email {email} already exists")
    now = timezone.now()
    try:
        user = User.objects.create_user(
            email,
            password,
            first_name=first_name,
            last_name=last_name,
            affiliation=affiliation,
            is_superuser=admin,
            is_active=active,
            email_verified=True,
            verified_at=now,
            moderated=True,
            moderated_at=now,
            accepted_policy="manual",
        )
    except IntegrityError:
        raise UserError(f"A user with email {email} already exists") from None
    if password:
        add_local_provider(user)
    return user


def add_local_provider(user: User) -> AuthProvider:
    """The ``local`` (email + password) login of ``user``; its identifier follows the email."""
    provider, _ = AuthProvider.objects.get_or_create(user=user, module="local", defaults={"identifier": user.email.lower()})
    return provider


@transaction.atomic
def set_email(user: User, email: str) -> None:
    email = clean_email(email)
    if User.objects.filter(email__iexact=email).exclude(pk=user.pk).exists():
        raise UserError(f"A user with email {email} already exists")
    user.email = email
    user.save(update_fields=["email", "updated"])
    AuthProvider.objects.filter(user=user, module="local").update(identifier=email.lower())


@transaction.atomic
def set_names(user: User, first_name: str | None = None, last_name: str | None = None) -> None:
    check_names(first_name or "", last_name or "")
    if first_name is not None:
        user.first_name = first_name
    if last_name is not None:
        user.last_name = last_name
    user.save(update_fields=["first_name", "last_name", "updated"])


@transaction.atomic
def set_password(user: User, password: str) -> None:
    if not password or len(password) > settings.ASTAKOS_MAX_PASSWORD_LENGTH:
        raise UserError(f"A password must have 1 to {settings.ASTAKOS_MAX_PASSWORD_LENGTH} characters")
    user.set_password(password)
    user.save(update_fields=["password", "updated"])
    tokens.revoke_all(user)


@transaction.atomic
def activate(user: User) -> None:
    user.is_active = True
    user.deactivated_reason = ""
    user.deactivated_at = None
    user.save(update_fields=["is_active", "deactivated_reason", "deactivated_at", "updated"])


@transaction.atomic
def deactivate(user: User, reason: str = "") -> None:
    user.is_active = False
    user.deactivated_reason = reason
    user.deactivated_at = timezone.now()
    user.save(update_fields=["is_active", "deactivated_reason", "deactivated_at", "updated"])
    tokens.revoke_all(user)


@transaction.atomic
def verify_email(user: User) -> None:
    user.email_verified = True
    user.verified_at = timezone.now()
    user.save(update_fields=["email_verified", "verified_at", "updated"])


@transaction.atomic
def accept(user: User) -> None:
    """Moderation: accept the account; it becomes active once its email is verified."""
    user.moderated = True
    user.moderated_at = timezone.now()
    user.is_rejected = False
    user.rejected_reason = ""
    user.accepted_policy = "manual"
    user.is_active = user.email_verified
    user.save()


@transaction.atomic
def reject(user: User, reason: str = "") -> None:
    user.moderated = True
    user.moderated_at = timezone.now()
    user.is_rejected = True
    user.rejected_reason = reason
    user.is_active = False
    user.save()
    tokens.revoke_all(user)


def set_admin(user: User, admin: bool) -> None:
    user.is_superuser = admin
    user.save(update_fields=["is_superuser", "updated"])
