"""Identity (Astakos v2.0 tokens and catalog) and account (quotas, user catalogs) clients."""

from __future__ import annotations

import re
from typing import Any

from synnefo.client.http import ClientError, HTTPClient

# What kamaki appends to a catalog publicURL that carries no version (CLIENTS-KAMAKI.md §3).
DEFAULT_VERSIONS = {
    "compute": "v2.0", "network": "v2.0", "volume": "v2.0", "image": "v1.0",
    "object-store": "v1", "identity": "v2.0",
}
_VERSIONED = re.compile(r"/v\d+(\.\d+)?$")


def with_version(url: str, service_type: str) -> str:
    url = url.rstrip("/")
    if _VERSIONED.search(url) or service_type not in DEFAULT_VERSIONS:
        return url
    return f"{url}/{DEFAULT_VERSIONS[service_type]}"


class IdentityClient(HTTPClient):
    """``POST <url>/tokens`` with the token, as kamaki does on every command. ``url`` is the
    cloud URL (``.../identity/v2.0``); a URL without a version gets ``/v2.0``."""

    def __init__(self, url: str, token: str, **kw):
        super().__init__(with_version(url, "identity"), token, **kw)
        self._access: dict[str, Any] | None = None

    def authenticate(self) -> dict[str, Any]:
        body = {"auth": {"token": {"id": self.token}}}
        reply = self.request("POST", "/tokens", json_body=body).json()
        access = reply.get("access") if isinstance(reply, dict) else None
        if not isinstance(access, dict) or "user" not in access:
            raise ClientError(f"{self.url}/tokens answered no access.user: not an identity service")
        self._access = access
        return access

    @property
    def access(self) -> dict[str, Any]:
        return self._access if self._access is not None else self.authenticate()

    @property
    def user(self) -> dict[str, Any]:
        return self.access["user"]

    @property
    def user_id(self) -> str:
        return str(self.user["id"])

    def catalog(self) -> list[dict[str, Any]]:
        return list(self.access.get("serviceCatalog") or [])

    def endpoint(self, service_type: str = "", *, name: str = "", version: str = "") -> str:
        """The publicURL of the first catalog entry of ``service_type`` (case-insensitive), or
        of the entry called ``name``; with the default version appended when it has none."""
        for entry in self.catalog():
            if name and entry.get("name") != name:
                continue
            if service_type and str(entry.get("type", "")).lower() != service_type.lower():
                continue
            endpoints = entry.get("endpoints") or []
            if version:
                endpoints = [e for e in endpoints if e.get("versionId") == version] or endpoints
            if not endpoints or "publicURL" not in endpoints[0]:
                raise ClientError(f"the catalog entry for {service_type or name} has no publicURL")
            return with_version(endpoints[0]["publicURL"], service_type or "")
        raise ClientError(f"no endpoint of type {service_type or name!r} in the service catalog")

    def account_url(self) -> str:
        try:
            return self.endpoint(name="astakos_account", version="v1.0")
        except ClientError:
            return self.endpoint("account")


class AccountClient(HTTPClient):
    """``/account/v1.0``: the caller's quotas and uuid <-> name look-ups."""

    def quotas(self) -> dict[str, dict[str, dict[str, int]]]:
        return self.request("GET", "/quotas").json()

    def user_catalogs(self, uuids: list[str] = (), displaynames: list[str] = ()) -> dict[str, dict[str, str]]:
        body: dict[str, list[str]] = {}
        if uuids:
            body["uuids"] = list(uuids)
        if displaynames:
            body["displaynames"] = list(displaynames)
        return self.request("POST", "/user_catalogs", json_body=body).json()

    def uuid_for(self, name: str) -> str:
        found = self.user_catalogs(displaynames=[name]).get("displayname_catalog", {})
        if name not in found:
            raise ClientError(f"no user called {name!r}", 404)
        return found[name]

    def names_for(self, uuids: list[str]) -> dict[str, str]:
        return self.user_catalogs(uuids=uuids).get("uuid_catalog", {}) if uuids else {}
