"""Applying Ganeti events to the database (the dispatcher's callbacks, SYNNEFO.md 1.7).

Each ``apply_*`` runs inside the dispatcher's transaction and locks the row it changes.
The ordering guard: an event not newer than the VM's ``backendtime`` is dropped. Only events
that settle the VM's state (successful jobs, a failed create, a removal) advance
``backendtime``, so a late "running" or a late failure cannot undo a later success, and a
redelivered message (dispatcher killed between commit and ack) changes nothing.

A job that ends also settles the server's pending task and its quota commission (see
``cyclades.logic.quotas``). NICs and volumes come with networks and volumes; network events update the
backend's side of the network (``logic/network_backends.py``).
"""

from __future__ import annotations

import datetime
import logging

from django.conf import settings

from synnefo.cyclades.models import Backend, VirtualMachine, VirtualMachineDiagnostic

log = logging.getLogger(__name__)
EPOCH_UTC = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)

FINAL = ("success", "error", "canceled")
OPER_STATE_FROM_OPCODE = {
    "OP_INSTANCE_CREATE": "STARTED",
    "OP_INSTANCE_REMOVE": "DESTROYED",
    "OP_INSTANCE_STARTUP": "STARTED",
    "OP_INSTANCE_SHUTDOWN": "STOPPED",
    "OP_INSTANCE_REBOOT": "STARTED",
}


class BadMessage(ValueError):
    """The message cannot be applied whatever happens next (goes to the dead-letter queue)."""


def merge_time(event_time) -> datetime.datetime:
    try:
        sec, usec = event_time
        return datetime.datetime.fromtimestamp(int(sec), datetime.timezone.utc) + datetime.timedelta(microseconds=int(usec))
    except (TypeError, ValueError, OverflowError) as exc:
        raise BadMessage(f"bad event_time {event_time!r}") from exc


def vm_id_from_name(name: str) -> int | None:
    prefix = settings.BACKEND_PREFIX_ID
    if not isinstance(name, str) or not name.startswith(prefix):
        return None
    try:
        return int(name[len(prefix):])
    except ValueError:
        return None


def _require(msg: dict, *keys):
    missing = [k for k in keys if k not in msg]
    if missing:
        raise BadMessage(f"{msg.get('type')} message lacks {', '.join(missing)}")


def error_text(result) -> str:
    """Ganeti's reason for a failed opcode, from its result (``["OpPrereqError", ["why", "code"]]``,
    possibly inside a list): failed checks log nothing, so eventd's ``logmsg`` is empty then."""
    while isinstance(result, list) and len(result) == 1 and isinstance(result[0], list):
        result = result[0]
    if isinstance(result, list) and len(result) == 2 and isinstance(result[0], str):
        details = result[1]
        reason = details[0] if isinstance(details, list) and details else details
        return f"{result[0]}: {reason}"[:2000]
    return str(result)[:2000] if result else ""


def apply_op_status(msg: dict) -> str:
    """Returns what happened, for the log: applied / dropped (older) / ignored (unknown VM...)."""
    _require(msg, "instance", "operation", "status", "jobId", "event_time")
    etime = merge_time(msg["event_time"])
    from synnefo.cyclades.logic import volumes

    if volumes.is_helper(msg["instance"]):
        return _apply_helper_status(msg)
    vm_id = vm_id_from_name(msg["instance"])
    if vm_id is None:
        return f"ignored: instance {msg['instance']!r} is not ours"
    vm = VirtualMachine.objects.select_for_update(of=("self",)).select_related("flavor__volume_type", "backend").filter(pk=vm_id).first()
    if vm is None:
        return f"ignored: no VM {vm_id}"
    if vm.deleted:
        return f"ignored: VM {vm_id} is deleted"
    if etime <= vm.backendtime:
        return f"dropped: older than VM {vm_id}'s last update ({etime.isoformat()} <= {vm.backendtime.isoformat()})"
    opcode, status = msg["operation"], msg["status"]
    vm.backendjobid = msg["jobId"]
    vm.backendopcode = opcode
    vm.backendjobstatus = status
    vm.backendlogmsg = msg.get("logmsg") or (error_text(msg.get("result")) if status == "error" else "")
    if status in FINAL:
        _settle(vm, msg, opcode, status, etime)
    vm.save()
    return f"applied: VM {vm_id} {opcode} {status} -> {vm.operstate}{' (deleted)' if vm.deleted else ''}"


def _apply_helper_status(msg: dict) -> str:
    """A job of a backend's helper instance (logic/volumes.py): the end of a disk removal
    settles the volume waiting for it; the helper's creation and progress change nothing."""
    from synnefo.cyclades.logic import volumes

    status = msg["status"]
    if status not in FINAL or msg["operation"] != "OP_INSTANCE_SET_PARAMS":
        return f"ignored: helper {msg['instance']} {msg['operation']} {status}"
    reason = "" if status == "success" else error_text(msg.get("result")) or msg.get("logmsg") or status
    return volumes.kept_disk_job_ended(msg.get("cluster"), msg["jobId"], status == "success", reason)


def _settle(vm: VirtualMachine, msg: dict, opcode: str, status: str, etime) -> None:
    """A job of the VM ended: its new state, flavor, and the quota of what changed."""
    from synnefo.cyclades.logic import quotas, volumes

    old_state = vm.operstate
    old_flavor = vm.flavor if vm.flavor_id else None
    ours = vm.task_job_id is not None and vm.task_job_id == msg["jobId"]
    success = status == "success"
    if success:
        vm.operstate = OPER_STATE_FROM_OPCODE.get(opcode, vm.operstate)
        if opcode == "OP_INSTANCE_CREATE":
            vm.buildpercentage = 100
            from synnefo.cyclades.logic import server_nics

            server_nics.activate(vm)
            volumes.server_built(vm, True)
        if opcode == "OP_INSTANCE_SET_PARAMS":
            _apply_beparams(vm, (msg.get("job_fields") or {}).get("beparams"))
        if opcode in ("OP_TAGS_SET", "OP_TAGS_DEL") and not (msg.get("job_fields") or {}).get("dry_run"):
            from synnefo.cyclades.logic import server_nics

            server_nics.apply_firewall_tags(vm, opcode, msg.get("tags"))
        vm.backendtime = etime
    elif opcode == "OP_INSTANCE_CREATE":
        vm.operstate = "ERROR"
        vm.backendtime = etime
        VirtualMachineDiagnostic.objects.create(vm=vm, level="ERROR", source="ganeti-create", source_date=etime,
                                                message="The server could not be built", details=vm.backendlogmsg or "")
        volumes.server_built(vm, False)
    removed = opcode == "OP_INSTANCE_REMOVE" and (success or instance_missing(vm))
    if ours:
        if vm.task in ("CONNECT", "DISCONNECT"):
            from synnefo.cyclades.logic import server_nics

            server_nics.settle_task(vm, success)
        if vm.task in volumes.TASKS:
            volumes.settle_task(vm, success)
        if vm.task == "BUILD" or vm.serial is None:
            pass  # the creation's commission was accepted when the API took the request
        else:
            quotas.decide(vm, success or removed)
        vm.task = vm.task_job_id = None
    elif removed:
        quotas.issue(vm, quotas.release_of(vm, old_state), "removed outside the API", accept=True, force=True)
    elif success and vm.operstate != old_state:
        quotas.charge_unrequested_change(vm, old_state, vm.operstate)
    elif success and old_flavor is not None and vm.flavor_id != old_flavor.id:
        quotas.charge_unrequested_resize(vm, old_flavor, vm.flavor)
    from synnefo.cyclades.logic import server_nics

    if removed:
        vm.deleted, vm.operstate = True, "DESTROYED"
        vm.backendtime = etime
        server_nics.release(vm)  # ports and their addresses go back
        volumes.server_removed(vm)
    elif "instance_nics" in msg:
        server_nics.sync(vm, msg["instance_nics"])


def _apply_beparams(vm: VirtualMachine, beparams) -> None:
    """A resize finished: the flavor with the new CPUs and RAM, same disk and volume type."""
    from synnefo.cyclades.models import Flavor

    if not isinstance(beparams, dict) or vm.flavor_id is None:
        return
    cpu = beparams.get("vcpus", vm.flavor.cpu)
    ram = beparams.get("maxmem", beparams.get("memory", vm.flavor.ram))
    flavor = Flavor.objects.filter(cpu=cpu, ram=ram, disk=vm.flavor.disk, volume_type_id=vm.flavor.volume_type_id).first()
    if flavor is None:
        log.error("VM %s: no flavor with %s CPUs, %s MiB, %s GiB %s; flavor left as is", vm.id, cpu, ram,
                  vm.flavor.disk, vm.flavor.volume_type.disk_template)
        return
    vm.flavor = flavor


def instance_missing(vm: VirtualMachine) -> bool:
    """Whether Ganeti says the instance does not exist (a removal that failed for that reason)."""
    from synnefo.cyclades.ganeti.rapi import GanetiApiError, GanetiConnectionError

    if vm.backend is None:
        return True
    try:
        vm.backend.get_client().get_instance(vm.backend_vm_id)
    except GanetiApiError as exc:
        return exc.code == 404
    except GanetiConnectionError:
        return False
    return False


def apply_progress(msg: dict) -> str:
    _require(msg, "instance", "type")
    vm_id = vm_id_from_name(msg["instance"])
    if vm_id is None:
        return f"ignored: instance {msg['instance']!r} is not ours"
    vm = VirtualMachine.objects.select_for_update().filter(pk=vm_id, deleted=False).first()
    if vm is None:
        return f"ignored: no live VM {vm_id}"
    if msg["type"] == "image-copy-progress":
        try:
            percent = min(int(float(msg.get("progress", 0))), 100)
        except (TypeError, ValueError) as exc:
            raise BadMessage(f"bad progress {msg.get('progress')!r}") from exc
        if vm.operstate == "BUILD" and percent > vm.buildpercentage:
            vm.buildpercentage = percent
            vm.save(update_fields=["buildpercentage", "updated"])
        return f"applied: VM {vm_id} build {percent}%"
    level, source, message, details = _diagnostic(msg)
    VirtualMachineDiagnostic.objects.create(vm=vm, level=level, source=source[:100], message=message[:255],
                                            details=details, source_date=_event_date(msg))
    vm.save(update_fields=["updated"])  # clients polling with changes-since see the new diagnostic
    return f"applied: VM {vm_id} diagnostic {level} {source}"


def _diagnostic(msg: dict) -> tuple[str, str, str, str]:
    """(level, source, message, details) of an snf-image message (SYNNEFO.md 1.5)."""
    kind = msg["type"]
    messages = msg.get("messages") or []
    text = " ".join(str(m) for m in messages) if isinstance(messages, list) else str(messages)
    if kind == "image-helper":
        subtype = str(msg.get("subtype") or "info")
        level = {"error": "ERROR", "warning": "WARNING"}.get(subtype, "INFO")
        task = msg.get("task")
        return level, f"image-helper-{subtype}", text or (f"{subtype} {task}" if task else subtype), ""
    level = {"image-error": "ERROR", "image-warning": "WARNING"}.get(kind, "DEBUG" if kind == "image-info" else "INFO")
    return level, kind, text or kind, str(msg.get("stderr") or "")


def _event_date(msg: dict):
    try:
        return merge_time(msg["event_time"]) if "event_time" in msg else None
    except BadMessage:
        return None


def apply_network_status(msg: dict) -> str:
    """A network job's progress on a backend: BackendNetwork operstate, and the next step of
    creating or removing the network there (logic/network_backends.py)."""
    _require(msg, "network", "operation", "status", "cluster")
    from synnefo.cyclades.logic.network_backends import apply_event

    etime = merge_time(msg["event_time"]) if "event_time" in msg else EPOCH_UTC
    return apply_event(msg, etime)


def apply_cluster_status(msg: dict) -> str:
    """Cluster parameters changed: refresh that backend's disk templates and statistics."""
    _require(msg, "cluster")
    from synnefo.cyclades.ganeti.rapi import GanetiApiError
    from synnefo.cyclades.logic.backends import update_status

    backend = Backend.objects.select_for_update().filter(clustername=msg["cluster"]).first()
    if backend is None:
        return f"ignored: no backend for cluster {msg['cluster']!r}"
    if msg.get("status") != "success":
        return f"ignored: cluster job {msg.get('status')}"
    try:
        update_status(backend)
    except GanetiApiError as exc:
        # Not the message's fault: logged, the next backend-update-status fixes it.
        log.warning("backend %s: cannot refresh after cluster change: %s", backend.id, exc)
        return f"applied: backend {backend.id} refresh failed ({exc})"
    return f"applied: backend {backend.id} refreshed"


HANDLERS = {
    "ganeti-op-status": apply_op_status,
    "ganeti-network-status": apply_network_status,
    "ganeti-cluster-status": apply_cluster_status,
    "image-copy-progress": apply_progress,
}


def handler_for(msg: dict):
    if not isinstance(msg, dict):
        raise BadMessage("message is not a JSON object")
    kind = msg.get("type")
    if kind in HANDLERS:
        return HANDLERS[kind]
    if isinstance(kind, str) and (kind.startswith("image-") or kind.startswith("image_")):
        return apply_progress
    raise BadMessage(f"unknown message type {kind!r}")
