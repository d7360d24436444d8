"""Service-side commissions: never lose one between issue and resolve.

The pattern (upstream's QuotaHolderSerial / qh_serials), for any service:

1. Inside its own ``transaction.atomic()``, the service calls ``issue(component, provisions)``:
   the commission is issued and its serial recorded in ``ServiceSerial`` **in the service's
   transaction**, with the decision (accept by default).
2. After that transaction commits, an ``on_commit`` hook resolves the commission with the
   quotaholder. If it rolls back, the record is gone with it, and so is the commission when the
   quotaholder is in-process (same transaction); over HTTP the commission stays pending and
   ``reconcile`` rejects it, since no record of it exists.
3. If the process dies, or the quotaholder is unreachable, between commit and resolution, the
   decided record stays unresolved and ``snf-manage reconcile-commissions --fix`` (or a later
   ``resolve_pending``) finishes it.

A service that decides later (e.g. after Ganeti answers) passes ``accept=None`` and calls
``decide(component, serial, accept)`` in the transaction that records the outcome.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from synnefo.astakos.quotaholder.client import BaseClient, get_client
from synnefo.astakos.quotaholder.logic import NoCommissionError, QuotaError
from synnefo.astakos.quotaholder.models import ServiceSerial

logger = logging.getLogger("synnefo.quotaholder")


def issue(
    component: str,
    provisions,
    *,
    name: str = "",
    force: bool = False,
    accept: bool | None = True,
    client: BaseClient | None = None,
) -> int:
    """Issue a commission and record it in the caller's transaction; resolve it (when
    ``accept`` is decided) once that transaction commits. Quota refusals raise ``QuotaError``
    (so the caller's transaction rolls back and nothing is recorded)."""
    client = client or get_client(component)
    serial = client.issue_commission(provisions, name=name, force=force)
    ServiceSerial.objects.create(component=component, serial=serial, accept=accept)
    if accept is not None:
        _resolve_on_commit(component, serial, client)
    return serial


def decide(component: str, serial: int, accept: bool, client: BaseClient | None = None) -> None:
    """Record the decision on a commission issued with ``accept=None``; it is resolved once the
    caller's transaction commits."""
    updated = ServiceSerial.objects.filter(component=component, serial=serial, resolved=False).update(accept=accept)
    if not updated:
        raise NoCommissionError(f"No unresolved commission {serial} of {component}")
    _resolve_on_commit(component, serial, client)


def _resolve_on_commit(component: str, serial: int, client: BaseClient | None) -> None:
    def resolve():
        try:
            resolve_pending(component, serials=[serial], client=client)
        except Exception:  # noqa: BLE001 - the caller's work is committed; reconcile finishes it
            logger.exception("Resolving commission %s of %s failed; reconcile-commissions will finish it", serial, component)

    transaction.on_commit(resolve)


def resolve_pending(component: str, serials=None, client: BaseClient | None = None) -> dict:
    """Resolve the decided, unresolved commissions of ``component`` (only ``serials`` if given)
    and mark them resolved. Returns the quotaholder's answer. Commissions the quotaholder no
    longer knows were resolved before (e.g. by an earlier attempt whose answer was lost)."""
    rows = ServiceSerial.objects.filter(component=component, resolved=False, accept__isnull=False)
    if serials is not None:
        rows = rows.filter(serial__in=list(serials))
    decisions = dict(rows.values_list("serial", "accept"))
    if not decisions:
        return {"accepted": [], "rejected": [], "failed": []}
    client = client or get_client(component)
    result = client.resolve_commissions(
        [s for s, a in decisions.items() if a], [s for s, a in decisions.items() if not a]
    )
    done = result["accepted"] + result["rejected"]
    done += [s for s, error in result["failed"] if isinstance(error, NoCommissionError)]
    for serial, error in result["failed"]:
        if not isinstance(error, NoCommissionError):
            logger.error("Commission %s of %s not resolved: %s", serial, component, error)
    ServiceSerial.objects.filter(component=component, serial__in=done).update(resolved=True)
    return result


def _issue_time(info: dict) -> datetime | None:
    try:
        return datetime.fromisoformat(info["issue_time"])
    except (KeyError, TypeError, ValueError):
        return None


def reconcile(component: str, fix: bool = False, client: BaseClient | None = None, grace: int | None = None) -> dict:
    """Compare the quotaholder's pending commissions of ``component`` with the local records.

    * pending and decided here: resolve as decided;
    * pending and unknown here, older than the grace period: its transaction never committed,
      reject it (younger ones are left alone: their transaction may still commit);
    * pending and undecided here: reported only (the service has yet to decide);
    * unresolved here but not pending there: already resolved; mark it so.

    Changes nothing unless ``fix``. Returns the lists under those names."""
    client = client or get_client(component)
    grace = settings.ASTAKOS_QUOTAHOLDER_RECONCILE_GRACE if grace is None else grace
    pending = set(client.get_pending_commissions())
    local = {
        row.serial: row
        for row in ServiceSerial.objects.filter(component=component).filter(serial__in=list(pending) or [-1])
    }
    unresolved = set(
        ServiceSerial.objects.filter(component=component, resolved=False).values_list("serial", flat=True)
    )
    report = {"accept": [], "reject": [], "orphan": [], "young": [], "undecided": [], "already_resolved": []}
    cutoff = timezone.now() - timedelta(seconds=grace)
    for serial in sorted(pending):
        row = local.get(serial)
        if row is None:
            try:
                issued = _issue_time(client.get_commission_info(serial))
            except NoCommissionError:
                continue  # resolved in the meantime
            report["orphan" if issued is None or issued <= cutoff else "young"].append(serial)
        elif row.accept is None:
            report["undecided"].append(serial)
        else:
            report["accept" if row.accept else "reject"].append(serial)
    report["already_resolved"] = sorted(unresolved - pending)
    if fix:
        if report["already_resolved"]:
            ServiceSerial.objects.filter(component=component, serial__in=report["already_resolved"]).update(resolved=True)
        if report["accept"] or report["reject"] or report["orphan"]:
            result = client.resolve_commissions(report["accept"], report["reject"] + report["orphan"])
            ServiceSerial.objects.filter(
                component=component, serial__in=result["accepted"] + result["rejected"]
            ).update(resolved=True)
            report["failed"] = [(s, str(e)) for s, e in result["failed"]]
    return report


__all__ = ["issue", "decide", "resolve_pending", "reconcile", "QuotaError"]
