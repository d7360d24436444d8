"""Cyclades' quota commissions (SYNNEFO.md 1.8 "Quota effect per action").

A server holds two sets of resources: *offline* ones for as long as it exists (``cyclades.vm``,
``total_cpu``, ``total_ram``, ``disk``) and *online* ones while it runs or may run
(``cyclades.cpu``, ``ram``: in BUILD, STARTED and ERROR). Each action issues one commission in
the API's transaction; the dispatcher decides it when the action's Ganeti job ends (accepted on
success, rejected otherwise), so a failed job gives the quota back. State changes nobody asked
for through the API (an administrator's ``gnt-instance shutdown``) are charged with a forced
commission, accepted at once.
"""

from __future__ import annotations

import logging

from synnefo.common import faults
from synnefo.cyclades.models import Flavor, VirtualMachine

log = logging.getLogger(__name__)

COMPONENT = "cyclades"
MiB = 1024 * 1024
GiB = 1024 * MiB
ONLINE_STATES = ("BUILD", "STARTED", "ERROR")


def offline(flavor: Flavor, disk_gib: int | None = None) -> dict[str, int]:
    """``disk_gib``: the root volume's size when it is not the flavor's disk (boot from volume)."""
    return {"cyclades.vm": 1, "cyclades.total_cpu": flavor.cpu, "cyclades.total_ram": flavor.ram * MiB,
            "cyclades.disk": (flavor.disk if disk_gib is None else disk_gib) * GiB}


def release_of(vm: VirtualMachine, operstate: str | None = None) -> dict[str, int]:
    """What the server's removal gives back: its offline resources with the disk of its root
    volume and the volumes attached to it (they go with it), and the online ones if it runs
    (in ``operstate``, by default its current one)."""
    from synnefo.cyclades.logic.volumes import server_disk

    if vm.flavor_id is None:
        return {}
    held = {**offline(vm.flavor), "cyclades.disk": server_disk(vm)}
    release = scaled(held, -1)
    if (operstate or vm.operstate) in ONLINE_STATES:
        release = combined(release, scaled(online(vm.flavor), -1))
    return release


def online(flavor: Flavor) -> dict[str, int]:
    return {"cyclades.cpu": flavor.cpu, "cyclades.ram": flavor.ram * MiB}


def scaled(resources: dict[str, int], factor: int) -> dict[str, int]:
    return {k: v * factor for k, v in resources.items()}


def combined(*parts: dict[str, int]) -> dict[str, int]:
    total: dict[str, int] = {}
    for part in parts:
        for key, value in part.items():
            total[key] = total.get(key, 0) + value
    return {k: v for k, v in total.items() if v}


def issue(vm: VirtualMachine, resources: dict[str, int], what: str, *, accept: bool | None, force: bool = False) -> int | None:
    """Issue the commission for ``resources`` (negative quantities release) in the caller's
    transaction. Over quota: 413 ``overLimit`` with the quotaholder's details."""
    return issue_for(vm.userid, vm.project, resources, f"{what} server {vm.id}", accept=accept, force=force)


def issue_for(userid: str, project: str | None, resources: dict[str, int], what: str, *, accept: bool | None,
              force: bool = False) -> int | None:
    """``issue`` for any resource holder (a network, a floating IP): ``what`` names it."""
    from synnefo.astakos.quotaholder.client import member_and_project

    resources = {k: v for k, v in resources.items() if v}
    if not resources:
        return None
    return _commission(member_and_project(userid, resources, project=project or None), what, accept=accept, force=force)


def move(resources: dict[str, int], source: tuple[str, str], target: tuple[str, str], what: str) -> int | None:
    """Move what a resource holds from one (user, project) to another in one accepted
    commission (upstream's ``issue_resource_reassignment``): released from ``source``, charged
    to ``target``. Over quota in the target: 413 and nothing moves; a target project the user
    is not a member of (no holding there): 403."""
    from synnefo.astakos.quotaholder.client import member_and_project

    resources = {k: v for k, v in resources.items() if v}
    if not resources or source == target:
        return None
    provisions = (member_and_project(source[0], scaled(resources, -1), project=source[1] or None)
                  + member_and_project(target[0], resources, project=target[1] or None))
    return _commission(provisions, what, accept=True, not_member=target)


def _commission(provisions: list[dict], what: str, *, accept: bool | None, force: bool = False,
                not_member: tuple[str, str] | None = None) -> int:
    from synnefo.astakos.quotaholder import commissions
    from synnefo.astakos.quotaholder.client import QuotaholderUnavailable
    from synnefo.astakos.quotaholder.logic import NoCapacityError, NoHoldingError, NoQuantityError, QuotaError

    name = f"cyclades: {what}"
    try:
        return commissions.issue(COMPONENT, provisions, name=name[:255], force=force, accept=accept)
    except (NoCapacityError, NoQuantityError) as exc:
        data = exc.data or {}
        resource = (data.get("provision") or {}).get("resource", "")
        raise faults.RequestEntityTooLarge(
            f"Resource limit exceeded for your account ({resource})" if resource else "Resource limit exceeded for your account",
            details=f"{exc.message}; limit {data.get('limit')}, usage {data.get('usage')}",
        ) from None
    except QuotaholderUnavailable:
        raise faults.ServiceUnavailable("The quota service is unavailable; try again later") from None
    except NoHoldingError as exc:
        if not_member is not None:
            user, project = not_member
            raise faults.Forbidden(f"User {user} is not a member of project {project or user}") from None
        raise faults.BadRequest(f"Quota error: {exc}") from None
    except QuotaError as exc:
        raise faults.BadRequest(f"Quota error: {exc}") from None


def decide(vm: VirtualMachine, accept: bool) -> None:
    """Decide the commission of the VM's pending task (in the caller's transaction)."""
    from synnefo.astakos.quotaholder import commissions
    from synnefo.astakos.quotaholder.logic import NoCommissionError

    if vm.serial is None:
        return
    try:
        commissions.decide(COMPONENT, vm.serial, accept)
    except NoCommissionError:
        log.warning("VM %s: commission %s was already resolved", vm.id, vm.serial)
    vm.serial = None


def charge_unrequested_change(vm: VirtualMachine, old_state: str, new_state: str) -> None:
    """A state change that no API action asked for: move the online resources with it."""
    if vm.flavor_id is None:
        return
    was, now = old_state in ONLINE_STATES, new_state in ONLINE_STATES
    if was == now:
        return
    sign = 1 if now else -1
    serial = issue(vm, scaled(online(vm.flavor), sign), f"{old_state}->{new_state} (not requested)", accept=True, force=True)
    log.info("VM %s went %s -> %s outside the API; commission %s", vm.id, old_state, new_state, serial)


def charge_unrequested_resize(vm: VirtualMachine, old: Flavor, new: Flavor) -> None:
    """CPUs or RAM changed outside the API (``gnt-instance modify -B``, or reconciliation of
    it): charge the difference, online resources too while the server runs or may run."""
    delta = combined(scaled(offline(new), 1), scaled(offline(old), -1))
    if vm.operstate in ONLINE_STATES:
        delta = combined(delta, online(new), scaled(online(old), -1))
    serial = issue(vm, delta, f"resize {old.id}->{new.id} (not requested)", accept=True, force=True)
    log.info("VM %s changed flavor %s -> %s outside the API; commission %s", vm.id, old.id, new.id, serial)
