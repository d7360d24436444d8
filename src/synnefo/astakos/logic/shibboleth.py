"""Shibboleth login: the identity that Apache's mod_shib puts in request headers.

The headers are only as trustworthy as the connection they came over: anybody can send an
``eppn`` header. So they are believed only when the request's peer address (``REMOTE_ADDR``,
the web server in front of us, never a forwarded-for header) is one of
``ASTAKOS_SHIBBOLETH_TRUSTED_PROXIES``; that web server must drop such headers from its own
clients (see docs/auth-providers.md).
"""

from __future__ import annotations

import ipaddress
import logging

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from synnefo.astakos.logic.providers import Identity, ProviderError

log = logging.getLogger(__name__)

# The attributes mod_shib passes (the seed's list), as they arrive in request.META.
EPPN = "eppn"
GIVEN_NAME = "Shib-InetOrgPerson-givenName"
SURNAME = "Shib-Person-surname"
COMMON_NAME = "Shib-Person-commonName"
DISPLAY_NAME = "Shib-InetOrgPerson-displayName"
AFFILIATION = "Shib-EP-Affiliation"
SESSION_ID = "Shib-Session-ID"
ALL_HEADERS = (EPPN, GIVEN_NAME, SURNAME, COMMON_NAME, DISPLAY_NAME, AFFILIATION, SESSION_ID)


def meta_key(header: str) -> str:
    return "HTTP_" + header.upper().replace("-", "_")


def _networks():
    networks = []
    for entry in settings.ASTAKOS_SHIBBOLETH_TRUSTED_PROXIES:
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ImproperlyConfigured(f"ASTAKOS_SHIBBOLETH_TRUSTED_PROXIES: {entry!r} is not an address or network")
    return networks


def check_settings() -> None:
    """``ImproperlyConfigured`` for a trusted proxy that is not an address or network."""
    _networks()


def trusted(address: str) -> bool:
    """Whether ``address`` (a peer address) is one of the trusted proxies."""
    try:
        ip = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return False
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return any(ip in network for network in _networks())


def _value(meta, key: str) -> str:
    raw = meta.get(key, "")
    # WSGI hands header bytes over as latin-1; mod_shib sends UTF-8.
    try:
        raw = raw.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        pass
    return raw.strip()


def _first_value(meta, header: str) -> str:
    # Multi-valued attributes arrive separated by ';'.
    return _value(meta, meta_key(header)).split(";")[0].strip()


def sent_headers(meta) -> list[str]:
    """The Shibboleth headers present in a request (for the log of an untrusted one)."""
    return [h for h in ALL_HEADERS if meta_key(h) in meta]


def identity(meta) -> Identity:
    """The identity in the headers of a trusted request; ``ProviderError`` (400) without one."""
    identifier = _first_value(meta, EPPN) or _value(meta, "REMOTE_USER") or _value(meta, "HTTP_REMOTE_USER")
    if not identifier:
        raise ProviderError(
            "The Shibboleth login did not say who you are (no eppn). Your identity provider may not "
            "release it to this service; please contact its administrators.",
            400,
        )
    email = ""
    for header in settings.ASTAKOS_SHIBBOLETH_EMAIL_HEADERS:
        email = _first_value(meta, header)
        if email:
            break
    if not email:
        raise ProviderError(
            "The Shibboleth login did not give your email address. Your identity provider may not "
            "release it to this service; please contact its administrators.",
            400,
        )
    first, last = _first_value(meta, GIVEN_NAME), _first_value(meta, SURNAME)
    if not first and not last:
        full = _first_value(meta, DISPLAY_NAME) or _first_value(meta, COMMON_NAME)
        first, _, last = full.rpartition(" ") if " " in full else (full, "", "")
    return Identity(
        module="shibboleth",
        identifier=identifier,
        email=email,
        first_name=first,
        last_name=last,
        affiliation=_value(meta, meta_key(AFFILIATION)),
        # Not the Shib-Session-ID: it is the value of the user's Shibboleth session cookie.
        info={},
    )
