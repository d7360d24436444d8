"""Identity records: users, their API tokens, and failed-login bookkeeping."""

from __future__ import annotations

import uuid

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone


class UserManager(BaseUserManager):
    def get_by_natural_key(self, email):
        return self.get(email__iexact=email)

    def get_by_identifier(self, identifier: str) -> User:
        """A user by numeric id, uuid or email (case-insensitive), as snf-manage accepts."""
        identifier = identifier.strip()
        if identifier.isdigit():
            return self.get(pk=int(identifier))
        try:
            return self.get(uuid=uuid.UUID(identifier))
        except ValueError:
            return self.get(email__iexact=identifier)

    def create_user(self, email, password=None, **fields):
        user = self.model(email=self.normalize_email(email), **fields)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save(using=self._db)
        return user

    def create_superuser(self, email, password=None, **fields):
        fields.update(is_superuser=True, is_active=True, email_verified=True, moderated=True)
        return self.create_user(email, password, **fields)


class User(AbstractBaseUser, PermissionsMixin):
    """A user. ``uuid`` is permanent and is the account name in every service; ``email`` is the
    login name and may change. ``is_superuser`` is the seed's user type ADMIN."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    email = models.EmailField(max_length=254)
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    affiliation = models.CharField(max_length=255, blank=True)

    is_active = models.BooleanField(default=False)
    deactivated_reason = models.TextField(blank=True)
    deactivated_at = models.DateTimeField(null=True, blank=True)
    email_verified = models.BooleanField(default=False)
    verified_at = models.DateTimeField(null=True, blank=True)
    moderated = models.BooleanField(default=False)
    moderated_at = models.DateTimeField(null=True, blank=True)
    is_rejected = models.BooleanField(default=False)
    rejected_reason = models.TextField(blank=True)
    accepted_policy = models.CharField(max_length=255, blank=True)

    date_joined = models.DateTimeField(default=timezone.now)
    updated = models.DateTimeField(auto_now=True)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["first_name", "last_name"]

    class Meta:
        constraints = [models.UniqueConstraint(Lower("email"), name="astakos_user_email_ci_unique")]

    def __str__(self):
        return self.email

    @property
    def is_staff(self) -> bool:
        return self.is_superuser

    @property
    def user_type(self) -> str:
        return "ADMIN" if self.is_superuser else "USER"

    @property
    def realname(self) -> str:
        return f"{self.first_name} {self.last_name}".strip() or self.email

    @property
    def status(self) -> str:
        """Upstream's one-line account state, as user-list/user-show print it."""
        if not self.email_verified:
            return "Pending email verification"
        if self.is_rejected:
            return f"Rejected ({self.rejected_reason})" if self.rejected_reason else "Rejected"
        if not self.moderated:
            return "Pending moderation"
        if self.is_active:
            return "Accepted/Active"
        reason = f" ({self.deactivated_reason})" if self.deactivated_reason else ""
        return f"Accepted/Inactive{reason}"


class AuthToken(models.Model):
    """An API token. Only the SHA-256 of the token is stored: the token itself is shown once,
    when it is issued. A user has one ``main`` token (the one the web UI renews) and any number
    of others (one per password login or client)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="tokens")
    digest = models.CharField(max_length=64, unique=True)
    is_main = models.BooleanField(default=False)
    description = models.CharField(max_length=255, blank=True)
    created = models.DateTimeField(default=timezone.now)
    expires = models.DateTimeField(db_index=True)

    class Meta:
        indexes = [models.Index(fields=["user", "created"])]
        constraints = [
            models.UniqueConstraint(
                fields=["user"], condition=models.Q(is_main=True), name="astakos_one_main_token_per_user"
            )
        ]


class LoginFailure(models.Model):
    """One failed login, kept for the throttling window (per account and per client address)."""

    account = models.CharField(max_length=254, db_index=True)
    address = models.CharField(max_length=64, db_index=True)
    at = models.DateTimeField(default=timezone.now, db_index=True)
