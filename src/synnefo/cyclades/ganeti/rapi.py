"""A client for Ganeti's Remote API v2 (the calls Synnefo makes), on ``requests``.

Why these choices:
- One ``requests.Session`` per backend (see :func:`client_for`): keeps TLS connections open
  between calls, which matters because every job is submitted and then polled.
- TLS is verified by default. A cluster with a self-signed certificate is verified against that
  certificate given as the CA file (``ca_file``); ``insecure=True`` turns verification off and
  must be asked for explicitly.
- Only connection failures are retried (the request never reached Ganeti, so retrying cannot
  submit a job twice). A timeout after sending, or any HTTP answer, is not retried.
- Every error answer becomes :class:`GanetiApiError` with Ganeti's ``code``, ``message`` and
  ``explain``; transport failures become :class:`GanetiConnectionError` (code ``None``).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import requests

log = logging.getLogger(__name__)

JOB_FINAL = ("success", "error", "canceled")


class GanetiApiError(Exception):
    """Ganeti answered with an error (``code`` is the HTTP status) or could not be reached."""

    def __init__(self, message: str, code: int | None = None, explain: str | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.explain = explain

    def __str__(self) -> str:
        parts = [f"Ganeti RAPI error {self.code}: {self.message}" if self.code else self.message]
        if self.explain:
            parts.append(f"({self.explain})")
        return " ".join(parts)


class GanetiConnectionError(GanetiApiError):
    """The RAPI could not be reached (refused, TLS failure, timeout)."""


class GanetiJobError(GanetiApiError):
    """A job finished in ``error`` or ``canceled``; ``job`` is its status object."""

    def __init__(self, job: dict):
        result = (job.get("opresult") or [None])[-1]
        super().__init__(f"job {job.get('id')} {job.get('status')}: {result}")
        self.job = job


class GanetiRapiClient:
    """RAPI v2 over HTTPS with Basic auth. Thread-safe for the calls below (requests' Session
    is safe for concurrent simple requests; the pool has ``pool_size`` connections)."""

    def __init__(
        self,
        host: str,
        port: int = 5080,
        username: str | None = None,
        password: str | None = None,
        *,
        ca_file: str | None = None,
        insecure: bool = False,
        timeout: float = 30.0,
        connect_timeout: float = 5.0,
        retries: int = 3,
        retry_delay: float = 0.5,
        pool_size: int = 10,
    ):
        self.host = host
        self.port = int(port)
        self.base_url = f"https://{host}:{self.port}"
        self.timeout = (connect_timeout, timeout)
        self.retries = retries
        self.retry_delay = retry_delay
        self.session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=pool_size, max_retries=0)
        self.session.mount("https://", adapter)
        if username is not None:
            self.session.auth = (username, password or "")
        # Environment settings (REQUESTS_CA_BUNDLE, proxies, .netrc) must not silently replace
        # the backend's own CA or credentials: each request passes ``verify`` explicitly.
        self.session.trust_env = False
        self.verify = False if insecure else (ca_file or True)
        self.session.headers.update({"Accept": "application/json", "User-Agent": "synnefo-rapi/1"})

    def __repr__(self) -> str:  # never the password
        return f"<GanetiRapiClient {self.base_url}>"

    def close(self) -> None:
        self.session.close()

    # -- transport ---------------------------------------------------------------------------

    def _request(self, method: str, path: str, query: dict | None = None, body: Any = None) -> Any:
        url = self.base_url + path
        params = {k: (int(v) if isinstance(v, bool) else v) for k, v in (query or {}).items() if v is not None}
        kwargs: dict[str, Any] = {"params": params, "timeout": self.timeout, "verify": self.verify}
        if body is not None:
            kwargs["json"] = body  # sets Content-Type: application/json (else Ganeti says 415)
        attempt = 0
        while True:
            try:
                response = self.session.request(method, url, **kwargs)
                break
            except requests.exceptions.SSLError as exc:
                raise GanetiConnectionError(f"TLS failure talking to {self.base_url}: {exc}") from exc
            except requests.exceptions.ConnectionError as exc:
                # ConnectTimeout is a ConnectionError too: the request was never sent.
                attempt += 1
                if attempt > self.retries:
                    raise GanetiConnectionError(f"cannot connect to {self.base_url}: {exc}") from exc
                log.warning("RAPI %s %s: connection failed (%s), retry %d/%d", method, path, exc, attempt, self.retries)
                time.sleep(self.retry_delay * attempt)
            except requests.exceptions.Timeout as exc:
                raise GanetiConnectionError(f"timeout waiting for {self.base_url}{path}: {exc}") from exc
            except requests.exceptions.RequestException as exc:
                raise GanetiConnectionError(f"request to {self.base_url} failed: {exc}") from exc
        try:
            data = response.json() if response.content else None
        except ValueError:
            data = None
        if response.status_code >= 400:
            if isinstance(data, dict):
                raise GanetiApiError(
                    str(data.get("message") or response.reason), data.get("code", response.status_code), data.get("explain")
                )
            raise GanetiApiError(response.reason or "error", response.status_code, (response.text or "")[:200] or None)
        if data is None and response.content:
            raise GanetiApiError(f"non-JSON answer to {method} {path}", response.status_code)
        return data

    def _get(self, path, **query):
        return self._request("GET", path, query)

    # -- cluster -----------------------------------------------------------------------------

    def get_version(self) -> int:
        return self._get("/version")

    def get_features(self) -> list:
        return self._get("/2/features")

    def get_info(self) -> dict:
        return self._get("/2/info")

    def get_nodes(self, bulk: bool = True) -> list:
        return self._get("/2/nodes", bulk=bulk)

    def get_node(self, name: str) -> dict:
        return self._get(f"/2/nodes/{name}")

    def get_operating_systems(self) -> list:
        return self._get("/2/os")

    def get_cluster_tags(self) -> list:
        return self._get("/2/tags")

    def add_cluster_tags(self, tags: list[str], dry_run: bool = False) -> int:
        return self._request("PUT", "/2/tags", {"tag": tags, "dry-run": dry_run})

    def delete_cluster_tags(self, tags: list[str], dry_run: bool = False) -> int:
        return self._request("DELETE", "/2/tags", {"tag": tags, "dry-run": dry_run})

    # -- instances ---------------------------------------------------------------------------

    def get_instances(self, bulk: bool = False) -> list:
        return self._get("/2/instances", bulk=bulk)

    def get_instance(self, name: str) -> dict:
        return self._get(f"/2/instances/{name}")

    def create_instance(self, name: str, disk_template: str, disks: list, nics: list, *, dry_run: bool = False, **kwargs) -> int:
        """Submit an instance creation (request version 1); returns the job id. Give ``pnode``
        (or ``iallocator``), ``os_type``, ``beparams``, ``osparams``, ``hypervisor``, ``tags``..."""
        body = {"__version__": 1, "mode": "create", "name": name, "disk_template": disk_template,
                "disks": disks, "nics": nics}
        if "os" in kwargs and "os_type" not in kwargs:
            kwargs["os_type"] = kwargs.pop("os")
        body.update(kwargs)
        return self._request("POST", "/2/instances", {"dry-run": dry_run}, body)

    def delete_instance(self, name: str, shutdown_timeout: int | None = None, dry_run: bool = False) -> int:
        return self._request("DELETE", f"/2/instances/{name}", {"shutdown_timeout": shutdown_timeout, "dry-run": dry_run})

    def startup_instance(self, name: str, dry_run: bool = False) -> int:
        return self._request("PUT", f"/2/instances/{name}/startup", {"dry-run": dry_run})

    def shutdown_instance(self, name: str, timeout: int | None = None, dry_run: bool = False) -> int:
        body = {"timeout": timeout} if timeout is not None else None
        return self._request("PUT", f"/2/instances/{name}/shutdown", {"dry-run": dry_run}, body)

    def reboot_instance(self, name: str, reboot_type: str = "hard", shutdown_timeout: int | None = None, dry_run: bool = False) -> int:
        # POST: Ganeti answers 501 to PUT on .../reboot.
        return self._request("POST", f"/2/instances/{name}/reboot",
                             {"type": reboot_type, "shutdown_timeout": shutdown_timeout, "dry-run": dry_run})

    def modify_instance(self, name: str, **kwargs) -> int:
        return self._request("PUT", f"/2/instances/{name}/modify", None, kwargs)

    def grow_instance_disk(self, name: str, disk: int, amount: int, wait_for_sync: bool | None = None,
                           dry_run: bool = False) -> int:
        """Grow disk ``disk`` (index) by ``amount`` MiB."""
        body = {"amount": amount}
        if wait_for_sync is not None:
            body["wait_for_sync"] = wait_for_sync
        return self._request("POST", f"/2/instances/{name}/disk/{disk}/grow", {"dry-run": dry_run}, body)

    def rename_instance(self, name: str, new_name: str, ip_check: bool = False, name_check: bool = False) -> int:
        """Ganeti renames only stopped instances (the job fails otherwise)."""
        body = {"new_name": new_name, "ip_check": ip_check, "name_check": name_check}
        return self._request("PUT", f"/2/instances/{name}/rename", None, body)

    def get_instance_console(self, name: str) -> dict:
        return self._get(f"/2/instances/{name}/console")

    def get_instance_info(self, name: str, static: bool = False) -> int:
        return self._get(f"/2/instances/{name}/info", static=static)

    def get_instance_tags(self, name: str) -> list:
        return self._get(f"/2/instances/{name}/tags")

    def add_instance_tags(self, name: str, tags: list[str], dry_run: bool = False) -> int:
        return self._request("PUT", f"/2/instances/{name}/tags", {"tag": tags, "dry-run": dry_run})

    def delete_instance_tags(self, name: str, tags: list[str], dry_run: bool = False) -> int:
        return self._request("DELETE", f"/2/instances/{name}/tags", {"tag": tags, "dry-run": dry_run})

    # -- jobs --------------------------------------------------------------------------------

    def get_jobs(self, bulk: bool = False) -> list:
        return self._get("/2/jobs", bulk=bulk)

    def get_job_status(self, job_id: int) -> dict:
        return self._get(f"/2/jobs/{int(job_id)}")

    def cancel_job(self, job_id: int) -> int:
        return self._request("DELETE", f"/2/jobs/{int(job_id)}")

    def wait_for_job(self, job_id: int, timeout: float = 120.0, interval: float = 0.2, raise_on_error: bool = True) -> dict:
        """Poll until the job is final; returns its status object (GanetiJobError if it failed)."""
        deadline = time.monotonic() + timeout
        while True:
            job = self.get_job_status(job_id)
            if job["status"] in JOB_FINAL:
                if raise_on_error and job["status"] != "success":
                    raise GanetiJobError(job)
                return job
            if time.monotonic() > deadline:
                raise GanetiApiError(f"job {job_id} still {job['status']} after {timeout:.0f} s")
            time.sleep(interval)

    # -- networks ----------------------------------------------------------------------------

    def get_networks(self, bulk: bool = False) -> list:
        return self._get("/2/networks", bulk=bulk)

    def get_network(self, name: str) -> dict:
        return self._get(f"/2/networks/{name}")

    def create_network(self, network_name: str, network: str, gateway: str | None = None, dry_run: bool = False, **kwargs) -> int:
        body = {"network_name": network_name, "network": network, "gateway": gateway, **kwargs}
        return self._request("POST", "/2/networks", {"dry-run": dry_run}, {k: v for k, v in body.items() if v is not None})

    def connect_network(self, network_name: str, group_name: str = "default", mode: str = "bridged", link: str = "", conflicts_check: bool = True, dry_run: bool = False) -> int:
        body = {"group_name": group_name, "network_mode": mode, "network_link": link, "conflicts_check": conflicts_check}
        return self._request("PUT", f"/2/networks/{network_name}/connect", {"dry-run": dry_run}, body)

    def disconnect_network(self, network_name: str, group_name: str = "default", dry_run: bool = False) -> int:
        return self._request("PUT", f"/2/networks/{network_name}/disconnect", {"dry-run": dry_run}, {"group_name": group_name})

    def modify_network(self, network_name: str, dry_run: bool = False, **kwargs) -> int:
        """OP_NETWORK_SET_PARAMS: ``add_reserved_ips``, ``remove_reserved_ips``, ``gateway``, ..."""
        body = {k: v for k, v in kwargs.items() if v is not None}
        return self._request("PUT", f"/2/networks/{network_name}/modify", {"dry-run": dry_run}, body)

    def delete_network(self, network_name: str, dry_run: bool = False) -> int:
        return self._request("DELETE", f"/2/networks/{network_name}", {"dry-run": dry_run})

    def get_groups(self, bulk: bool = False) -> list:
        return self._get("/2/groups", bulk=bulk)


_pool: dict[tuple, GanetiRapiClient] = {}
_pool_lock = threading.Lock()


def client_for(host, port, username, password, *, ca_file=None, insecure=False, timeout=30.0, retries=3) -> GanetiRapiClient:
    """The pooled client of one backend, keyed by everything that identifies the connection
    (a changed password gives a new client; the old one is closed)."""
    key = (host, int(port), username, password, ca_file, bool(insecure), timeout, retries)
    with _pool_lock:
        client = _pool.get(key)
        if client is None:
            for old in [k for k in _pool if k[:2] == key[:2]]:
                _pool.pop(old).close()
            client = _pool[key] = GanetiRapiClient(
                host, port, username, password, ca_file=ca_file, insecure=insecure, timeout=timeout, retries=retries
            )
        return client
