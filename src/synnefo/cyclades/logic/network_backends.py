"""Networks on the Ganeti backends (docs/networks.md "On Ganeti").

A network exists on a backend as the Ganeti network ``<BACKEND_PREFIX_ID>net-<id>``, with its
IPv4 subnet, gateway, IPv6 subnet, per-backend MAC prefix and tags, connected to every node group
with the network's mode and link. ``BackendNetwork`` rows record each backend's side. The steps
are chained through the update path, so no job is submitted before the one it needs has
succeeded:

1. ``plan`` adds PENDING rows (public: the backend given; private: every backend, unless
   ``CYCLADES_LAZY_PRIVATE_NETWORKS``); ``submit_pending`` (after commit) submits
   ``OP_NETWORK_ADD`` for each as soon as the network has its IPv4 subnet (Ganeti needs one);
2. the ADD's success event (``apply_event``) submits one ``OP_NETWORK_CONNECT`` per node group;
3. a CONNECT success makes the row ACTIVE, and the network ACTIVE once a backend has it.

Removal: ``remove_everywhere`` disconnects every group; the last DISCONNECT's success event
submits ``OP_NETWORK_REMOVE``, whose success makes the row DELETED. A failed job makes the row
ERROR with Ganeti's message. Events older than the row's last applied one are dropped.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction

from synnefo.common import faults
from synnefo.cyclades.logic import networks
from synnefo.cyclades.logic.callbacks import error_text
from synnefo.cyclades.models import Backend, BackendNetwork, Network, NetworkInterface

log = logging.getLogger(__name__)

RUNNING = ("queued", "waiting", "running", "canceling")
IPV6_ONLY_PLACEHOLDER = "10.0.0.0/29"  # the IPv4 range of IPv6-only networks in Ganeti (as upstream)


def ganeti_tags(network: Network) -> list[str]:
    tags = list(network.tag_list)
    if any(s.dhcp for s in network.subnets.all() if not s.deleted):
        tags.append("nfdhcpd")
    tags.append("public" if network.public else "private")
    return tags


def backend_mac_prefix(network: Network, backend: Backend) -> str:
    """The network's five-digit prefix plus one hex digit for the backend (Ganeti wants three
    octets): the backend id modulo 16."""
    return f"{network.mac_prefix}{backend.id % 16:x}"


def network_id_from_name(name) -> int | None:
    prefix = f"{settings.BACKEND_PREFIX_ID}net-"
    if not isinstance(name, str) or not name.startswith(prefix) or not name[len(prefix):].isdigit():
        return None
    return int(name[len(prefix):])


def plan(network: Network, backends=None) -> list[BackendNetwork]:
    """PENDING rows for the backends the network must exist on (in the caller's transaction)."""
    if backends is None:
        if network.public or settings.CYCLADES_LAZY_PRIVATE_NETWORKS:
            backends = []
        else:
            backends = list(Backend.objects.filter(offline=False))
    rows = []
    for backend in backends:
        row, created = BackendNetwork.objects.get_or_create(network=network, backend=backend,
                                                            defaults={"mac_prefix": backend_mac_prefix(network, backend)})
        if not created and row.operstate == "DELETED":
            if row.backendjobstatus in RUNNING:
                raise faults.Conflict(f"Network {network.id} is still being removed from backend {backend.id} "
                                      f"(job {row.backendjobid}); try again when it ends")
            reset(row)
        rows.append(row)
    network_id = network.id
    transaction.on_commit(lambda: after_commit(submit_pending, network_id))
    return rows


def reset(row: BackendNetwork) -> None:
    """Start a row over (PENDING, no job), to be created again. Its event-time guard is kept: it
    is Ganeti's clock, not ours."""
    row.operstate, row.backendjobid, row.backendopcode, row.backendjobstatus = "PENDING", None, None, None
    row.backendlogmsg = ""
    row.save()


def after_commit(step, network_id: int) -> None:
    """Run a Ganeti step after the API's transaction committed. What the user asked for is
    done by then (the network is created or deleted in the database), so a failure here is
    logged, not answered with a 500; the row keeps what is known (see reconciliation)."""
    try:
        step(network_id)
    except Exception:  # noqa: BLE001 - logged with the traceback; the database is consistent
        log.exception("network %s: %s failed after commit", network_id, step.__name__)


def plan_private_networks_on(backend: Backend) -> int:
    """A new backend gets every live private network (unless creation is lazy)."""
    if settings.CYCLADES_LAZY_PRIVATE_NETWORKS:
        return 0
    count = 0
    for network in Network.objects.filter(public=False, deleted=False):
        plan(network, [backend])
        count += 1
    return count


def _fail(row: BackendNetwork, message: str) -> None:
    row.operstate, row.backendlogmsg = "ERROR", message[:2000]
    row.save(update_fields=["operstate", "backendlogmsg", "updated"])
    log.warning("network %s on backend %s: %s", row.network_id, row.backend_id, message)


def submit_pending(network_id: int) -> None:
    """Submit OP_NETWORK_ADD for every PENDING row that has no job yet."""
    from synnefo.cyclades.ganeti.rapi import GanetiApiError

    with transaction.atomic():
        network = Network.objects.select_for_update().prefetch_related("subnets").filter(pk=network_id, deleted=False).first()
        if network is None:
            return
        sub4, sub6 = networks.subnet4(network), networks.subnet6(network)
        if sub4 is None and sub6 is None:
            return  # submitted when its first subnet comes
        # Ganeti networks need an IPv4 range: an IPv6-only network gets a placeholder, and no NIC
        # takes an address from it (Cyclades gives IPv4 addresses, and there is no IPv4 subnet).
        cidr, gateway = (sub4.cidr, sub4.gateway) if sub4 else (IPV6_ONLY_PLACEHOLDER, None)
        for row in network.backend_networks.select_related("backend").filter(operstate="PENDING", backendjobid__isnull=True):
            try:
                job = row.backend.get_client().create_network(
                    network.backend_id, cidr, gateway, mac_prefix=row.mac_prefix or None,
                    network6=sub6.cidr if sub6 else None, gateway6=sub6.gateway if sub6 else None,
                    tags=ganeti_tags(network))
            except GanetiApiError as exc:
                _fail(row, f"cannot create the network: {exc}")
                continue
            row.backendjobid, row.backendopcode, row.backendjobstatus = job, "OP_NETWORK_ADD", "queued"
            row.save(update_fields=["backendjobid", "backendopcode", "backendjobstatus", "updated"])
        refresh_state(network)


def subnet_added(network_id: int) -> None:
    """A subnet was added (after commit): a network waiting for its IPv4 subnet goes to Ganeti
    now; one already there learns a new IPv6 subnet (OP_NETWORK_SET_PARAMS network6/gateway6)."""
    from synnefo.cyclades.ganeti.rapi import GanetiApiError

    submit_pending(network_id)
    network = Network.objects.prefetch_related("subnets").get(pk=network_id)
    sub6 = networks.subnet6(network)
    if sub6 is None:
        return
    for row in network.backend_networks.select_related("backend").filter(operstate="ACTIVE"):
        client = row.backend.get_client()
        try:
            if client.get_network(network.backend_id).get("network6") == sub6.cidr:
                continue
            job = client.modify_network(network.backend_id, network6=sub6.cidr, gateway6=sub6.gateway)
        except GanetiApiError as exc:
            log.warning("network %s on backend %s: cannot add IPv6 subnet: %s", network_id, row.backend_id, exc)
            continue
        BackendNetwork.objects.filter(pk=row.pk).update(backendjobid=job, backendopcode="OP_NETWORK_SET_PARAMS",
                                                        backendjobstatus="queued")


def _groups(client) -> list[str]:
    return [g["name"] for g in client.get_groups(bulk=False)]


def connect_groups(row: BackendNetwork) -> None:
    network = row.network
    client = row.backend.get_client()
    # An IPv6-only network's placeholder range must not be checked against instances' IPv4 addresses.
    check = networks.subnet4(network) is not None
    for group in _groups(client):
        job = client.connect_network(network.backend_id, group, network.mode, network.link or "", conflicts_check=check)
        row.backendjobid, row.backendopcode, row.backendjobstatus = job, "OP_NETWORK_CONNECT", "queued"
    row.save(update_fields=["backendjobid", "backendopcode", "backendjobstatus", "updated"])


def disconnect_or_remove(row: BackendNetwork) -> None:
    """Disconnect the Ganeti network from its groups, or remove it once it has none."""
    from synnefo.cyclades.ganeti.rapi import GanetiApiError

    client = row.backend.get_client()
    name = row.network.backend_id
    try:
        info = client.get_network(name)
    except GanetiApiError as exc:
        if getattr(exc, "code", None) == 404:
            row.operstate = "DELETED"
            row.save(update_fields=["operstate", "updated"])
            return
        raise
    groups = sorted(group_names(info))
    if groups:
        for group in groups:
            row.backendjobid = client.disconnect_network(name, group)
            row.backendopcode = "OP_NETWORK_DISCONNECT"
    else:
        row.backendjobid = client.delete_network(name)
        row.backendopcode = "OP_NETWORK_REMOVE"
    row.backendjobstatus = "queued"
    row.save(update_fields=["backendjobid", "backendopcode", "backendjobstatus", "updated"])


def remove_everywhere(network_id: int) -> None:
    from synnefo.cyclades.ganeti.rapi import GanetiApiError

    with transaction.atomic():
        network = Network.objects.select_for_update().get(pk=network_id)
        for row in network.backend_networks.select_related("backend", "network").exclude(operstate="DELETED"):
            if row.backendjobid is None and row.operstate in ("PENDING", "ERROR"):
                row.operstate = "DELETED"  # never reached Ganeti
                row.save(update_fields=["operstate", "updated"])
                continue
            try:
                disconnect_or_remove(row)
            except GanetiApiError as exc:
                _fail(row, f"cannot remove the network: {exc}")
        refresh_state(network)


def remove_from_backend(network: Network, backend: Backend) -> BackendNetwork:
    """Take the network off one backend (in the caller's transaction): the row is DELETED at once
    (no server there may join it any more) and, after commit, Ganeti's network is disconnected
    and removed through the update path. Refused while servers of that backend use it."""
    row = BackendNetwork.objects.select_for_update().filter(network=network, backend=backend).first()
    if row is None or row.operstate == "DELETED":
        raise faults.BadRequest(f"Network {network.id} is not on backend {backend.id}")
    used = NetworkInterface.objects.filter(network=network, machine__backend=backend, machine__deleted=False).count()
    if used:
        raise faults.NetworkInUse(f"Network {network.id} has {used} ports of servers on backend {backend.id}")
    reached = row.backendjobid is not None or row.operstate == "ACTIVE"
    row.operstate = "DELETED"
    row.save(update_fields=["operstate", "updated"])
    refresh_state(network)
    if reached:
        row_id = row.id
        transaction.on_commit(lambda: after_commit(lambda _: _leave(row_id), network.id))
    return row


def _leave(row_id: int) -> None:
    from synnefo.cyclades.ganeti.rapi import GanetiApiError

    with transaction.atomic():
        row = BackendNetwork.objects.select_for_update().select_related("backend", "network").get(pk=row_id)
        if row.backendjobstatus in RUNNING:
            return  # the running job's end continues the removal (apply_event)
        try:
            disconnect_or_remove(row)
        except GanetiApiError as exc:
            row.backendlogmsg = f"cannot remove the network: {exc}"[:2000]
            row.save(update_fields=["backendlogmsg", "updated"])


def remove_now(client, name: str, timeout: float = 120) -> str:
    """Disconnect a Ganeti network from every group and remove it, waiting for each job (for
    what no row follows any more: orphans, a backend being removed)."""
    from synnefo.cyclades.ganeti.rapi import GanetiApiError

    try:
        info = client.get_network(name)
    except GanetiApiError as exc:
        if exc.code == 404:
            return "not in Ganeti"
        raise
    for group in sorted(group_names(info)):
        client.wait_for_job(client.disconnect_network(name, group), timeout=timeout)
    client.wait_for_job(client.delete_network(name), timeout=timeout)
    return "removed from Ganeti"


def group_names(info: dict) -> set[str]:
    return {g[0] if isinstance(g, (list, tuple)) else str(g).split("(")[0] for g in info.get("group_list") or []}


def remove_all_from(backend: Backend) -> list[str]:
    """Every network the backend has, removed from its Ganeti (before the backend goes): one line
    per network. Raises GanetiApiError on the first failure (what is done stays done)."""
    out = []
    client = backend.get_client()
    for row in BackendNetwork.objects.filter(backend=backend).exclude(operstate="DELETED").select_related("network"):
        if row.backendjobid is None and row.operstate != "ACTIVE":
            continue  # never reached Ganeti
        out.append(f"network {row.network_id} ({row.network.backend_id}): {remove_now(client, row.network.backend_id)}")
    return out


def reserve_in_ganeti(network_id: int, add: list[str], remove: list[str]) -> None:
    """Externally reserve (or release) addresses in the Ganeti network on every backend that has
    it (OP_NETWORK_SET_PARAMS), skipping what Ganeti already has that way."""
    from synnefo.cyclades.ganeti.rapi import GanetiApiError

    network = Network.objects.get(pk=network_id)
    for row in network.backend_networks.select_related("backend").filter(operstate="ACTIVE"):
        client = row.backend.get_client()
        try:
            have = set(external_reservations(client.get_network(network.backend_id)))
            to_add, to_remove = [a for a in add if a not in have], [a for a in remove if a in have]
            if to_add or to_remove:
                job = client.modify_network(network.backend_id, add_reserved_ips=to_add or None,
                                            remove_reserved_ips=to_remove or None)
                BackendNetwork.objects.filter(pk=row.pk).update(backendjobid=job, backendopcode="OP_NETWORK_SET_PARAMS",
                                                                backendjobstatus="queued")
        except GanetiApiError as exc:
            log.warning("network %s on backend %s: cannot change reservations: %s", network_id, row.backend_id, exc)


def external_reservations(info: dict) -> list[str]:
    text = info.get("external_reservations") or ""
    values = text if isinstance(text, list) else [v.strip() for v in str(text).split(",")]
    return [v for v in values if v]


def apply_reservations(network: Network, fields: dict) -> None:
    """A successful OP_NETWORK_SET_PARAMS (ours or an administrator's ``gnt-network modify``):
    its reserved addresses mirrored in the IP pool (addresses outside the pools are skipped)."""
    from synnefo.cyclades.logic import pools

    sub4 = networks.subnet4(network)
    if sub4 is None:
        return
    changes = [(a, True) for a in fields.get("add_reserved_ips") or []]
    changes += [(a, False) for a in fields.get("remove_reserved_ips") or []]
    for address, reserve in changes:
        for row in sub4.ip_pools.order_by("id"):
            try:
                with pools.locked("ip", row.id) as pool:
                    if reserve:
                        pool.reserve(address)
                    else:
                        pool.put(address, external=True)
                break
            except pools.InvalidValue:
                continue  # not in this range
            except pools.ValueNotAvailable:
                break  # not reserved: nothing to release


def refresh_state(network: Network) -> None:
    """The network's state from its backends': DELETED when being destroyed and gone
    everywhere; ACTIVE when a backend has it; ERROR when every backend failed; else PENDING."""
    states = list(network.backend_networks.values_list("operstate", flat=True))
    if network.action == "DESTROY":
        state = "DELETED" if all(s == "DELETED" for s in states) else network.state
    elif "ACTIVE" in states:
        state = "ACTIVE"
    elif states and all(s == "ERROR" for s in states):
        state = "ERROR"
    else:
        state = "PENDING"
    if state != network.state:
        network.state = state
        network.save(update_fields=["state", "updated"])


# Ganeti refuses a (dis)connect whose node group gained or lost instances between taking its
# locks and checking them ("Instances in node group ... changed since locks were acquired"): a
# race with servers being created or removed, over once they are. Such a job is submitted again,
# a few times per network, backend and step (counted in this process).
_TRANSIENT = "changed since locks were acquired"
_RETRIES_MAX = 5
_retries: dict[tuple[int, str], int] = {}


def _may_retry(row: BackendNetwork, opcode: str) -> bool:
    if _TRANSIENT not in row.backendlogmsg:
        return False
    key = (row.pk, opcode)
    _retries[key] = _retries.get(key, 0) + 1
    if _retries[key] > _RETRIES_MAX:
        del _retries[key]
        return False
    log.info("network %s on backend %s: %s failed (%s); submitting it again", row.network_id, row.backend_id,
             opcode, _TRANSIENT)
    return True


def apply_event(msg: dict, etime) -> str:
    """A ``ganeti-network-status`` message (in the dispatcher's transaction)."""
    from synnefo.cyclades.ganeti.rapi import GanetiApiError

    network_id = network_id_from_name(msg["network"])
    if network_id is None:
        return f"ignored: network {msg['network']!r} is not ours"
    row = (BackendNetwork.objects.select_for_update(of=("self",)).select_related("network", "backend")
           .filter(network_id=network_id, backend__clustername=msg["cluster"]).first())
    if row is None:
        return f"ignored: network {network_id} has no row for cluster {msg['cluster']!r}"
    if etime < row.backendtime:
        return f"dropped: older than network {network_id}'s last update on {msg['cluster']}"
    opcode, status = msg["operation"], msg["status"]
    row.backendopcode, row.backendjobstatus = opcode, status
    if msg.get("jobId") is not None:
        row.backendjobid = msg["jobId"]
    if status not in ("success", "error", "canceled"):
        row.save(update_fields=["backendopcode", "backendjobstatus", "backendjobid", "updated"])
        return f"applied: network {network_id} {opcode} {status}"
    row.backendtime = etime
    row.backendlogmsg = str(msg.get("logmsg") or (error_text(msg.get("result")) if status == "error" else ""))[:2000]
    # Leaving: the network is being destroyed, or taken off this backend (row DELETED early).
    leaving = row.network.action == "DESTROY" or row.operstate == "DELETED"
    if status == "success":
        _retries.pop((row.pk, opcode), None)
    try:
        if opcode == "OP_NETWORK_SET_PARAMS":
            if status == "success":
                apply_reservations(row.network, msg.get("job_fields") or {})
        elif status != "success":
            if opcode == "OP_NETWORK_REMOVE" and "not known" in row.backendlogmsg:
                row.operstate = "DELETED"
            elif opcode in ("OP_NETWORK_CONNECT", "OP_NETWORK_DISCONNECT") and _may_retry(row, opcode):
                row.save()
                (disconnect_or_remove if leaving else connect_groups)(row)
                row.refresh_from_db()
            elif row.operstate != "DELETED":
                row.operstate = "ERROR"  # a removal from one backend that failed stays DELETED (an orphan to reconcile)
        elif opcode == "OP_NETWORK_ADD":
            row.save()
            if leaving:
                disconnect_or_remove(row)
            else:
                connect_groups(row)
            row.refresh_from_db()
        elif opcode == "OP_NETWORK_CONNECT" and not leaving:
            row.operstate = "ACTIVE"
        elif opcode in ("OP_NETWORK_DISCONNECT", "OP_NETWORK_CONNECT") and leaving:
            row.save()
            disconnect_or_remove(row)
            row.refresh_from_db()
        elif opcode == "OP_NETWORK_REMOVE" and leaving:
            row.operstate = "DELETED"
        elif opcode == "OP_NETWORK_REMOVE":
            # removed in Ganeti by someone else: reconcile-networks creates it again
            row.operstate = "ERROR"
            row.backendlogmsg = "removed in Ganeti, not by Cyclades"
    except GanetiApiError as exc:
        if row.operstate != "DELETED":
            row.operstate = "ERROR"
        row.backendlogmsg = f"{opcode} succeeded, the next step failed: {exc}"[:2000]
    row.save()
    refresh_state(row.network)
    return f"applied: network {network_id} {opcode} {status} on backend {row.backend_id} -> {row.operstate}"
