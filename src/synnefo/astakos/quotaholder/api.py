"""Quota endpoints of the account API (``/astakos/account/v1.0/``), as upstream:

* ``resources`` (no token), ``quotas`` (user token);
* ``service_quotas``, ``service_project_quotas``, ``commissions[/<serial>[/action]]``,
  ``commissions/action`` (service token only; a user token is 401 there).

Quota refusals keep upstream's body: ``{"overLimit": {"code": 413, "message": ...,
"data": {"provision": ..., "name": "NoCapacityError", "limit": L, "usage": U}}}``.
"""

from __future__ import annotations

import uuid
from functools import wraps

from synnefo.astakos.quotaholder import logic
from synnefo.astakos.quotaholder.models import Resource
from synnefo.astakos.quotaholder.service_tokens import authenticate_service
from synnefo.common import faults
from synnefo.common.api import api_method, json_body, render


def service_method(methods=("GET",)):
    """``api_method`` for service-only views: the caller is ``request.component``; quota
    refusals render in their own shape."""

    def decorator(view):
        @api_method(methods, token_required=False)
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            request.component = authenticate_service(request)
            try:
                return view(request, *args, **kwargs)
            except logic.QuotaError as error:
                return render(request, error.as_fault(), status=error.code)

        return wrapper

    return decorator


def _uuid_param(request, name: str) -> str | None:
    value = request.GET.get(name)
    if value is None:
        return None
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise faults.BadRequest(f"'{name}' must be a uuid") from None


def _serial(serial: str) -> int:
    try:
        value = int(serial)
    except ValueError:
        raise faults.BadRequest("A serial is an integer") from None
    if not 0 < value < 2**63:
        raise faults.ItemNotFound(f"No pending commission {serial}")
    return value


@api_method(("GET",), token_required=False)
def resources(request):
    """Every API-visible resource: ``{name: {unit, description, service, allow_in_projects}}``."""
    data = {
        r.name: {
            "unit": r.unit,
            "description": r.description,
            "service": r.service_origin,
            "service_type": r.service_type,
            "allow_in_projects": r.allow_in_projects,
            "ui_visible": r.ui_visible,
            "api_visible": r.api_visible,
        }
        for r in Resource.objects.filter(api_visible=True)
    }
    return render(request, data)


@api_method(("GET",))
def quotas(request):
    """The caller's quotas, per project (kamaki ``quota list``)."""
    uuid_ = request.api_user.uuid
    return render(request, logic.user_quotas([uuid_])[uuid_])


@service_method(("GET",))
def service_quotas(request):
    """Quotas of the calling service's resources, per user (``?user=`` for one)."""
    from synnefo.astakos.models import User

    user = _uuid_param(request, "user")
    if user is not None:
        uuids = [str(u) for u in User.objects.filter(uuid=user).values_list("uuid", flat=True)]
    else:
        uuids = [str(u) for u in User.objects.order_by("pk").values_list("uuid", flat=True)]
    data = logic.user_quotas(uuids, request.component.name)
    return render(request, {u: q for u, q in data.items() if q})


@service_method(("GET",))
def service_project_quotas(request):
    project = _uuid_param(request, "project")
    data = logic.project_quotas([project] if project else None, request.component.name)
    return render(request, data)


def _flag(data: dict, key: str) -> bool:
    value = data.get(key, False)
    if not isinstance(value, bool):
        raise faults.BadRequest(f"'{key}' must be true or false")
    return value


@service_method(("GET", "POST"))
def commissions(request):
    """GET: the caller's pending serials. POST: issue a commission; 201 ``{"serial": N}``."""
    clientkey = request.component.name
    if request.method != "POST":
        return render(request, logic.pending_serials(clientkey))
    data = json_body(request)
    name = data.get("name") or ""
    if not isinstance(name, str):
        raise faults.BadRequest("'name' must be a string")
    serial = logic.issue_commission(
        clientkey,
        data.get("provisions"),
        name=name,
        force=_flag(data, "force"),
        auto_accept=_flag(data, "auto_accept"),
    )
    return render(request, {"serial": serial}, status=201)


@service_method(("GET",))
def commission(request, serial):
    return render(request, logic.commission_info(request.component.name, _serial(serial)))


@service_method(("POST",))
def commission_action(request, serial):
    """``{"accept": ""}`` or ``{"reject": ""}``; 200 ``{}`` once resolved."""
    data = json_body(request)
    actions = [key for key in ("accept", "reject") if key in data]
    if len(actions) != 1 or len(data) != 1:
        raise faults.BadRequest('The body is {"accept": ""} or {"reject": ""}')
    logic.resolve_one(request.component.name, _serial(serial), accept=actions[0] == "accept")
    return render(request, {})


@service_method(("POST",))
def commissions_action(request):
    """Bulk resolution: ``{"accept": [..], "reject": [..]}`` ->
    ``{"accepted": [..], "rejected": [..], "failed": [[serial, fault], ..]}``."""
    data = json_body(request)
    unknown = set(data) - {"accept", "reject"}
    if unknown:
        raise faults.BadRequest(f"Unknown keys {sorted(unknown)}; expected 'accept' and 'reject'")
    result = logic.resolve_commissions(request.component.name, data.get("accept"), data.get("reject"))
    result["failed"] = [[serial, error.as_fault()] for serial, error in result["failed"]]
    return render(request, result)
