"""What administrators do to anybody's servers (``snf-manage server-*``).

Actions go through :mod:`synnefo.cyclades.logic.servers` as the owner would, so the state
checks, the quota commissions and the pending task are the API's. What only administrators
do is here: move a server to another user (its quota moves with commissions), suspend it,
adopt an instance created outside Synnefo, and wait for a server's job to end.
Refusals are :class:`synnefo.common.faults.Fault` s and change nothing.
"""

from __future__ import annotations

import logging
import time

from django.db import transaction

from synnefo.common import faults
from synnefo.cyclades.ganeti.rapi import JOB_FINAL, GanetiApiError, GanetiJobError
from synnefo.cyclades.logic import lookup, quotas, servers, volumes
from synnefo.cyclades.logic.callbacks import vm_id_from_name
from synnefo.cyclades.logic.flavors import FlavorError, get_flavor
from synnefo.cyclades.models import VirtualMachine

log = logging.getLogger(__name__)

ACTIONS = ("start", "stop", "reboot_hard", "reboot_soft")
_sleep = time.sleep  # tests apply the simulated cluster's events while waiting


def get_any_server(ident, *, for_update: bool = False) -> VirtualMachine:
    vm = lookup.row(servers.SERVERS.all(), ident, for_update=for_update)
    if vm is None:
        raise faults.ItemNotFound(f"No server with id '{ident}'")
    return vm


def act(vm: VirtualMachine, action: str) -> VirtualMachine:
    """start, stop, reboot_hard or reboot_soft, as the owner would ask through the API."""
    if action == "start":
        return servers.start(vm.userid, vm.id)
    if action == "stop":
        return servers.shutdown(vm.userid, vm.id)
    if action in ("reboot_hard", "reboot_soft"):
        return servers.reboot(vm.userid, vm.id, action.split("_")[1].upper())
    raise faults.BadRequest(f"Unknown action '{action}'; one of {', '.join(ACTIONS)}")


def resize(vm: VirtualMachine, flavor_ref) -> VirtualMachine:
    return servers.resize(vm.userid, vm.id, flavor_ref)


@transaction.atomic
def set_suspended(vm_id, suspended: bool) -> VirtualMachine:
    """A suspended server refuses its owner's actions but deletion (the API's 403)."""
    vm = get_any_server(vm_id, for_update=True)
    if vm.deleted:
        raise faults.BadRequest(f"Server {vm.id} is deleted")
    vm.suspended = suspended
    vm.save(update_fields=["suspended", "updated"])
    return vm


@transaction.atomic
def rename(vm_id, name: str) -> VirtualMachine:
    vm = get_any_server(vm_id)
    return servers.rename(vm.userid, vm.id, name)


def held_resources(vm: VirtualMachine) -> dict[str, int]:
    """What the server holds in quota now (SYNNEFO.md 1.8)."""
    return quotas.scaled(quotas.release_of(vm), -1)


@transaction.atomic
def reassign(vm_id, new_user: str) -> VirtualMachine:
    """Give the server to ``new_user`` (uuid), in the new owner's base project: what it holds
    moves from the old owner to the new one in one commission (``quotas.move``; over quota is
    refused and nothing changes)."""
    vm = get_any_server(vm_id, for_update=True)
    if vm.deleted:
        raise faults.BadRequest(f"Server {vm.id} is deleted")
    if vm.userid == new_user:
        raise faults.BadRequest(f"Server {vm.id} already belongs to {new_user}")
    if vm.task:
        raise faults.Conflict(f"Server {vm.id} has a pending action ({vm.task}); reassign it when that ends")
    old = vm.userid
    quotas.move(held_resources(vm), (old, vm.project), (new_user, new_user), f"give server {vm.id} from {old} to {new_user}")
    vm.userid, vm.project = new_user, new_user  # the new owner's base project
    vm.save(update_fields=["userid", "project", "updated"])
    vm.volumes.filter(deleted=False).update(userid=new_user, project=new_user)  # they go with it
    log.info("server %s moved from %s to %s", vm.id, old, new_user)
    return vm


def remove(vm: VirtualMachine) -> VirtualMachine:
    return servers.destroy(vm.userid, vm.id)


def import_instance(instance_name: str, backend, user: str, image_ref, flavor_ref, *, timeout: float = 300) -> VirtualMachine:
    """Adopt a Ganeti instance made outside Synnefo: a STOPPED server of ``user`` with that
    flavor and image, the instance renamed to ``<BACKEND_PREFIX_ID><id>`` (Ganeti renames only
    stopped instances), its offline quota charged by a forced commission. Nothing stays behind
    when a check or the rename fails."""
    try:
        flavor = get_flavor(flavor_ref, include_deleted=False)
    except FlavorError:
        raise faults.BadRequest(f"Flavor {flavor_ref} does not exist") from None
    image = servers.boot_image(user, image_ref)
    if backend.offline:
        raise faults.ServiceUnavailable(f"Backend {backend.id} is offline")
    client = backend.get_client()
    try:
        instance = client.get_instance(instance_name)
    except GanetiApiError as exc:
        if exc.code == 404:
            raise faults.BadRequest(f"Backend {backend.id} has no instance '{instance_name}'") from None
        raise faults.ServiceUnavailable(f"Backend {backend.id}: {exc}") from None
    known = vm_id_from_name(instance_name)
    if known is not None and VirtualMachine.objects.filter(pk=known, deleted=False).exists():
        raise faults.BadRequest(f"Instance '{instance_name}' is already server {known}")
    if instance.get("admin_state") != "down":
        raise faults.BadRequest(f"Instance '{instance_name}' is running: shut it down first (Ganeti renames only "
                                "stopped instances)")
    beparams = instance.get("beparams") or {}
    shape = (beparams.get("vcpus"), beparams.get("maxmem", beparams.get("memory")), instance.get("disk_template"))
    if shape != (flavor.cpu, flavor.ram, flavor.volume_type.template):
        raise faults.BadRequest(f"Instance '{instance_name}' has {shape[0]} CPUs, {shape[1]} MiB, disk template {shape[2]}; "
                                f"flavor {flavor.id} is {flavor.cpu} CPUs, {flavor.ram} MiB, {flavor.volume_type.template}")
    with transaction.atomic():
        vm = VirtualMachine.objects.create(name=instance_name, userid=user, project=user, backend=backend, flavor=flavor,
                                           imageid=image.id, operstate="STOPPED", buildpercentage=100, action="IMPORT")
        quotas.issue(vm, quotas.offline(flavor), "import", accept=True, force=True)
        volumes.root_volume(vm, flavor.disk, image, imported=True)
        try:
            job_id = client.rename_instance(instance_name, vm.backend_vm_id)
            client.wait_for_job(job_id, timeout=timeout, interval=0.5)
        except GanetiJobError as exc:
            raise faults.BadRequest(f"Ganeti could not rename '{instance_name}': {exc}") from None
        except GanetiApiError as exc:
            raise faults.ServiceUnavailable(f"Backend {backend.id}: {exc}") from None
        vm.backendjobid, vm.backendopcode, vm.backendjobstatus = job_id, "OP_INSTANCE_RENAME", "success"
        vm.save()
    log.info("instance %s of backend %s imported as server %s of %s", instance_name, backend.id, vm.id, user)
    return vm


def wait(vm: VirtualMachine, job_id: int, write, *, timeout: float = 600, interval: float = 1.0,
         settle_grace: float = 30) -> VirtualMachine:
    """Poll the job (RAPI) and the server (database) until the job ended and the dispatcher
    applied its end; write each change of state and build progress. Returns the server."""
    client = vm.backend.get_client()
    deadline = time.monotonic() + timeout
    ended_at = None
    last = None
    while True:
        try:
            status = client.get_job_status(job_id)["status"]
        except GanetiApiError as exc:
            if exc.code != 404:
                raise faults.ServiceUnavailable(f"Backend {vm.backend_id}: {exc}") from None
            status = "not known to Ganeti"
        vm.refresh_from_db()
        state = servers.api_status(vm)
        line = f"server {vm.id}: {state}{f' {vm.buildpercentage}%' if state == 'BUILD' else ''}, job {job_id} {status}"
        if line != last:
            write(line)
            last = line
        settled = vm.deleted or vm.task_job_id != job_id
        if status in JOB_FINAL or status == "not known to Ganeti":
            if settled:
                return vm
            ended_at = ended_at or time.monotonic()
            if time.monotonic() - ended_at > settle_grace:
                write(f"job {job_id} ended but the database was not updated: is snf-dispatcher running? "
                      "(snf-manage reconcile-servers --fix-pending-tasks settles it)")
                return vm
        if time.monotonic() > deadline:
            write(f"gave up waiting after {timeout:.0f} s")
            return vm
        _sleep(interval)
