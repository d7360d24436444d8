"""Backend bookkeeping: creation (RAPI checked first), resource statistics from RAPI."""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from synnefo.cyclades.ganeti.rapi import GanetiApiError, GanetiRapiClient
from synnefo.cyclades.models import Backend, active_vm_count

log = logging.getLogger(__name__)

STAT_FIELDS = ("mfree", "mtotal", "dfree", "dtotal", "pinst_cnt", "ctotal")


class BackendInUse(Exception):
    pass


def resources_from_nodes(nodes: list[dict]) -> dict:
    """Sum the statistics of nodes that can take VMs now (vm_capable, online, not drained,
    reporting CPUs); a node without an answer reports None, counted as 0."""
    totals = dict.fromkeys(STAT_FIELDS, 0)
    for node in nodes:
        if not node.get("vm_capable", True) or node.get("offline") or node.get("drained") or not node.get("cnodes"):
            continue
        for field in STAT_FIELDS:
            totals[field] += int(node.get(field) or 0)
    return totals


def disk_templates_from_info(info: dict) -> list[str]:
    """Templates enabled on the cluster and allowed by its instance policy, in Ganeti's order."""
    enabled = info.get("enabled_disk_templates") or []
    allowed = (info.get("ipolicy") or {}).get("disk-templates")
    return [t for t in enabled if allowed is None or t in allowed]


def read_status(client: GanetiRapiClient) -> dict:
    info = client.get_info()
    fields = resources_from_nodes(client.get_nodes(bulk=True))
    fields["disk_templates"] = disk_templates_from_info(info)
    fields["hypervisor"] = info.get("default_hypervisor") or "kvm"
    fields["cluster_name"] = info.get("name")
    return fields


def update_status(backend: Backend) -> Backend:
    """Refresh statistics and disk templates from RAPI (raises GanetiApiError on failure)."""
    status = read_status(backend.get_client())
    for field in STAT_FIELDS:
        setattr(backend, field, status[field])
    backend.disk_templates = status["disk_templates"]
    backend.updated = timezone.now()
    backend.save(update_fields=[*STAT_FIELDS, "disk_templates", "updated"])
    return backend


def create_backend(clustername, port, username, password, *, host="", ca_file="", insecure=False,
                   hypervisor=None, public=True, check=True) -> Backend:
    """Add a backend. Its RAPI is checked first (credentials, TLS) unless check=False; a new
    backend starts drained so no VM goes there before the operator says so."""
    backend = Backend(clustername=clustername, host=host or "", port=port, username=username or "",
                      ca_file=ca_file or "", insecure=insecure, drained=True, public=public)
    backend.password = password or ""
    status = None
    if check:
        status = read_status(backend.get_client())
    with transaction.atomic():
        if status:
            for field in STAT_FIELDS:
                setattr(backend, field, status[field])
            backend.disk_templates = status["disk_templates"]
            backend.hypervisor = hypervisor or status["hypervisor"]
            backend.updated = timezone.now()
        elif hypervisor:
            backend.hypervisor = hypervisor
        backend.save()
        from synnefo.cyclades.logic.network_backends import plan_private_networks_on

        plan_private_networks_on(backend)  # private networks live on every backend
    log.info("backend %s added (%s:%s, user %s), drained", backend.id, backend.rapi_host, port, username)
    return backend


def remove_backend(backend: Backend) -> list[str]:
    """Remove a backend without active VMs, nor detached volumes whose disks it keeps. Its
    networks and Cyclades' helper instances are removed from its Ganeti first (waited for;
    skipped when the backend is offline); a Ganeti failure keeps the backend (BackendInUse).
    Returns what was done, one line per network or helper."""
    from synnefo.cyclades.logic import network_backends, volumes
    from synnefo.cyclades.models import Network

    count = active_vm_count(backend)
    if count:
        raise BackendInUse(f"backend {backend.id} still hosts {count} active VM(s); move or delete them first")
    kept = volumes.kept_disk_volumes(backend)
    if kept:
        raise BackendInUse(f"backend {backend.id} keeps the disks of detached volumes {', '.join(map(str, kept))}; "
                           "attach them to a server or delete them first")
    done = []
    if backend.offline:
        done.append("backend is offline: its networks and helper instances are left in its Ganeti")
    else:
        for what, remove in (("networks", lambda: network_backends.remove_all_from(backend)),
                             ("helper instances", lambda: volumes.remove_helpers(backend.get_client()))):
            try:
                done += remove()
            except GanetiApiError as exc:
                raise BackendInUse(f"backend {backend.id} kept: cannot remove its {what} from Ganeti: {exc}; fix it, "
                                   "or mark the backend offline (backend-modify --offline=True) to remove it without "
                                   "Ganeti") from None
    with transaction.atomic():
        locked = Backend.objects.select_for_update().get(pk=backend.pk)
        count = active_vm_count(locked)
        if count:
            raise BackendInUse(f"backend {backend.id} still hosts {count} active VM(s); move or delete them first")
        affected = list(Network.objects.filter(backend_networks__backend=locked).distinct())
        locked.delete()
        for network in affected:
            network_backends.refresh_state(network)
    log.info("backend %s (%s) removed", backend.id, backend.clustername)
    return done


def ganeti_disk(volume_type, size_mib: int, *, name: str | None = None) -> dict:
    """The Ganeti disk entry (instance create, disk add) of a volume of ``volume_type``: the
    size in MiB, the volume's name (``snf-vol-<id>``; ExtStorage scripts get it as
    ``VOL_CNAME``) and, for ``ext_<provider>`` types, the provider. An ``ext_archipelago``
    volume's map (a thin clone of its image or snapshot, or empty) is made in the volume store by
    Cyclades before the job (logic/volumes.py), and the provider's create adopts it by name."""
    disk = {"size": size_mib}
    if name:
        disk["name"] = name
    if volume_type.provider:
        disk["provider"] = volume_type.provider
    return disk


def disk_change(op: str, disk_name: str, disk: dict | None = None) -> dict:
    """``modify_instance`` arguments that add (``add``: ``disk`` from ganeti_disk), remove (the
    disk and its data) or detach (Ganeti keeps the disk, unattached) one disk of an instance, or
    attach a disk Ganeti keeps detached (by name). Hotplugged when the hypervisor can (Ganeti
    refuses to remove a disk of a running instance otherwise); else the change applies at the
    next boot."""
    if op == "add":
        return {"disks": [["add", -1, disk]], "hotplug_if_possible": True}
    if op == "attach":
        return {"disks": [["attach", -1, {"name": disk_name}]], "hotplug_if_possible": True}
    if op in ("remove", "detach"):
        return {"disks": [[op, disk_name, {}]], "hotplug_if_possible": True}
    raise ValueError(f"unknown disk change {op!r}")
