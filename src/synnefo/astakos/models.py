"""Identity records: users, their API tokens and login providers, one-time email links, the
versioned terms of use, the audit trail of administrators' actions, and failed-login
bookkeeping."""

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
    # When the last email-verification message was sent (None: never).
    activation_sent = models.DateTimeField(null=True, blank=True)
    # The newest terms of use this user accepted, and when.
    signed_terms = models.ForeignKey("ApprovalTerms", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    signed_terms_at = models.DateTimeField(null=True, blank=True)

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


class AuthProvider(models.Model):
    """One way a user logs in: ``module`` is a name of ``ASTAKOS_IM_MODULES`` (``local``,
    ``ldap``, ``shibboleth``) and ``identifier`` the user's id there (the email for ``local``,
    the LDAP username, the Shibboleth ``eppn``). One user may have several (account linking);
    an identity of a module belongs to one user only. ``info`` keeps what the provider last
    said about the user (names, affiliation), for the admin pages."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="auth_providers")
    module = models.CharField(max_length=32)
    identifier = models.CharField(max_length=255)
    affiliation = models.CharField(max_length=255, blank=True)
    info = models.JSONField(default=dict, blank=True)
    active = models.BooleanField(default=True)
    created = models.DateTimeField(default=timezone.now)
    last_login_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["module", "identifier"], name="astakos_provider_identity_unique")
        ]

    def __str__(self):
        return f"{self.module}:{self.identifier}"


class EmailLink(models.Model):
    """A single-use, expiring link sent by email: verify the address (``verify``), reset the
    password (``reset``) or confirm a new address (``email_change``, the address in
    ``new_email``). Only the SHA-256 of the link's secret is stored; ``used_at`` is set when
    it is followed, after which it no longer works."""

    VERIFY = "verify"
    RESET = "reset"
    EMAIL_CHANGE = "email_change"
    PURPOSES = [(VERIFY, "email verification"), (RESET, "password reset"), (EMAIL_CHANGE, "email change")]

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="email_links")
    purpose = models.CharField(max_length=16, choices=PURPOSES)
    digest = models.CharField(max_length=64, unique=True)
    new_email = models.EmailField(max_length=254, blank=True)
    created = models.DateTimeField(default=timezone.now)
    expires = models.DateTimeField(db_index=True)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "purpose"])]


class ApprovalTerms(models.Model):
    """One version of the terms of use (``snf-manage term-add <html file>``); the newest one
    (highest id) is in force. The HTML itself is kept, so the file may be moved or edited
    afterwards without changing what users accepted."""

    created = models.DateTimeField(default=timezone.now)
    source = models.CharField(max_length=1024, blank=True)  # the file it was added from
    html = models.TextField()

    class Meta:
        verbose_name_plural = "approval terms"

    def __str__(self):
        return f"terms #{self.pk} of {self.created:%Y-%m-%d}"


class AuditEntry(models.Model):
    """One administrative action: who (``actor``, kept by email too, so the record outlives the
    account), what (``action``, e.g. ``user.accept``), on whom (``target``) and when, with
    free-form ``detail`` (reason, old and new values)."""

    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    actor_email = models.CharField(max_length=254, blank=True)
    action = models.CharField(max_length=64)
    target = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="audit_entries")
    target_repr = models.CharField(max_length=254, blank=True)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
