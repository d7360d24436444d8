"""The components of a Synnefo deployment, their public base URLs and their services.

Each component (astakos, pithos, cyclades, ...) lists its services in
``synnefo.<component>.services.SERVICES``. The identity service builds the catalog from all of
them, whichever node it runs on; a node serves the components named in
``SYNNEFO_COMPONENTS``.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from urllib.parse import urlsplit

from django.conf import settings


@dataclass(frozen=True)
class Service:
    name: str  # catalog name, e.g. "astakos_identity"
    type: str  # catalog type, e.g. "identity"
    path: str  # below the component's base URL, e.g. "identity/v2.0"
    version: str = ""  # versionId in the v2.0 catalog
    v3_path: str | None = None  # path in the Keystone v3 catalog when it differs
    account_in_v3_url: bool = False  # object-store: Swift clients need /<account> in the URL
    in_v3_catalog: bool = True
    ui: bool = False  # carries SNF:uiURL in the v2.0 catalog (kamaki needs it on astakos_account)


@dataclass(frozen=True)
class Component:
    name: str
    default_prefix: str

    @property
    def services(self) -> list[Service]:
        return import_module(f"synnefo.{self.name}.services").SERVICES

    @property
    def configured_base_url(self) -> str | None:
        return getattr(settings, f"{self.name.upper()}_BASE_URL", None)

    @property
    def prefix(self) -> str:
        """The URL path the component is mounted at, without slashes at either end."""
        base = self.configured_base_url
        path = urlsplit(base).path if base else self.default_prefix
        return path.strip("/")

    def base_url(self, request=None) -> str:
        """The configured base URL; else the one the request came to; else the bind address."""
        base = self.configured_base_url
        if base:
            return base.rstrip("/")
        if request is None:
            return f"http://{settings.SYNNEFO_BIND}/{self.prefix}"
        return request.build_absolute_uri("/" + self.prefix).rstrip("/")


COMPONENTS = {
    c.name: c for c in [Component("astakos", "/astakos"), Component("pithos", "/pithos"), Component("cyclades", "/cyclades")]
}


def served_components() -> list[Component]:
    unknown = [name for name in settings.SYNNEFO_COMPONENTS if name not in COMPONENTS]
    if unknown:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(
            f"SYNNEFO_COMPONENTS names unknown components {unknown}; known: {sorted(COMPONENTS)}"
        )
    return [COMPONENTS[name] for name in settings.SYNNEFO_COMPONENTS]
