"""Reconciliation of servers: compare the database with each Ganeti backend, report the drift,
and fix it through the dispatcher's own rules (SYNNEFO.md 4.5).

Every fix is a *simulated Ganeti event*: a ``ganeti-op-status`` message shaped like eventd's
(the server's real pending job id when the fix settles that job, else job 0; ``event_time``
now) applied by :func:`callbacks.apply_op_status` in one transaction. So a stale server
becomes DELETED and gives its quota back, an unrequested shutdown releases CPU and RAM, a
pending task's commission is accepted or rejected, exactly as if the dispatcher had seen the
event. Only orphans are fixed on the Ganeti side (a RAPI delete job).

What is found (per backend; D = live servers of the backend in the database, G = Ganeti's
instances named ``BACKEND_PREFIX_ID<id>``):

- ``pending_task``: a server's task (START, STOP, REBOOT, RESIZE, DESTROY) whose Ganeti job
  has ended or vanished, so its event was lost. Fix: replay the job's end (its opcode, status
  and parameters; a vanished job counts as failed).
- ``stale``: in D, not in G (a BUILD server only once its creation job succeeded; an ERROR
  server only when it was being deleted). Fix: a simulated successful removal.
- ``build_error``: a BUILD server without instance whose creation job failed or vanished. Fix:
  a simulated failed creation (ERROR, as the dispatcher does; the user deletes it).
- ``orphan``: in G, no live server (unknown or deleted id). Fix: delete the instance.
- ``unsynced``: the database's state differs from Ganeti's (``oper_state`` true is STARTED,
  else STOPPED; BUILD differs from both). Fix: a simulated successful creation for BUILD, then
  a simulated startup or shutdown.
- ``unsynced_flavor``: Ganeti's ``vcpus``/``maxmem`` differ from the flavor's. Fix: a simulated
  SET_PARAMS with those beparams (needs a flavor of that shape with the same disk and volume
  type; otherwise it is reported as not fixable).
- ``unsynced_nics``: the server's ports and Ganeti's NICs differ (a port whose NIC is gone, a
  different MAC, IPv4 address or firewall profile, a NIC no port knows; see
  ``server_nics.nic_drift``). Fix: a simulated SET_PARAMS carrying Ganeti's NICs, so the
  dispatcher's NIC sync repairs the ports and adopts the NICs it can.
- ``unsynced_disks``: the server's volumes (live, not pending) and Ganeti's disks differ, by
  disk name (``disk.names``, the volume's ``backend_volume_uuid``): a different size
  (``disk.sizes``, grown in Ganeti: fix, the volume takes Ganeti's size, rounded up to GiB, and
  the difference is charged), a different position (fix: the volume takes Ganeti's index), a
  volume whose disk is gone (fix: a detachable volume whose map is still in the volume store
  becomes available, on no server; any other is deleted and its quota given back; a root disk is
  not fixable), a disk no volume names (reported only: adopting it needs a name and an owner's
  decision).

- ``kept_disk``: a disk Ganeti keeps detached (``detached_on`` this backend) that no live
  volume owns: its volume was deleted while the backend was offline, or before Cyclades removed
  such disks (RAPI cannot list detached disks: the deleted volume row is what remembers it); or
  a volume DELETING such a disk whose removal job ended unheard. Fix: the helper's removal job
  (``volumes.remove_kept_disk``; the dispatcher forgets the disk when it ends), or the lost
  job's end replayed (``volumes.kept_disk_job_ended``).

Servers whose pending job is still running are skipped (their event is on its way). A server
that looks drifted in the bulk snapshot is read again alone before it is reported, so events
applied while the snapshot was taken are not mistaken for drift.
"""

from __future__ import annotations

import datetime
import functools
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from django.db import connection, connections, transaction
from django.db.models import Q
from django.utils import timezone

from synnefo.common import faults
from synnefo.cyclades.ganeti.eventd import INSTANCE_FIELDS
from synnefo.cyclades.ganeti.rapi import JOB_FINAL, GanetiApiError
from synnefo.cyclades.logic import callbacks, quotas, server_nics, volumes
from synnefo.cyclades.models import Backend, VirtualMachine, Volume

log = logging.getLogger(__name__)

SIMULATED_LOGMSG = "Reconciliation: simulated Ganeti event"
TASK_OPCODES = {"BUILD": "OP_INSTANCE_CREATE", "START": "OP_INSTANCE_STARTUP", "STOP": "OP_INSTANCE_SHUTDOWN",
                "REBOOT": "OP_INSTANCE_REBOOT", "RESIZE": "OP_INSTANCE_SET_PARAMS", "DESTROY": "OP_INSTANCE_REMOVE"}
# What each --fix-* option repairs.
FIXES = {"stale": ("stale",), "orphans": ("orphan",), "unsynced": ("unsynced", "build_error"),
         "unsynced_flavors": ("unsynced_flavor",), "unsynced_nics": ("unsynced_nics",),
         "unsynced_disks": ("unsynced_disks",), "pending_tasks": ("pending_task",), "kept_disks": ("kept_disk",)}
KINDS = ("pending_task", "stale", "build_error", "orphan", "unsynced", "unsynced_flavor", "unsynced_nics",
         "unsynced_disks", "kept_disk")
# SQLite has one writer at a time and its shared-cache (test) databases fail instead of
# waiting: with --parallel, fixes of different backends take turns there.
_sqlite_writes = threading.Lock()


class ReconciliationError(Exception):
    """A fix that cannot be applied (reported; the other fixes go on)."""


@dataclass
class Finding:
    kind: str
    instance: str
    detail: str
    server: int | None = None
    fixed: bool = False
    outcome: str = ""


@dataclass
class BackendReport:
    backend: int
    clustername: str
    findings: list[Finding] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def of(self, kind: str) -> list[Finding]:
        return [f for f in self.findings if f.kind == kind]


def ganeti_state(instance: dict) -> str:
    return "STARTED" if instance.get("oper_state") else "STOPPED"


def ganeti_shape(instance: dict) -> tuple[int | None, int | None]:
    beparams = instance.get("beparams") or {}
    return beparams.get("vcpus"), beparams.get("maxmem", beparams.get("memory"))


class _Jobs:
    """Job status from RAPI, read once per job; None when Ganeti does not know it (archived
    long ago or never submitted)."""

    def __init__(self, client):
        self.client = client
        self.cache: dict[int, dict | None] = {}

    def get(self, job_id) -> dict | None:
        if not job_id:
            return None
        if job_id not in self.cache:
            try:
                self.cache[job_id] = self.client.get_job_status(job_id)
            except GanetiApiError as exc:
                if exc.code != 404:
                    raise
                self.cache[job_id] = None
        return self.cache[job_id]

    def running(self, job_id) -> bool:
        job = self.get(job_id)
        return job is not None and job.get("status") not in JOB_FINAL


def _describe(job: dict | None) -> str:
    return job["status"] if job else "not known to Ganeti"


# ------------------------------------------------------------------------- simulated events


def _locked(vm_id: int) -> VirtualMachine | None:
    return (VirtualMachine.objects.select_for_update(of=("self",)).select_related("flavor__volume_type", "backend")
            .filter(pk=vm_id, deleted=False).first())


def _event_time(vm: VirtualMachine) -> list[int]:
    """Now, or just after the server's last applied event (the ordering guard needs newer)."""
    when = max(timezone.now(), vm.backendtime + datetime.timedelta(microseconds=1))
    return [int(when.timestamp()), when.microsecond]


def simulate(vm: VirtualMachine, opcode: str, status: str, job_id: int = 0, job_fields: dict | None = None,
             **extra) -> str:
    """Apply a ganeti-op-status message like eventd's through the dispatcher's callback
    (``extra``: more message fields, e.g. ``instance_nics``)."""
    msg = {"type": "ganeti-op-status", "instance": vm.backend_vm_id, "operation": opcode, "jobId": job_id or 0,
           "status": status, "cluster": vm.backend.clustername if vm.backend else "", "logmsg": SIMULATED_LOGMSG,
           "result": None, "event_time": _event_time(vm), "job_fields": job_fields or {}, **extra}
    outcome = callbacks.apply_op_status(msg)
    log.info("reconciliation: server %s %s %s (job %s): %s", vm.id, opcode, status, job_id or 0, outcome)
    return outcome


def _atomic(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if connection.vendor == "sqlite":
            with _sqlite_writes, transaction.atomic():
                return fn(*args, **kwargs)
        with transaction.atomic():
            return fn(*args, **kwargs)

    return wrapper


@_atomic
def fix_pending_task(vm_id: int, job: dict | None) -> str:
    vm = _locked(vm_id)
    if vm is None or not vm.task:
        return "already settled"
    if job is None:
        opcode, status, fields = TASK_OPCODES.get(vm.task, "OP_INSTANCE_STARTUP"), "error", {}
    else:
        op = (job.get("ops") or [{}])[-1]
        opcode, status = op.get("OP_ID") or TASK_OPCODES.get(vm.task, ""), job["status"]
        fields = {k: op[k] for k in INSTANCE_FIELDS if k in op}
    outcome = simulate(vm, opcode, status, vm.task_job_id, fields)
    vm = _locked(vm_id)
    if vm is not None and vm.task:  # the event was older than the server's state: drop the task
        quotas.decide(vm, False)
        vm.task = vm.task_job_id = None
        vm.save()
        outcome += "; task cleared, its commission rejected"
    return outcome


@_atomic
def fix_stale(vm_id: int) -> str:
    vm = _locked(vm_id)
    if vm is None:
        return "already deleted"
    job_id = 0
    if vm.task == "DESTROY":
        job_id = vm.task_job_id  # the deletion's own commission is accepted with it
    elif vm.task:
        quotas.decide(vm, False)  # an action on a server that is gone: its commission returns
        vm.task = vm.task_job_id = None
        vm.save()
    return simulate(vm, "OP_INSTANCE_REMOVE", "success", job_id)


@_atomic
def fix_build_error(vm_id: int) -> str:
    vm = _locked(vm_id)
    if vm is None or vm.operstate != "BUILD":
        return "no longer building"
    return simulate(vm, "OP_INSTANCE_CREATE", "error", vm.task_job_id if vm.task == "BUILD" else 0)


@_atomic
def fix_unsynced(vm_id: int, state: str) -> str:
    vm = _locked(vm_id)
    if vm is None or vm.operstate == state:
        return "already in sync"
    outcomes = []
    if vm.operstate == "BUILD":
        outcomes.append(simulate(vm, "OP_INSTANCE_CREATE", "success", vm.task_job_id if vm.task == "BUILD" else 0))
        vm = _locked(vm_id)
    if vm.operstate != state:
        opcode = "OP_INSTANCE_STARTUP" if state == "STARTED" else "OP_INSTANCE_SHUTDOWN"
        outcomes.append(simulate(vm, opcode, "success"))
    return "; ".join(outcomes)


@_atomic
def fix_unsynced_flavor(vm_id: int, cpu: int, ram: int) -> str:
    vm = _locked(vm_id)
    if vm is None or vm.flavor is None:
        return "no flavor to fix"
    outcome = simulate(vm, "OP_INSTANCE_SET_PARAMS", "success", 0, {"beparams": {"vcpus": cpu, "maxmem": ram}})
    vm = _locked(vm_id)
    if (vm.flavor.cpu, vm.flavor.ram) != (cpu, ram):
        raise ReconciliationError(f"no flavor with {cpu} CPUs, {ram} MiB RAM, {vm.flavor.disk} GiB "
                                  f"{vm.flavor.volume_type.disk_template} disk; create it, or fix the instance")
    return outcome


@_atomic
def fix_unsynced_nics(vm_id: int, nics: list[dict]) -> str:
    """A simulated successful SET_PARAMS carrying Ganeti's NICs: the dispatcher's NIC sync
    (server_nics.nic_drift) repairs the ports, adopts unknown NICs, frees addresses."""
    vm = _locked(vm_id)
    if vm is None:
        return "server gone"
    outcome = simulate(vm, "OP_INSTANCE_SET_PARAMS", "success", 0, {}, instance_nics=nics)
    vm = _locked(vm_id)
    left = [d for d, repair in server_nics.nic_drift(vm, nics) if repair is None]
    if left:
        outcome += f"; left as is: {'; '.join(left)}"
    return outcome


def ganeti_disks(instance: dict) -> dict[str, tuple[int, int]] | None:
    """Ganeti's disks of the instance: name (``disk/<index>`` for an unnamed one) -> (index,
    size in MiB); None if not in the answer."""
    names, sizes = instance.get("disk.names"), instance.get("disk.sizes")
    if names is None or sizes is None:
        return None
    return {name or f"disk/{index}": (index, int(size)) for index, (name, size) in enumerate(zip(names, sizes))}


def _disk_of(volume: Volume, disks: dict[str, tuple[int, int]]) -> str | None:
    """The key of a volume's Ganeti disk: the disk named after it, else an unnamed disk at its
    index (instances imported from Ganeti, disks made before volumes named them)."""
    if volume.backend_volume_uuid in disks:
        return volume.backend_volume_uuid
    unnamed = f"disk/{volume.index}"
    return unnamed if volume.index is not None and unnamed in disks else None


def _unknown_disks(vm: VirtualMachine, disks: dict[str, tuple[int, int]]) -> list[str]:
    """Ganeti's disks that are no volume of the server, in Ganeti's order."""
    known = {_disk_of(volume, disks) for volume in Volume.objects.filter(machine=vm, deleted=False)}
    return [name for name, _ in sorted(disks.items(), key=lambda item: item[1][0]) if name not in known]


def _server_volumes(vm: VirtualMachine):
    """The volumes a settled server has in Ganeti (pending ones have a job on the way)."""
    from synnefo.cyclades.logic import volumes

    return (Volume.objects.filter(machine=vm, deleted=False).exclude(status__in=volumes.PENDING)
            .exclude(status="ERROR").select_related("volume_type").order_by("index", "id"))


def disk_drift(vm: VirtualMachine, disks: dict[str, tuple[int, int]]) -> list[str]:
    drift = []
    for volume in _server_volumes(vm):
        name = volume.backend_volume_uuid
        key = _disk_of(volume, disks)
        if key is None:
            drift.append(f"volume {volume.id} ({name}, {volume.size} GiB) has no Ganeti disk")
            continue
        index, mib = disks[key]
        if mib != volume.size * 1024:
            drift.append(f"volume {volume.id} ({name}) has {volume.size} GiB, Ganeti's disk {mib} MiB")
        if index != volume.index:
            drift.append(f"volume {volume.id} ({name}) is disk {volume.index}, Ganeti's disk {index}")
    for name in _unknown_disks(vm, disks):
        index, mib = disks[name]
        drift.append(f"Ganeti disk {index} {name} ({mib} MiB) is no volume of the server")
    return drift


@_atomic
def fix_unsynced_disks(vm_id: int, disks: dict[str, tuple[int, int]]) -> str:
    """Volumes take Ganeti's sizes and positions; volumes whose disk is gone leave the server
    (available, if their map is in the volume store) or are deleted (quota given back)."""
    from synnefo.cyclades.logic import volumes

    vm = _locked(vm_id)
    if vm is None:
        return "server gone"
    done, left = [], []
    for volume in _server_volumes(vm).select_for_update(of=("self",)):
        key = _disk_of(volume, disks)
        if key is None:
            if volume.index == 0:
                left.append(f"root volume {volume.id} has no Ganeti disk")
                continue
            in_store = volumes.in_store(volume.volume_type) and volume.origin and volumes._store().exists(volume.origin)
            if in_store and volumes.detachable(volume.volume_type):
                volume.status, volume.machine, volume.index = "AVAILABLE", None, None
                volume.save()
                done.append(f"volume {volume.id} available, on no server")
            else:
                quotas.issue(vm, {"cyclades.disk": -volume.size * quotas.GiB}, f"volume {volume.id} gone from",
                             accept=True, force=True)
                volume.deleted, volume.status, volume.machine, volume.index = True, "DELETED", None, None
                volume.save()
                done.append(f"volume {volume.id} deleted")
            continue
        index, mib = disks[key]
        size = -(-mib // 1024)
        if size != volume.size:
            quotas.issue(vm, {"cyclades.disk": (size - volume.size) * quotas.GiB},
                         f"volume {volume.id} resized in Ganeti on", accept=True, force=True)
            done.append(f"volume {volume.id} {volume.size} -> {size} GiB")
            volume.size = size
        if index != volume.index:
            done.append(f"volume {volume.id} disk {volume.index} -> {index}")
            volume.index = index
        volume.save()
    left += [f"Ganeti disk {name} is no volume" for name in _unknown_disks(vm, disks)]
    if left and not done:
        raise ReconciliationError("; ".join(left) + " (not fixable here)")
    return "; ".join(done) + (f"; left as is: {'; '.join(left)}" if left else "")


# ------------------------------------------------------------------------------ detection


def _live(backend: Backend):
    return VirtualMachine.objects.filter(backend=backend, deleted=False).select_related("flavor__volume_type")


def reconcile_backend(backend: Backend, fix=()) -> BackendReport:
    """Compare one backend with the database; apply the fixes named in ``fix`` (keys of FIXES)."""
    from synnefo.cyclades.ganeti import simulated

    fix_kinds = {kind for name in fix for kind in FIXES[name]}
    report = BackendReport(backend.id, backend.clustername)
    if backend.host == simulated.SIMULATED_HOST and not simulated.runs_here(backend.clustername):
        # Its instances live in the memory of the process that simulates it (synnefo up): seen
        # from here it is empty, and every server would look stale.
        report.skipped.append("the whole backend: a simulated cluster is only known to the process running it")
        return report
    try:
        client = backend.get_client()
        instances = client.get_instances(bulk=True)
    except GanetiApiError as exc:
        report.errors.append(f"cannot read the instances: {exc}")
        return report
    ours = {}
    for instance in instances:
        vm_id = callbacks.vm_id_from_name(instance.get("name"))
        if vm_id is not None:
            ours[vm_id] = instance
    jobs = _Jobs(client)

    def found(finding: Finding, action) -> None:
        report.findings.append(finding)
        if finding.kind not in fix_kinds:
            return
        try:
            finding.outcome = action()
            finding.fixed = True
        except (ReconciliationError, GanetiApiError, faults.Fault) as exc:
            finding.outcome = f"not fixed: {exc}"
            report.errors.append(f"{finding.instance}: {finding.kind} not fixed: {exc}")

    try:
        # 1. Tasks whose job ended without the dispatcher hearing of it: settled first, so the
        #    comparison below sees the states those jobs left.
        for vm in _live(backend).filter(task__isnull=False).exclude(task="BUILD"):
            if jobs.running(vm.task_job_id):
                continue
            job = jobs.get(vm.task_job_id)
            found(Finding("pending_task", vm.backend_vm_id, f"task {vm.task}, job {vm.task_job_id} {_describe(job)}", vm.id),
                  lambda vm=vm, job=job: fix_pending_task(vm.id, job))
        # 2. The database against Ganeti. The bulk read is a snapshot: a server whose drift could
        #    come from events applied since (or a job that ended since) is read again, alone,
        #    and only drift that is still there is reported.
        live = list(_live(backend))
        for vm in live:
            if vm.task and jobs.running(vm.task_job_id):
                report.skipped.append(f"{vm.backend_vm_id}: task {vm.task}, job {vm.task_job_id} still running")
                continue
            if vm.task and vm.task != "BUILD":
                continue  # a pending task left unfixed above: reported there
            if not _compare(vm, ours.get(vm.id), jobs):
                continue
            vm = _live(backend).filter(pk=vm.id).first()
            fresh = _Jobs(client)
            if vm is None or (vm.task and fresh.running(vm.task_job_id)):
                continue
            for finding, action in _compare(vm, _instance(client, vm.backend_vm_id), fresh):
                found(finding, action)
        _kept_disks(backend, jobs, found)
        live_ids = {vm.id for vm in live}
        for vm_id, instance in sorted(ours.items()):
            if vm_id not in live_ids:
                name = instance["name"]
                why = _orphan_reason(vm_id)
                found(Finding("orphan", name, f"Ganeti instance, {why} (Ganeti {ganeti_state(instance)})", None),
                      lambda name=name: _delete_orphan(client, name))
    except GanetiApiError as exc:
        report.errors.append(f"RAPI failed: {exc}")
    return report


def _kept_disks(backend: Backend, jobs: _Jobs, found) -> None:
    kept = (Volume.objects.filter(detached_on=backend).filter(Q(deleted=True) | Q(status="DELETING", machine=None))
            .select_related("volume_type").order_by("id"))
    for volume in kept:
        if jobs.running(volume.backendjobid):
            continue  # its removal is on its way
        if volume.deleted:
            found(Finding("kept_disk", volume.backend_volume_uuid, f"volume {volume.id} is deleted, Ganeti keeps its "
                                                                   "disk detached"),
                  lambda volume=volume: fix_kept_disk(volume.id))
        else:
            job = jobs.get(volume.backendjobid)
            name = volumes.helper_name(volumes.helper_template(volume.volume_type))
            found(Finding("kept_disk", volume.backend_volume_uuid, f"volume {volume.id} DELETING, removal job "
                                                                   f"{volume.backendjobid} on {name} {_describe(job)}"),
                  lambda volume=volume, job=job: fix_kept_disk_job(volume.id, job))


@_atomic
def fix_kept_disk(volume_id: int) -> str:
    volume = Volume.objects.select_for_update(of=("self",)).select_related("volume_type", "detached_on").filter(
        pk=volume_id, deleted=True, detached_on__isnull=False).first()
    if volume is None:
        return "already removed"
    volume.backendjobid = volumes.remove_kept_disk(volume)
    volume.save(update_fields=["backendjobid", "updated"])
    return f"removal job {volume.backendjobid}"


@_atomic
def fix_kept_disk_job(volume_id: int, job: dict | None) -> str:
    volume = Volume.objects.select_related("detached_on").filter(pk=volume_id, status="DELETING").first()
    if volume is None or volume.detached_on is None:
        return "already settled"
    success = job is not None and job.get("status") == "success"
    reason = "" if success else callbacks.error_text((job or {}).get("opresult")) or "job not known to Ganeti"
    return volumes.kept_disk_job_ended(volume.detached_on.clustername, volume.backendjobid, success, reason)


def _orphan_reason(vm_id: int) -> str:
    other = VirtualMachine.objects.filter(pk=vm_id).values_list("deleted", "backend_id").first()
    if other is None:
        return "no such server"
    if other[0]:
        return "its server is deleted"
    return f"its server lives on backend {other[1]}"


def _instance(client, name: str) -> dict | None:
    try:
        return client.get_instance(name)
    except GanetiApiError as exc:
        if exc.code == 404:
            return None
        raise


def _compare(vm: VirtualMachine, instance: dict | None, jobs: _Jobs) -> list[tuple[Finding, object]]:
    """The drift between a server and its instance (None: missing), each with its fix."""
    name = vm.backend_vm_id
    if instance is None:
        if vm.operstate == "BUILD":
            job_id = vm.task_job_id if vm.task == "BUILD" else vm.backendjobid
            job = jobs.get(job_id)
            if job is None or job.get("status") != "success":
                return [(Finding("build_error", name, f"BUILD, creation job {job_id} {_describe(job)}, no instance", vm.id),
                         lambda: fix_build_error(vm.id))]
        elif vm.operstate == "ERROR" and vm.action != "DESTROY":
            return []  # a failed build has no instance: nothing to reconcile until it is deleted
        return [(Finding("stale", name, f"{vm.operstate} in the database, no Ganeti instance", vm.id),
                 lambda: fix_stale(vm.id))]
    drift = []
    state = ganeti_state(instance)
    if vm.operstate != state:
        drift.append((Finding("unsynced", name, f"database {vm.operstate}, Ganeti {state} ({instance.get('status', '?')})",
                              vm.id), lambda: fix_unsynced(vm.id, state)))
    cpu, ram = ganeti_shape(instance)
    if vm.flavor is not None and cpu is not None and ram is not None and (vm.flavor.cpu, vm.flavor.ram) != (cpu, ram):
        drift.append((Finding("unsynced_flavor", name, f"flavor {vm.flavor.id} ({vm.flavor.cpu} CPUs, {vm.flavor.ram} MiB), "
                                                       f"Ganeti {cpu} CPUs, {ram} MiB", vm.id),
                      lambda: fix_unsynced_flavor(vm.id, cpu, ram)))
    nics = server_nics.nics_from_instance(instance)
    nic_drift = server_nics.nic_drift(vm, nics) if nics is not None else []
    if nic_drift:
        drift.append((Finding("unsynced_nics", name, "; ".join(d for d, _ in nic_drift), vm.id),
                      lambda: fix_unsynced_nics(vm.id, nics)))
    disks = ganeti_disks(instance) if vm.operstate != "BUILD" else None
    disk_findings = disk_drift(vm, disks) if disks is not None else []
    if disk_findings:
        drift.append((Finding("unsynced_disks", name, "; ".join(disk_findings), vm.id),
                      lambda: fix_unsynced_disks(vm.id, disks)))
    return drift


def _delete_orphan(client, name: str) -> str:
    try:
        return f"removal job {client.delete_instance(name, shutdown_timeout=0)}"
    except GanetiApiError as exc:
        if exc.code == 404:
            return "already gone"
        raise


def _guarded(backend: Backend, fix) -> BackendReport:
    """One backend's reconciliation; an unexpected failure is that backend's error, not the end
    of the others'."""
    try:
        return reconcile_backend(backend, fix)
    except Exception as exc:  # noqa: BLE001 - reported, and logged with its traceback
        log.exception("reconciliation of backend %s failed", backend.id)
        report = BackendReport(backend.id, backend.clustername)
        report.errors.append(f"reconciliation failed: {type(exc).__name__}: {exc}")
        return report


def _in_thread(backend_id: int, fix) -> BackendReport:
    try:
        return _guarded(Backend.objects.get(pk=backend_id), fix)
    finally:
        connections.close_all()  # this thread's connections


def reconcile(backends, fix=(), parallel: bool = False) -> list[BackendReport]:
    """Reconcile each backend (offline ones are reported, not read); ``parallel``: one thread
    per backend (RAPI reads are the slow part)."""
    reports: dict[int, BackendReport] = {}
    todo = []
    for backend in backends:
        if backend.offline:
            report = reports[backend.id] = BackendReport(backend.id, backend.clustername)
            report.errors.append("backend is offline")
        else:
            todo.append(backend)
    if parallel and len(todo) > 1:
        with ThreadPoolExecutor(max_workers=len(todo), thread_name_prefix="reconcile") as pool:
            for backend, report in zip(todo, pool.map(lambda b: _in_thread(b.id, fix), todo)):
                reports[backend.id] = report
    else:
        for backend in todo:
            reports[backend.id] = _guarded(backend, fix)
    return [reports[b.id] for b in backends]
