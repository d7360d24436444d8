"""The quotaholder client services use (cyclades, pithos, ...).

``get_client(component)`` returns an in-process client when the quotaholder shares this node's
database (``ASTAKOS_QUOTAHOLDER_URL`` None, the all-in-one case) and an HTTP client of the
account API otherwise. Both have the same methods and raise the same ``QuotaError``s
(``NoCapacityError`` etc.), so a service does not care which it has. Transport failures raise
``QuotaholderUnavailable``.

The in-process client runs in the caller's transaction: a commission issued inside the
caller's ``transaction.atomic`` vanishes with it on rollback. See ``commissions`` for the
bookkeeping that makes the HTTP path just as safe.
"""

from __future__ import annotations

import uuid

import requests
from django.conf import settings

from synnefo.astakos.quotaholder import logic
from synnefo.astakos.quotaholder.logic import (
    InvalidDataError,
    NoCapacityError,
    NoCommissionError,
    NoHoldingError,
    NoQuantityError,
    QuotaError,
)


class QuotaholderUnavailable(QuotaError):
    """The quotaholder could not be reached, or refused the service's credentials."""

    code, fault = 503, "serviceUnavailable"


def member_and_project(user: str, resources: dict[str, int], project: str | None = None) -> list[dict]:
    """Upstream's ``issue_one_commission`` provisions: for each resource, one for the member
    (``user:U`` from ``project:P``) and one for the project (``project:P``); P defaults to the
    user's base project (same uuid)."""
    project = project or user
    provisions = []
    for resource, quantity in resources.items():
        provisions.append({"holder": f"user:{user}", "source": f"project:{project}", "resource": resource, "quantity": quantity})
        provisions.append({"holder": f"project:{project}", "source": None, "resource": resource, "quantity": quantity})
    return provisions


class BaseClient:
    component: str

    def issue_commission(self, provisions, name: str = "", force: bool = False, auto_accept: bool = False) -> int:
        raise NotImplementedError

    def resolve_commissions(self, accept=(), reject=()) -> dict:
        """``{"accepted": [..], "rejected": [..], "failed": [(serial, QuotaError), ..]}``."""
        raise NotImplementedError

    def get_pending_commissions(self) -> list[int]:
        raise NotImplementedError

    def get_commission_info(self, serial: int) -> dict:
        raise NotImplementedError

    def service_quotas(self, user: str | None = None) -> dict:
        raise NotImplementedError

    def issue_one_commission(self, user: str, resources: dict[str, int], project: str | None = None, **kwargs) -> int:
        return self.issue_commission(member_and_project(user, resources, project), **kwargs)

    def accept(self, serial: int) -> None:
        self._one(serial, True)

    def reject(self, serial: int) -> None:
        self._one(serial, False)

    def _one(self, serial: int, accept: bool) -> None:
        result = self.resolve_commissions([serial] if accept else [], [] if accept else [serial])
        if result["failed"]:
            raise result["failed"][0][1]


class LocalClient(BaseClient):
    """Calls the quotaholder's logic directly (same process, same database)."""

    def __init__(self, component: str):
        self.component = component

    def issue_commission(self, provisions, name="", force=False, auto_accept=False) -> int:
        return logic.issue_commission(self.component, provisions, name=name, force=force, auto_accept=auto_accept)

    def resolve_commissions(self, accept=(), reject=()) -> dict:
        return logic.resolve_commissions(self.component, list(accept), list(reject))

    def get_pending_commissions(self) -> list[int]:
        return logic.pending_serials(self.component)

    def get_commission_info(self, serial: int) -> dict:
        return logic.commission_info(self.component, serial)

    def service_quotas(self, user=None) -> dict:
        from synnefo.astakos.models import User

        if user:
            try:
                user = str(uuid.UUID(str(user)))
            except ValueError:
                raise InvalidDataError("'user' must be a uuid") from None  # as the API's 400
        users = User.objects.filter(uuid=user) if user else User.objects.order_by("pk")
        data = logic.user_quotas([str(u) for u in users.values_list("uuid", flat=True)], self.component)
        return {u: q for u, q in data.items() if q}


_ERRORS = {
    "NoCapacityError": NoCapacityError,
    "NoQuantityError": NoQuantityError,
}


def error_from_fault(body, status: int, not_found=NoHoldingError) -> QuotaError:
    """The ``QuotaError`` an API fault body stands for."""
    fault = next(iter(body.values()), {}) if isinstance(body, dict) and body else {}
    fault = fault if isinstance(fault, dict) else {}
    message = str(fault.get("message") or f"HTTP {status}")
    data = fault.get("data")
    if status == 413 and isinstance(data, dict):
        cls = _ERRORS.get(data.get("name"), NoCapacityError)
    elif status == 404:
        cls = not_found
    elif status == 400:
        cls = InvalidDataError
    else:
        cls = QuotaholderUnavailable
    error = cls.__new__(cls)
    QuotaError.__init__(error, message, data if isinstance(data, dict) else None)
    return error


class HttpClient(BaseClient):
    """The account API over HTTP, authenticated with the component's service token."""

    def __init__(self, component: str, url: str, token: str, timeout: float | None = None):
        self.component = component
        self.url = url.rstrip("/")
        self.timeout = timeout or settings.ASTAKOS_QUOTAHOLDER_TIMEOUT
        self.session = requests.Session()
        self.session.headers.update({"X-Auth-Token": token, "Accept": "application/json"})

    def _call(self, method: str, path: str, body=None, not_found=NoHoldingError, ok=(200, 201)):
        try:
            response = self.session.request(method, f"{self.url}/{path}", json=body, timeout=self.timeout)
        except requests.RequestException as exc:
            raise QuotaholderUnavailable(f"Quotaholder at {self.url} unreachable: {exc}") from None
        try:
            data = response.json()
        except ValueError:
            data = None
        if response.status_code not in ok:
            raise error_from_fault(data, response.status_code, not_found)
        return data

    def issue_commission(self, provisions, name="", force=False, auto_accept=False) -> int:
        if not isinstance(provisions, list):
            raise InvalidDataError("'provisions' must be a list")
        body = {"name": name, "force": force, "auto_accept": auto_accept, "provisions": provisions}
        return self._call("POST", "commissions", body)["serial"]

    def resolve_commissions(self, accept=(), reject=()) -> dict:
        data = self._call("POST", "commissions/action", {"accept": list(accept), "reject": list(reject)})
        failed = []
        for serial, fault in data.get("failed", []):
            status = next(iter(fault.values()), {}).get("code", 500) if isinstance(fault, dict) and fault else 500
            failed.append((serial, error_from_fault(fault, status, NoCommissionError)))
        return {"accepted": data.get("accepted", []), "rejected": data.get("rejected", []), "failed": failed}

    def get_pending_commissions(self) -> list[int]:
        return self._call("GET", "commissions")

    def get_commission_info(self, serial: int) -> dict:
        return self._call("GET", f"commissions/{int(serial)}", not_found=NoCommissionError)

    def service_quotas(self, user=None) -> dict:
        return self._call("GET", f"service_quotas?user={user}" if user else "service_quotas")


def get_client(component: str) -> BaseClient:
    """The quotaholder client of ``component``, as the settings say (see module docstring)."""
    url = settings.ASTAKOS_QUOTAHOLDER_URL
    if not url:
        return LocalClient(component)
    token = settings.ASTAKOS_QUOTAHOLDER_TOKENS.get(component)
    if not token:
        raise QuotaholderUnavailable(f"No service token for '{component}' in ASTAKOS_QUOTAHOLDER_TOKENS")
    return HttpClient(component, url, token)
