"""Reconciliation of networks: the database's networks against each backend's Ganeti networks
(SYNNEFO.md 4.5, docs/networks.md "Reconciling networks").

Per online backend, G = Ganeti's networks named ``<BACKEND_PREFIX_ID>net-<id>`` (bulk), the
node groups, and the database's ``BackendNetwork`` rows. Found:

- ``orphan``: in G, but the network is unknown or deleted (and its row, if any, is not being
  removed). Fix: disconnect from every group, then remove (jobs waited for here).
- ``parted``: a live network in G without a row for this backend. Fix: the row.
- ``missing``: a row whose network is not in G. Fix: a network being destroyed gets a simulated
  successful removal; any other is created again (the row back to PENDING, then add and connect
  through the update path).
- ``hanging``: in G but not connected to every node group. Fix: connect the missing groups.
- ``unsynced``: present and connected everywhere but the row is not ACTIVE. Fix: a simulated
  successful connect.
- ``reservations``: addresses Ganeti reserves externally (outside its network, broadcast and
  gateway) that the subnet's IP pool does not. Fix: reserve them externally in the pool.

Simulated events go through the dispatcher's own handler (``apply_network_status``), so the row
and the network's state follow the same rules as real events. Rows with a job still running are
skipped (their event is on its way).
"""

from __future__ import annotations

import ipaddress
import logging
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction

from synnefo.cyclades.ganeti.rapi import GanetiApiError
from synnefo.cyclades.logic import callbacks, network_backends, networks, pools
from synnefo.cyclades.models import Backend, BackendNetwork, Network

log = logging.getLogger(__name__)

KINDS = ("orphan", "parted", "missing", "hanging", "unsynced", "reservations")
RUNNING = network_backends.RUNNING
SIMULATED_LOGMSG = "Reconciliation: simulated Ganeti event"


@dataclass
class Finding:
    kind: str
    network: str
    detail: str
    fixed: bool = False
    outcome: str = ""


@dataclass
class Report:
    backend: int
    clustername: str
    findings: list[Finding] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def of(self, kind: str) -> list[Finding]:
        return [f for f in self.findings if f.kind == kind]


def _simulate(backend: Backend, name: str, opcode: str) -> str:
    now = time.time()
    msg = {"type": "ganeti-network-status", "network": name, "cluster": backend.clustername, "operation": opcode,
           "status": "success", "jobId": 0, "event_time": [int(now), int(now % 1 * 1e6)], "logmsg": SIMULATED_LOGMSG,
           "job_fields": {}}
    with transaction.atomic():
        return callbacks.apply_network_status(msg)



def _pool_reservations(network: Network, info: dict) -> list[str]:
    """Ganeti's external reservations that the network's IP pool does not reserve."""
    sub4 = networks.subnet4(network)
    if sub4 is None:
        return []
    net = ipaddress.ip_network(sub4.cidr)
    implicit = {str(net.network_address), str(net.broadcast_address), sub4.gateway}
    missing = []
    for address in network_backends.external_reservations(info):
        if address in implicit:
            continue
        for row in sub4.ip_pools.order_by("id"):
            pool = pools.IPPool(row)
            try:
                if pool._bit(pool.reserved, pool._index(address)):
                    missing.append(address)
                break
            except pools.InvalidValue:
                continue
    return missing


def reconcile_backend(backend: Backend, fix: set[str]) -> Report:
    report = Report(backend.id, backend.clustername)
    prefix = f"{settings.BACKEND_PREFIX_ID}net-"
    try:
        client = backend.get_client()
        ganeti = {n["name"]: n for n in client.get_networks(bulk=True) if str(n.get("name", "")).startswith(prefix)}
        groups = {g["name"] for g in client.get_groups(bulk=False)}
    except GanetiApiError as exc:
        report.errors.append(f"cannot read the backend: {exc}")
        return report
    rows = {r.network_id: r for r in BackendNetwork.objects.filter(backend=backend).select_related("network")}

    def found(kind: str, name: str, detail: str, repair=None) -> None:
        finding = Finding(kind, name, detail)
        report.findings.append(finding)
        if repair is None or kind not in fix:
            return
        try:
            finding.outcome = repair() or "fixed"
            finding.fixed = True
        except Exception as exc:  # noqa: BLE001 - reported; the other findings go on
            finding.outcome = f"not fixed: {exc}"
            report.errors.append(f"{name}: {exc}")

    for name, info in sorted(ganeti.items()):
        network_id = network_backends.network_id_from_name(name)
        network = Network.objects.filter(pk=network_id).first() if network_id is not None else None
        row = rows.get(network_id)
        if network is None or network.deleted or (row is not None and row.operstate == "DELETED"):
            if row is not None and row.backendjobstatus in RUNNING:
                continue  # being removed
            why = "no live network in the database" if network is None or network.deleted else "removed from this backend"
            found("orphan", name, why, lambda name=name: network_backends.remove_now(client, name))
            continue
        if row is None:
            def part(network=network, info=info):
                state = "ACTIVE" if groups <= network_backends.group_names(info) else "PENDING"
                BackendNetwork.objects.create(network=network, backend=backend, operstate=state,
                                              mac_prefix=info.get("mac_prefix") or "")
                network_backends.refresh_state(network)
                return f"row created ({state})"

            found("parted", name, "in Ganeti, no row for this backend", part)
            continue
        if row.backendjobstatus in RUNNING:
            continue
        lacking = groups - network_backends.group_names(info)
        if lacking:
            def connect(row=row, lacking=lacking):
                for group in sorted(lacking):
                    client.connect_network(name, group, network.mode, network.link or "", conflicts_check=True)
                return f"connect jobs for {', '.join(sorted(lacking))}"

            found("hanging", name, f"not connected to {', '.join(sorted(lacking))}", connect)
        elif row.operstate != "ACTIVE":
            found("unsynced", name, f"present and connected, but {row.operstate} in the database",
                  lambda: _simulate(backend, name, "OP_NETWORK_CONNECT"))
        extra = _pool_reservations(network, info)
        if extra:
            found("reservations", name, f"reserved in Ganeti, not in the pool: {', '.join(extra)}",
                  lambda network=network, extra=extra: network_backends.apply_reservations(
                      network, {"add_reserved_ips": extra}))

    for network_id, row in sorted(rows.items()):
        name = row.network.backend_id
        if name in ganeti or row.operstate == "DELETED" or row.backendjobstatus in RUNNING:
            continue
        if row.operstate == "PENDING" and row.backendjobid is None:
            continue  # waiting for its subnet (or never submitted): not drift
        if row.network.action == "DESTROY" or row.network.deleted:
            found("missing", name, "gone from Ganeti while being removed",
                  lambda name=name: _simulate(backend, name, "OP_NETWORK_REMOVE"))
        else:
            def recreate(row=row):
                with transaction.atomic():
                    network_backends.reset(BackendNetwork.objects.select_for_update().get(pk=row.pk))
                network_backends.submit_pending(row.network_id)
                return "created again (add, then connect)"

            found("missing", name, f"{row.operstate} in the database, absent from Ganeti", recreate)
    return report


def reconcile(backends, fix) -> list[Report]:
    return [reconcile_backend(b, set(fix)) for b in backends]


# --- pools ------------------------------------------------------------------------------------

def _rebuild(kind: str, pool_id, used: set[str], fix: bool, out: list[str]) -> None:
    """Compare a pool's allocation map with the values in use; ``fix`` overwrites it."""
    with pools.locked(kind, pool_id) as pool:
        expected = (1 << pool.size) - 1
        for value in used:
            try:
                expected &= ~(1 << pool._index(value))
            except pools.InvalidValue:
                continue  # not a value of this pool (an administrator's own link, another range)
        if expected == pool.available:
            return
        leaked = pool.values(pool.available | ~expected & ((1 << pool.size) - 1), limit=20)
        leaked = [v for v in leaked if v not in used]
        unaccounted = [v for v in used if _in(pool, v) and pool._bit(pool.available, pool._index(v))]
        what = []
        if leaked:
            what.append(f"allocated but unused: {', '.join(sorted(leaked)[:20])}")
        if unaccounted:
            what.append(f"in use but free in the pool: {', '.join(sorted(unaccounted)[:20])}")
        out.append(f"{kind} pool {pool_id}: {'; '.join(what)}" + (" -> FIXED" if fix else ""))
        if fix:
            pool.available = expected
        else:
            raise _Unchanged


class _Unchanged(Exception):
    """Leave the pool as it was (report only)."""


def _in(pool, value) -> bool:
    try:
        pool._index(value)
        return True
    except pools.InvalidValue:
        return False


def _duplicates(values: list[tuple[int, str]], what: str, out: list[str]) -> None:
    seen: dict[str, list[int]] = {}
    for network_id, value in values:
        seen.setdefault(value, []).append(network_id)
    for value, ids in sorted(seen.items()):
        if len(ids) > 1:
            out.append(f"{what} {value} is used by networks {', '.join(map(str, ids))} (not fixable here)")


def reconcile_pools(fix: bool) -> list[str]:
    """Findings (lines) about the bridge, MAC-prefix and IP pools (SYNNEFO.md 4.5)."""
    from synnefo.cyclades.models import BridgePoolTable, IPAddress, IPPoolTable, MacPrefixPoolTable

    out: list[str] = []
    live = Network.objects.filter(deleted=False)
    links = list(live.filter(flavor="PHYSICAL_VLAN").values_list("id", "link"))
    prefixes = list(live.filter(flavor="MAC_FILTERED").values_list("id", "mac_prefix"))
    _duplicates(links, "link", out)
    _duplicates(prefixes, "MAC prefix", out)
    jobs = [("bridge", row_id, {v for _, v in links if v}) for row_id in BridgePoolTable.objects.values_list("id", flat=True)]
    jobs += [("mac-prefix", row_id, {v for _, v in prefixes}) for row_id in MacPrefixPoolTable.objects.values_list("id", flat=True)]
    for row in IPPoolTable.objects.exclude(subnet=None).order_by("id"):
        used = set(IPAddress.objects.filter(subnet_id=row.subnet_id).values_list("address", flat=True))
        jobs.append(("ip", row.id, used))
    for kind, row_id, used in jobs:
        try:
            _rebuild(kind, row_id, used, fix, out)
        except _Unchanged:
            pass
    return out
