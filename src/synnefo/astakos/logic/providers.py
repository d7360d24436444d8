"""The authentication providers (``ASTAKOS_IM_MODULES``) and the rules of logging in through
them: which identity belongs to which account, when an account is created or linked, and when a
provider may be removed.

Each enabled module has five policies, from ``ASTAKOS_AUTH_PROVIDER_<MODULE>_<POLICY>_POLICY``:

- ``CREATE``: an unknown identity may create a new account;
- ``LOGIN``: a known identity may log in;
- ``ADD``: a logged-in user may link an identity of this module to their account;
- ``REMOVE``: a user may unlink it (never their last login method);
- ``AUTOMODERATE``: accounts it creates skip moderation.

A provider only vouches for its own identities: an identity never takes over an existing
account by matching its email. That user has to log in with the method they have, then add
the provider from the profile page.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, transaction
from django.utils import timezone

from synnefo.astakos.logic.users import UserError, clean_email
from synnefo.astakos.models import AuthProvider, User

log = logging.getLogger(__name__)

# The modules this node knows, with the name the web pages show.
MODULES = {"local": "Email and password", "ldap": "LDAP", "shibboleth": "Shibboleth (academic login)"}
POLICIES = {"CREATE": True, "LOGIN": True, "ADD": True, "REMOVE": True, "AUTOMODERATE": False}


def policy_setting(module: str, policy: str) -> str:
    return f"ASTAKOS_AUTH_PROVIDER_{module.upper()}_{policy}_POLICY"


@dataclass(frozen=True)
class Provider:
    module: str
    title: str
    policies: dict = field(default_factory=dict)

    def allows(self, policy: str) -> bool:
        return self.policies[policy]


def check_configuration() -> None:
    """Raise ``ImproperlyConfigured`` naming what is wrong in the modules or their policies.
    Called when the app starts, so a typo stops the node instead of hiding a login method."""
    modules = settings.ASTAKOS_IM_MODULES
    if isinstance(modules, str) or not all(isinstance(m, str) for m in modules):
        raise ImproperlyConfigured(f"ASTAKOS_IM_MODULES must be a list of module names, not {modules!r}")
    unknown = [m for m in modules if m not in MODULES]
    if unknown:
        raise ImproperlyConfigured(
            f"ASTAKOS_IM_MODULES names unknown authentication module(s) {', '.join(map(repr, unknown))}; "
            f"known modules: {', '.join(MODULES)}"
        )
    if "ldap" in modules:
        from synnefo.astakos.logic import ldap

        ldap.check_settings()
    if "shibboleth" in modules:
        from synnefo.astakos.logic import shibboleth

        shibboleth.check_settings()
    for module in modules:
        for policy in POLICIES:
            value = getattr(settings, policy_setting(module, policy), None)
            if value is not None and not isinstance(value, bool):
                raise ImproperlyConfigured(f"{policy_setting(module, policy)} must be True or False, not {value!r}")


def _provider(module: str) -> Provider:
    policies = {}
    for policy, default in POLICIES.items():
        value = getattr(settings, policy_setting(module, policy), None)
        policies[policy] = default if value is None else value
    return Provider(module, MODULES[module], policies)


def enabled() -> list[Provider]:
    """The enabled providers, in the order of ``ASTAKOS_IM_MODULES``. Read from the settings
    on every call (cheap), so tests and reloads see changes."""
    return [_provider(m) for m in dict.fromkeys(settings.ASTAKOS_IM_MODULES) if m in MODULES]


def get(module: str) -> Provider | None:
    """The provider of ``module`` if it is enabled, else None."""
    if module in MODULES and module in settings.ASTAKOS_IM_MODULES:
        return _provider(module)
    return None


class ProviderError(Exception):
    """A login, link or removal that the rules refuse; ``message`` is meant for the user and
    ``status`` is the HTTP status of the page that shows it."""

    def __init__(self, message: str, status: int = 403):
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass
class Identity:
    """What a provider says about the person it authenticated."""

    module: str
    identifier: str
    email: str = ""
    first_name: str = ""
    last_name: str = ""
    affiliation: str = ""
    info: dict = field(default_factory=dict)


@dataclass
class Outcome:
    """The result of ``login``: ``user`` and what happened: ``"login"`` (log the user in),
    ``"created"`` (a new account; logged in when ``user.is_active``, else it waits for
    moderation) or ``"linked"`` (the identity was added to the logged-in user)."""

    user: User
    action: str

    @property
    def may_log_in(self) -> bool:
        return self.action != "linked" and self.user.is_active


def _required(module: str) -> Provider:
    provider = get(module)
    if provider is None:
        raise ProviderError(f"Login with {MODULES.get(module, module)} is not enabled on this service.", 404)
    return provider


def _clip(value: str) -> str:
    # Names come from the provider and the user cannot fix them: keep what fits.
    return (value or "").strip()[: settings.ASTAKOS_MAX_NAME_LENGTH]


def _refresh(record: AuthProvider, identity: Identity) -> None:
    record.info = {**identity.info, "email": identity.email, "first_name": identity.first_name,
                   "last_name": identity.last_name}
    record.affiliation = _clip(identity.affiliation)
    record.last_login_at = timezone.now()
    record.save(update_fields=["info", "affiliation", "last_login_at"])


@transaction.atomic
def login(identity: Identity, current_user: User | None = None) -> Outcome:
    """Apply the rules to an identity a provider has just authenticated.

    ``current_user`` is the user already logged in on this browser (None if nobody): an unknown
    identity is then linked to them (``ADD``) instead of creating an account. Raises
    ``ProviderError`` with the reason when the rules refuse."""
    provider = _required(identity.module)
    identity.identifier = identity.identifier.strip()
    if not identity.identifier:
        raise ProviderError("The login service did not say who you are.", 400)
    if current_user is not None and not current_user.is_authenticated:
        current_user = None
    record = (
        AuthProvider.objects.select_for_update().select_related("user")
        .filter(module=identity.module, identifier=identity.identifier).first()
    )
    if record is not None:
        return _known(provider, record, identity, current_user)
    if current_user is not None:
        return _link(provider, identity, current_user)
    return _create(provider, identity)


def _known(provider: Provider, record: AuthProvider, identity: Identity, current_user: User | None) -> Outcome:
    if current_user is not None and record.user_id != current_user.pk:
        raise ProviderError(f"This {provider.title} login belongs to another account.", 409)
    if current_user is None and not provider.allows("LOGIN"):
        raise ProviderError(f"Login with {provider.title} is disabled.", 403)
    if not record.active:
        raise ProviderError(f"Your {provider.title} login has been disabled by an administrator.", 403)
    user = record.user
    if current_user is None and not user.is_active:
        if not user.moderated:
            raise ProviderError("Your account is waiting for moderation.", 403)
        raise ProviderError("Your account is not active.", 403)
    _refresh(record, identity)
    return Outcome(user, "login")


def _link(provider: Provider, identity: Identity, user: User) -> Outcome:
    if not provider.allows("ADD"):
        raise ProviderError(f"Adding a {provider.title} login to an account is disabled.", 403)
    if user.auth_providers.filter(module=provider.module).exists():
        raise ProviderError(f"Your account already has a {provider.title} login; remove it first.", 409)
    record = AuthProvider(user=user, module=provider.module, identifier=identity.identifier)
    try:
        with transaction.atomic():
            record.save()
    except IntegrityError:
        raise ProviderError(f"This {provider.title} login belongs to another account.", 409) from None
    _refresh(record, identity)
    log.info("user %s linked %s identity %s", user.uuid, provider.module, identity.identifier)
    return Outcome(user, "linked")


def _create(provider: Provider, identity: Identity) -> Outcome:
    if not provider.allows("LOGIN"):
        raise ProviderError(f"Login with {provider.title} is disabled.", 403)
    if not provider.allows("CREATE"):
        raise ProviderError(f"There is no account for this {provider.title} login, and it may not create one.", 403)
    if not identity.email:
        raise ProviderError("The login service did not give your email address, which an account needs.", 400)
    try:
        email = clean_email(identity.email)
    except UserError:
        raise ProviderError(f"The login service gave an invalid email address ({identity.email}).", 400) from None
    if User.objects.filter(email__iexact=email).exists():
        raise ProviderError(
            f"An account with the email {email} already exists. Log in with the method you already use, "
            f"then add {provider.title} from your profile page.",
            409,
        )
    moderation = getattr(settings, "ASTAKOS_MODERATION_ENABLED", False)
    accepted = not moderation or provider.allows("AUTOMODERATE")
    now = timezone.now()
    try:
        with transaction.atomic():
            user = User.objects.create_user(
                email,
                None,
                first_name=_clip(identity.first_name),
                last_name=_clip(identity.last_name),
                affiliation=_clip(identity.affiliation),
                email_verified=True,
                verified_at=now,
                moderated=accepted,
                moderated_at=now if accepted else None,
                is_active=accepted,
                accepted_policy=f"auth_provider_{provider.module}" if accepted else "",
            )
            record = AuthProvider.objects.create(user=user, module=provider.module, identifier=identity.identifier)
    except IntegrityError:  # the same email or identity, created concurrently
        raise ProviderError("This account was just created by another request; please log in again.", 409) from None
    _refresh(record, identity)
    log.info("account %s created by %s identity %s%s", user.uuid, provider.module, identity.identifier,
             "" if accepted else " (pending moderation)")
    return Outcome(user, "created")


def removable(user: User, record: AuthProvider) -> bool:
    """Whether ``user`` may remove ``record`` (policy REMOVE, and never the last login)."""
    provider = get(record.module)
    allowed = provider.allows("REMOVE") if provider else True  # a disabled module's leftovers may go
    return allowed and user.auth_providers.exclude(pk=record.pk).filter(active=True).exists()


@transaction.atomic
def remove(user: User, provider_id: int) -> AuthProvider:
    """Unlink one of ``user``'s providers. Removing ``local`` also makes the password unusable,
    so it no longer logs in anywhere."""
    User.objects.select_for_update().filter(pk=user.pk).first()  # serialise removals of one user
    record = user.auth_providers.filter(pk=provider_id).first()
    if record is None:
        raise ProviderError("You have no such login method.", 404)
    provider = get(record.module)
    if provider is not None and not provider.allows("REMOVE"):
        raise ProviderError(f"Removing a {provider.title} login is disabled.", 403)
    if not user.auth_providers.exclude(pk=record.pk).filter(active=True).exists():
        raise ProviderError("This is your only way to log in: add another one before removing it.", 409)
    record.delete()
    if record.module == "local":
        user.set_unusable_password()
        user.save(update_fields=["password", "updated"])
    log.info("user %s removed %s identity %s", user.uuid, record.module, record.identifier)
    return record


def addable(user: User) -> list[Provider]:
    """Enabled providers that ``user`` lacks and may add from the profile page. ``local`` is
    not among them: a password is set through the password flows, not by linking."""
    have = set(user.auth_providers.values_list("module", flat=True))
    return [p for p in enabled() if p.module != "local" and p.module not in have and p.allows("ADD")]
