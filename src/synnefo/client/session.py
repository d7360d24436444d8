"""One cloud: where each service is and with which token, from a kamaki config or by hand.

Service URLs come from, in this order: the cloud's ``<service>_url`` option
(``cloud.<name>.compute_url``), the seed's global keys (``storage_url``, ``image_url``, ...),
then the Astakos catalog that a token authentication against the cloud's ``url`` returns.
So the seed's setup (``image_url``, ``storage_url``, ``token``; no identity service) and
kamaki 0.16's (``cloud.<name>.url`` + ``token``) both work, and can be mixed."""

from __future__ import annotations

import re
from functools import cached_property

from synnefo.client.config import Config
from synnefo.client.cyclades import ComputeClient, NetworkClient, VolumeClient
from synnefo.client.http import ConfigError
from synnefo.client.identity import AccountClient, IdentityClient
from synnefo.client.pithos import PithosClient
from synnefo.client.plankton import ImageClient

# service type -> the config key that overrides its catalog URL
URL_KEYS = {"object-store": "storage_url", "image": "image_url", "compute": "compute_url",
            "network": "network_url", "volume": "volume_url", "account": "account_url"}
UUID = re.compile(r"^[0-9a-fA-F-]{32,36}$")


class Cloud:
    def __init__(self, url: str | None = None, token: str | None = None, *,
                 urls: dict[str, str] | None = None, account: str | None = None,
                 verify: bool | str = True, name: str = ""):
        self.name = name
        self.url = url
        self.token = token
        self.urls = {k: v for k, v in (urls or {}).items() if v}
        self._account = account
        self.verify = verify

    @classmethod
    def from_config(cls, config: Config, name: str | None = None) -> "Cloud":
        name = name or config.default_cloud()
        if name and name not in config.clouds() and config.get("default_cloud") != name:
            raise ConfigError(f"no cloud called {name!r} in {config.path} (clouds: {', '.join(config.clouds()) or 'none'})")
        section = config.cloud(name) if name else {}
        urls = {}
        for service, key in URL_KEYS.items():
            value = section.get(key) or config.get(key)
            if value:
                urls[service] = value
        token = section.get("token") or config.get("token")
        verify: bool | str = True
        ca = section.get("ca_certs") or config.get("ca_certs")
        if ca:
            verify = ca
        if (section.get("ignore_ssl") or config.get("ignore_ssl") or "").lower() in ("on", "true", "yes", "1"):
            verify = False
        return cls(section.get("url"), token, urls=urls, account=config.get("storage_account"),
                   verify=verify, name=name or "")

    # identity
    @cached_property
    def identity(self) -> IdentityClient:
        if not self.url:
            raise ConfigError("no identity URL: set cloud.<name>.url (kamaki config set cloud.default.url URL)")
        if not self.token:
            raise ConfigError("no token: set cloud.<name>.token or token")
        return IdentityClient(self.url, self.token, verify=self.verify)

    def endpoint(self, service: str) -> str:
        if service in self.urls:
            return self.urls[service].rstrip("/")
        if service == "account":
            return self.identity.account_url()
        if not self.url:
            key = URL_KEYS.get(service, service + "_url")
            raise ConfigError(f"no URL for {service}: set {key}, or cloud.<name>.url to use the catalog")
        return self.identity.endpoint(service)

    def _need_token(self) -> str:
        if not self.token:
            raise ConfigError("no token: set cloud.<name>.token (or the seed's token)")
        return self.token

    @cached_property
    def account(self) -> str:
        """The Pithos account: ``storage_account`` if set (a user name is looked up when an
        identity service is configured), else the authenticated user's uuid."""
        if self._account:
            if not UUID.match(self._account) and self.url:
                return self.accounts.uuid_for(self._account)
            return self._account
        if not self.url:
            raise ConfigError("no storage account: set storage_account (your uuid) or cloud.<name>.url")
        return self.identity.user_id

    # service clients
    @cached_property
    def accounts(self) -> AccountClient:
        return AccountClient(self.endpoint("account"), self._need_token(), verify=self.verify)

    @cached_property
    def pithos(self) -> PithosClient:
        return PithosClient(self.endpoint("object-store"), self._need_token(), self.account, verify=self.verify)

    def pithos_for(self, account: str) -> PithosClient:
        """The same service, another account (a file shared with the caller); a user name is
        looked up when an identity service is configured."""
        if not UUID.match(account) and self.url:
            account = self.accounts.uuid_for(account)
        if account == self.account:
            return self.pithos
        return PithosClient(self.endpoint("object-store"), self._need_token(), account, verify=self.verify)

    @cached_property
    def images(self) -> ImageClient:
        return ImageClient(self.endpoint("image"), self._need_token(), verify=self.verify)

    @cached_property
    def compute(self) -> ComputeClient:
        return ComputeClient(self.endpoint("compute"), self._need_token(), verify=self.verify)

    @cached_property
    def network(self) -> NetworkClient:
        return NetworkClient(self.endpoint("network"), self._need_token(), verify=self.verify)

    @cached_property
    def volume(self) -> VolumeClient:
        return VolumeClient(self.endpoint("volume"), self._need_token(), verify=self.verify)

    def resolve_location(self, location: str) -> str:
        """A ``pithos://<account>/<container>/<path>`` location with a user name as account
        becomes the uuid form the image service stores; ``/container/path`` is the caller's."""
        if location.startswith("pithos://"):
            account, _, rest = location[len("pithos://"):].partition("/")
            if account and not UUID.match(account) and self.url:
                account = self.accounts.uuid_for(account)
            return f"pithos://{account}/{rest}"
        return f"pithos://{self.account}/{location.lstrip('/')}"
