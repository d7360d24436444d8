"""The quotaholder's rules: two-phase commissions over holdings.

Issue (prepare): a positive quantity (an "import") raises ``usage_max`` and fails past the
limit unless forced; a negative one (a "release") lowers ``usage_min`` and always fails below
zero. Accept: an import raises ``usage_min``, a release lowers ``usage_max``. Reject undoes the
prepare step. So ``usage_min <= accepted usage <= usage_max`` at every moment, and however the
pending commissions are later resolved, usage stays within ``[0, limit]`` (forced imports
aside). Reported ``usage`` is ``usage_max`` and ``pending`` is ``usage_max - usage_min``.

Every operation is one transaction. The holdings it touches are locked (``SELECT ... FOR
UPDATE``, in primary-key order so two commissions never deadlock) on PostgreSQL; on SQLite
the connection's IMMEDIATE transactions already serialise writers.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from synnefo.astakos.quotaholder import store
from synnefo.astakos.quotaholder.models import UNLIMITED, Commission, Holding, Resource
from synnefo.astakos.quotaholder.resources import BUILTIN, register

MAX_QUANTITY = 2**62


class QuotaError(Exception):
    """A refused operation, with the API fault name and code it maps to."""

    code = 400
    fault = "badRequest"

    def __init__(self, message: str, data: dict | None = None):
        super().__init__(message)
        self.message = message
        self.data = data

    def as_fault(self) -> dict:
        body = {"code": self.code, "message": self.message, "details": ""}
        if self.data is not None:
            body["data"] = self.data
        return {self.fault: body}


class InvalidDataError(QuotaError):
    pass


class NoHoldingError(QuotaError):
    code, fault = 404, "itemNotFound"


class NoCommissionError(QuotaError):
    code, fault = 404, "itemNotFound"


class _LimitError(QuotaError):
    code, fault = 413, "overLimit"

    def __init__(self, message: str, provision: "ProvisionSpec", limit: int, usage: int):
        super().__init__(
            message,
            {"provision": provision.as_dict(), "name": type(self).__name__, "limit": limit, "usage": usage},
        )


class NoCapacityError(_LimitError):
    """An import would take usage past the limit."""


class NoQuantityError(_LimitError):
    """A release would take usage below zero."""


@dataclass(frozen=True)
class ProvisionSpec:
    holder: str
    source: str  # "" for none
    resource: str
    quantity: int

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.holder, self.source, self.resource)

    def as_dict(self) -> dict:
        return {"holder": self.holder, "source": self.source or None, "resource": self.resource, "quantity": self.quantity}


def _string(value, what: str, *, allow_none: bool = False) -> str:
    if value is None and allow_none:
        return ""
    if not isinstance(value, str) or not value or len(value) > 255:
        raise InvalidDataError(f"'{what}' must be a non-empty string of at most 255 characters")
    return value


def parse_provisions(raw) -> list[ProvisionSpec]:
    """Provisions from the wire shape (a list of {holder, source, resource, quantity}), checked."""
    if not isinstance(raw, list) or not raw:
        raise InvalidDataError("'provisions' must be a non-empty list")
    if len(raw) > settings.ASTAKOS_QUOTAHOLDER_MAX_PROVISIONS:
        raise InvalidDataError(f"At most {settings.ASTAKOS_QUOTAHOLDER_MAX_PROVISIONS} provisions per commission")
    specs, seen = [], set()
    for item in raw:
        if isinstance(item, ProvisionSpec):
            item = item.as_dict()
        if not isinstance(item, dict):
            raise InvalidDataError("Each provision must be an object")
        quantity = item.get("quantity")
        if isinstance(quantity, bool) or not isinstance(quantity, int) or abs(quantity) >= MAX_QUANTITY:
            raise InvalidDataError("'quantity' must be an integer")
        spec = ProvisionSpec(
            _string(item.get("holder"), "holder"),
            _string(item.get("source"), "source", allow_none=True),
            _string(item.get("resource"), "resource"),
            quantity,
        )
        if spec.key in seen:
            raise InvalidDataError(f"Duplicate provision for {spec.holder} {spec.source or '-'} {spec.resource}")
        seen.add(spec.key)
        specs.append(spec)
    return specs


# --- holdings ------------------------------------------------------------------------------


def base_holder_keys(user_uuid: str) -> list[tuple[str, str]]:
    """The (holder, source) pairs of a user's base project: the member and the project."""
    return [(f"user:{user_uuid}", f"project:{user_uuid}"), (f"project:{user_uuid}", "")]


def ensure_user_holdings(user_uuids, resources=None) -> None:
    """Create the missing base-project holdings of these users (limit None: the system default).
    Safe under concurrency (conflicting rows are skipped)."""
    resources = list(resources if resources is not None else Resource.objects.all())
    rows = [
        Holding(holder=holder, source=source, resource=resource)
        for uuid in user_uuids
        for holder, source in base_holder_keys(str(uuid))
        for resource in resources
    ]
    if rows:
        Holding.objects.bulk_create(rows, ignore_conflicts=True)


def _base_project_user(holder: str, source: str) -> str | None:
    """The uuid of the user whose base project this (holder, source) belongs to, if any."""
    if holder.startswith("user:") and source == "project:" + holder[5:]:
        return holder[5:]
    if holder.startswith("project:") and source == "":
        return holder[8:]
    return None


def _existing_user_uuids(candidates: set[str]) -> set[str]:
    from synnefo.astakos.models import User

    valid = []
    for value in candidates:
        try:
            User._meta.get_field("uuid").to_python(value)
            valid.append(value)
        except Exception:  # noqa: BLE001 - a malformed uuid is simply not a user
            continue
    return {str(u) for u in User.objects.filter(uuid__in=valid).values_list("uuid", flat=True)}


def _locked_holdings(keys: list[tuple[str, str, str]]) -> dict[tuple[str, str, str], store.HoldingRow]:
    """The holdings of ``keys``, locked; base-project holdings of existing users are created on
    first use; anything else missing is ``NoHoldingError``."""
    found = store.lock_holdings(keys)
    missing = [k for k in keys if k not in found]
    if not missing:
        return found
    names = {k[2] for k in missing}
    if names & set(BUILTIN) and not Resource.objects.filter(name__in=names & set(BUILTIN)).exists():
        register(Resource, BUILTIN)  # the bundled services' resources always exist (e.g. after a flush)
    resources = set(Resource.objects.filter(name__in=names).values_list("name", flat=True))
    owners = {k: _base_project_user(k[0], k[1]) for k in missing}
    users = _existing_user_uuids({u for u in owners.values() if u})
    for key in missing:
        if key[2] not in resources:
            raise NoHoldingError(f"Unknown resource '{key[2]}'")
        if owners[key] not in users:
            raise NoHoldingError(f"No holding for {key[0]} from {key[1] or '-'} on {key[2]}")
    ensure_user_holdings(users)
    found = store.lock_holdings(keys)
    absent = [k for k in keys if k not in found]
    if absent:  # e.g. deleted in between
        raise NoHoldingError(f"No holding for {absent[0][0]} on {absent[0][2]}")
    return found


# --- commissions ---------------------------------------------------------------------------


def issue_commission(clientkey: str, provisions, name: str = "", force: bool = False, auto_accept: bool = False) -> int:
    """Prepare a commission and return its serial; with ``auto_accept`` it is accepted at once.
    Raises ``QuotaError`` and changes nothing when any provision cannot be prepared."""
    specs = parse_provisions(provisions)
    if not isinstance(name, str) or len(name) > 4096:
        raise InvalidDataError("'name' must be a string of at most 4096 characters")
    with transaction.atomic():
        holdings = _locked_holdings([s.key for s in specs])
        for spec in specs:
            holding = holdings[spec.key]
            limit = holding.effective_limit()
            if spec.quantity >= 0:
                new = holding.usage_max + spec.quantity
                if new > UNLIMITED or (not force and new > limit):
                    raise NoCapacityError(
                        f"Limit {limit} of {spec.resource} for {spec.holder} exceeded "
                        f"(usage {holding.usage_max}, asked {spec.quantity})",
                        spec, limit, holding.usage_max,
                    )
                holding.usage_max = new
            else:
                new = holding.usage_min + spec.quantity
                if new < 0:
                    raise NoQuantityError(
                        f"Release of {-spec.quantity} {spec.resource} for {spec.holder} exceeds its usage "
                        f"({holding.usage_min})",
                        spec, limit, holding.usage_min,
                    )
                holding.usage_min = new
        issued = timezone.now()
        if auto_accept:
            # Straight to the accepted state (the serial still comes from the commission table).
            serial = store.insert_commission(name, clientkey, issued)
            issue_time = store._connection().ops.adapt_datetimefield_value(issued)
            items = [(serial, s.quantity, holdings[s.key]) for s in specs]
            _resolve({serial: (name, issue_time)}, clientkey, items, {serial: True})
        else:
            provisions = [(holdings[s.key].id, s.quantity) for s in specs]
            serial = store.write_issue(holdings.values(), name, clientkey, issued, provisions)
    return serial


def _resolve(commissions: dict, clientkey: str, items, decisions: dict[int, bool]) -> None:
    """Apply the second phase to locked holdings, log it, and forget the commissions.
    ``items``: (serial, quantity, locked HoldingRow); ``decisions``: serial -> accept."""
    connection = store._connection()
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    logs, touched = [], {}
    for serial, quantity, holding in items:
        accept = decisions[serial]
        name, issue_time = commissions[serial]
        logs.append((
            serial, name, clientkey, issue_time, now, holding.holder, holding.source, holding.resource,
            holding.effective_limit(), holding.usage_min, holding.usage_max, quantity, "accept" if accept else "reject",
        ))
        if accept:
            if quantity >= 0:
                holding.usage_min += quantity
            else:
                holding.usage_max += quantity
        elif quantity >= 0:
            holding.usage_max -= quantity
        else:
            holding.usage_min -= quantity
        touched[holding.id] = holding
    store.write_resolution(touched.values(), logs, list(decisions))


def _serials(values, what: str) -> list[int]:
    if values is None:
        return []
    if not isinstance(values, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        raise InvalidDataError(f"'{what}' must be a list of serials (integers)")
    return values


def resolve_commissions(clientkey: str, accept=(), reject=()) -> dict:
    """Accept and reject pending commissions of ``clientkey`` in one transaction. Returns
    ``{"accepted": [...], "rejected": [...], "failed": [(serial, QuotaError), ...]}``."""
    accept = _serials(list(accept) if isinstance(accept, tuple) else accept, "accept")
    reject = _serials(list(reject) if isinstance(reject, tuple) else reject, "reject")
    result = {"accepted": [], "rejected": [], "failed": []}
    both = set(accept) & set(reject)
    for serial in sorted(both):
        result["failed"].append((serial, InvalidDataError(f"Commission {serial} both accepted and rejected")))
    wanted = {s: True for s in accept if s not in both}
    wanted.update({s: False for s in reject if s not in both})
    if not wanted:
        return result
    with transaction.atomic():
        commissions = store.lock_commissions(clientkey, sorted(wanted))
        for serial in sorted(wanted):
            if serial not in commissions:
                result["failed"].append((serial, NoCommissionError(f"No pending commission {serial}")))
        if commissions:
            items = store.lock_provisions(sorted(commissions))
            _resolve(commissions, clientkey, items, {s: wanted[s] for s in commissions})
        for serial in sorted(commissions):
            result["accepted" if wanted[serial] else "rejected"].append(serial)
    result["failed"].sort(key=lambda item: item[0])
    return result


def resolve_one(clientkey: str, serial: int, accept: bool) -> None:
    """Accept or reject one commission; ``NoCommissionError`` when it is not pending."""
    result = resolve_commissions(clientkey, [serial] if accept else [], [] if accept else [serial])
    if result["failed"]:
        raise result["failed"][0][1]


def pending_serials(clientkey: str) -> list[int]:
    return list(Commission.objects.filter(clientkey=clientkey).order_by("serial").values_list("serial", flat=True))


def commission_info(clientkey: str | None, serial: int) -> dict:
    """A pending commission as the API shows it (``clientkey`` None: any issuer, for admins)."""
    qs = Commission.objects.filter(serial=serial)
    if clientkey is not None:
        qs = qs.filter(clientkey=clientkey)
    commission = qs.first()
    if commission is None:
        raise NoCommissionError(f"No pending commission {serial}")
    provisions = commission.provisions.select_related("holding__resource").order_by("pk")
    return {
        "serial": commission.serial,
        "name": commission.name,
        "issue_time": commission.issue_datetime.isoformat(),
        "provisions": [
            ProvisionSpec(p.holding.holder, p.holding.source, p.holding.resource.name, p.quantity).as_dict()
            for p in provisions
        ],
    }


# --- quotas --------------------------------------------------------------------------------


def _entry(holding: Holding) -> dict:
    return {
        "limit": holding.effective_limit(),
        "usage": holding.usage_max,
        "pending": holding.usage_max - holding.usage_min,
    }


def user_quotas(user_uuids, service_origin: str | None = None) -> dict:
    """``{user_uuid: {project_uuid: {resource: {limit, usage, pending, project_limit,
    project_usage, project_pending}}}}`` of API-visible resources (of one service if asked),
    creating missing base-project holdings first."""
    user_uuids = [str(u) for u in user_uuids]
    resources = Resource.objects.filter(api_visible=True)
    if service_origin is not None:
        resources = resources.filter(service_origin=service_origin)
    resources = list(resources)
    if not user_uuids or not resources:
        return {u: {} for u in user_uuids}
    holders = {f"user:{u}": u for u in user_uuids}
    members = list(Holding.objects.select_related("resource").filter(holder__in=list(holders), resource__in=resources))
    if len(members) < len(user_uuids) * len(resources):
        have = {}
        for h in members:
            have.setdefault(h.holder, set()).add(h.resource_id)
        lacking = [u for u in user_uuids if len(have.get(f"user:{u}", ())) < len(resources)]
        ensure_user_holdings(_existing_user_uuids(set(lacking)))
        members = list(
            Holding.objects.select_related("resource").filter(holder__in=list(holders), resource__in=resources)
        )
    projects = {
        (h.holder, h.resource_id): h
        for h in Holding.objects.select_related("resource").filter(
            holder__in={h.source for h in members}, source="", resource__in=resources
        )
    }
    result: dict = {u: {} for u in user_uuids}
    for holding in members:
        entry = _entry(holding)
        project = projects.get((holding.source, holding.resource_id))
        if project is not None:
            p = _entry(project)
            entry.update(project_limit=p["limit"], project_usage=p["usage"], project_pending=p["pending"])
        else:
            entry.update(project_limit=0, project_usage=0, project_pending=0)
        project_uuid = holding.source.split(":", 1)[1] if holding.source.startswith("project:") else holding.source
        result[holders[holding.holder]].setdefault(project_uuid, {})[holding.resource.name] = entry
    return result


def project_quotas(project_uuids=None, service_origin: str | None = None) -> dict:
    """``{project_uuid: {resource: {project_limit, project_usage, project_pending}}}``."""
    holdings = Holding.objects.select_related("resource").filter(
        holder__startswith="project:", source="", resource__api_visible=True
    )
    if project_uuids is not None:
        project_uuids = [str(p) for p in project_uuids]
        ensure_user_holdings(_existing_user_uuids(set(project_uuids)))  # base projects
        holdings = holdings.filter(holder__in=[f"project:{p}" for p in project_uuids])
    if service_origin is not None:
        holdings = holdings.filter(resource__service_origin=service_origin)
    result: dict = {}
    for holding in holdings.order_by("holder", "resource__name"):
        e = _entry(holding)
        result.setdefault(holding.holder[8:], {})[holding.resource.name] = {
            "project_limit": e["limit"], "project_usage": e["usage"], "project_pending": e["pending"],
        }
    return result


@transaction.atomic
def set_base_limit(user_uuid: str, resource: Resource, limit: int | None) -> None:
    """Set a user's limit of ``resource`` in the base project (both the member and the project
    holding, so the effective limit is ``limit``); None returns to the system default."""
    ensure_user_holdings([user_uuid], [resource])
    keys = base_holder_keys(user_uuid)
    Holding.objects.filter(
        Q(holder=keys[0][0], source=keys[0][1]) | Q(holder=keys[1][0], source=keys[1][1]), resource=resource
    ).update(limit=limit)
