"""LDAP login through django-auth-ldap, configured from the ``ASTAKOS_LDAP_*`` settings.

django-auth-ldap does the directory work (connection, StartTLS, service bind, user search or
DN template, the user's own bind, required/denied groups); the account decisions are the
provider registry's (``providers.login``), so the policies apply as for every other module.
Operators who know django-auth-ldap may set any ``AUTH_LDAP_*`` setting as well: an explicit
``AUTH_LDAP_*`` value wins over the one derived from ``ASTAKOS_LDAP_*``.

The bind password is handed to python-ldap only; nothing here logs it (django-auth-ldap logs
the bind DN, never the password).
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from synnefo.astakos.logic import providers

log = logging.getLogger(__name__)

# Account fields an LDAP attribute may fill; "identifier" names the attribute that identifies
# the person for good (e.g. entryUUID or objectGUID); without it, the login name does.
MAPPABLE = ("identifier", "email", "first_name", "last_name", "affiliation")


class _Verified:
    """What our backend hands django-auth-ldap instead of a Django user: the login succeeded,
    nothing is created or saved by the library (``ldap_user`` is set on it by the library)."""

    ldap_user = None
    ldap_username = None

    def set_unusable_password(self):  # called by the library for "built" users only
        raise AssertionError("not reached: the backend never builds users")


def check_settings() -> None:
    """``ImproperlyConfigured`` naming what keeps LDAP login from working (checked at start)."""
    try:
        import django_auth_ldap  # noqa: F401
    except ImportError:
        raise ImproperlyConfigured(
            "ASTAKOS_IM_MODULES has 'ldap' but django-auth-ldap is not installed (pip install 'synnefo[ldap]')"
        ) from None
    attr_map = settings.ASTAKOS_LDAP_USER_ATTR_MAP
    if not isinstance(attr_map, dict) or set(attr_map) - set(MAPPABLE):
        raise ImproperlyConfigured(
            f"ASTAKOS_LDAP_USER_ATTR_MAP must map some of {', '.join(MAPPABLE)} to LDAP attributes, not {attr_map!r}"
        )
    finds_users = (
        settings.ASTAKOS_LDAP_USER_SEARCH_BASE
        or settings.ASTAKOS_LDAP_USER_DN_TEMPLATE
        or getattr(settings, "AUTH_LDAP_USER_SEARCH", None)
        or getattr(settings, "AUTH_LDAP_USER_DN_TEMPLATE", None)
    )
    if not finds_users:
        raise ImproperlyConfigured("LDAP login needs ASTAKOS_LDAP_USER_SEARCH_BASE or ASTAKOS_LDAP_USER_DN_TEMPLATE")


def _derived_settings() -> dict:
    import ldap
    from django_auth_ldap.config import LDAPSearch

    derived = {
        "SERVER_URI": settings.ASTAKOS_LDAP_SERVER_URI,
        "BIND_DN": settings.ASTAKOS_LDAP_BIND_DN,
        "BIND_PASSWORD": settings.ASTAKOS_LDAP_BIND_PASSWORD,
        "START_TLS": settings.ASTAKOS_LDAP_START_TLS,
        "CONNECTION_OPTIONS": {
            ldap.OPT_NETWORK_TIMEOUT: settings.ASTAKOS_LDAP_TIMEOUT,
            ldap.OPT_TIMEOUT: settings.ASTAKOS_LDAP_TIMEOUT,
            ldap.OPT_REFERRALS: 0,
        },
    }
    # Operational attributes (entryUUID) come only when asked for by name.
    identifier = settings.ASTAKOS_LDAP_USER_ATTR_MAP.get("identifier")
    attrlist = ["*", identifier] if identifier else None
    if attrlist:
        derived["USER_ATTRLIST"] = attrlist
    if settings.ASTAKOS_LDAP_USER_DN_TEMPLATE:
        derived["USER_DN_TEMPLATE"] = settings.ASTAKOS_LDAP_USER_DN_TEMPLATE
        # Without a service account, read the user's attributes as the user.
        derived["BIND_AS_AUTHENTICATING_USER"] = not settings.ASTAKOS_LDAP_BIND_DN
    elif settings.ASTAKOS_LDAP_USER_SEARCH_BASE:
        derived["USER_SEARCH"] = LDAPSearch(
            settings.ASTAKOS_LDAP_USER_SEARCH_BASE, ldap.SCOPE_SUBTREE, settings.ASTAKOS_LDAP_USER_SEARCH_FILTER, attrlist
        )
    return derived


def _backend():
    from django_auth_ldap.backend import LDAPBackend

    class AstakosLDAPBackend(LDAPBackend):
        default_settings = _derived_settings()

        def get_or_build_user(self, username, ldap_user):
            return _Verified(), False

    backend = AstakosLDAPBackend()
    # The library must only check credentials: never create, populate or save users itself.
    backend.settings.ALWAYS_UPDATE_USER = False
    backend.settings.MIRROR_GROUPS = None
    backend.settings.MIRROR_GROUPS_EXCEPT = None
    backend.settings.USER_FLAGS_BY_GROUP = {}
    return backend


def _first(attrs: dict, name: str | None) -> str:
    if not name:
        return ""
    for key, values in (attrs or {}).items():
        if key.lower() == name.lower() and values:
            value = values[0]
            if not isinstance(value, bytes):
                return str(value)
            try:
                return value.decode("utf-8")
            except UnicodeDecodeError:  # binary, such as Active Directory's objectGUID
                return value.hex()
    return ""


class DirectoryUnavailable(Exception):
    """The directory could not be asked (down, TLS failure, the service bind refused)."""


def authenticate(request, username: str, password: str) -> providers.Identity | None:
    """The identity of ``username`` if ``password`` is right for it in the directory, None if
    it is not (or there is no such user); ``DirectoryUnavailable`` when the directory could not
    answer (logged by django-auth-ldap, without passwords)."""
    from django_auth_ldap.backend import ldap_error

    username = username.strip()
    if not username or not password:
        return None
    backend = _backend()
    errors = []

    def on_error(sender, context, exception, **kwargs):
        errors.append(exception)

    ldap_error.connect(on_error, sender=type(backend), weak=False)
    try:
        verified = backend.authenticate(request, username=username, password=password)
    finally:
        ldap_error.disconnect(on_error, sender=type(backend))
    if verified is None:
        if errors:
            raise DirectoryUnavailable(type(errors[0]).__name__)
        return None
    ldap_user = verified.ldap_user
    attrs = ldap_user.attrs or {}
    attr_map = settings.ASTAKOS_LDAP_USER_ATTR_MAP
    identifier = _first(attrs, attr_map.get("identifier")) or username.lower()
    return providers.Identity(
        module="ldap",
        identifier=identifier,
        email=_first(attrs, attr_map.get("email")),
        first_name=_first(attrs, attr_map.get("first_name")),
        last_name=_first(attrs, attr_map.get("last_name")),
        affiliation=_first(attrs, attr_map.get("affiliation")),
        info={"dn": ldap_user.dn, "username": username},
    )
