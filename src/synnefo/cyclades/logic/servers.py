"""Servers: create, act on, rename and delete them (SYNNEFO.md 1.3, 1.8).

The command path: validate, issue the quota commission, pick a backend, submit the Ganeti job,
record it as the server's pending ``task``. Each step runs in one database transaction with
the RAPI call last, so a refused job leaves nothing behind (the transaction, and with it the
commission, rolls back). The update path (the dispatcher, ``callbacks.apply_op_status``)
settles the state and decides the commission when the job ends.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import json
import logging
import re
import secrets
import string

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from synnefo.common import faults
from synnefo.common.components import COMPONENTS
from synnefo.cyclades import crypto
from synnefo.cyclades.ganeti.rapi import GanetiApiError, GanetiConnectionError
from synnefo.cyclades.logic import lookup, quotas, volumes
from synnefo.cyclades.logic.callbacks import instance_missing
from synnefo.cyclades.logic.allocator import NoAvailableBackend, VMRequest, allocate_backend
from synnefo.cyclades.logic.backends import ganeti_disk
from synnefo.cyclades.logic.flavors import FlavorError, get_flavor
from synnefo.cyclades.models import Flavor, ServerParams, VirtualMachine, VirtualMachineMetadata

log = logging.getLogger(__name__)

# API status from operstate (SYNNEFO.md 1.8).
STATUS = {"BUILD": "BUILD", "ERROR": "ERROR", "STOPPED": "STOPPED", "STARTED": "ACTIVE", "RESIZE": "RESIZE", "DESTROYED": "DELETED"}
TASK_STATE = {"BUILD": "BUILDING", "START": "STARTING", "STOP": "STOPPING", "REBOOT": "REBOOTING",
              "DESTROY": "DESTROYING", "RESIZE": "RESIZING", "CONNECT": "CONNECTING", "DISCONNECT": "DISCONNECTING",
              "ATTACH_VOLUME": "ATTACHING_VOLUME", "DETACH_VOLUME": "DETACHING_VOLUME", "DELETE_VOLUME": "DELETING_VOLUME",
              "FIREWALL": "SETTING_FIREWALL"}
RUNNING_JOB = ("queued", "waiting", "running")
_PASSWORD_ALPHABET = string.ascii_letters + string.digits


def api_status(vm: VirtualMachine) -> str:
    if vm.deleted:
        return "DELETED"
    status = STATUS.get(vm.operstate, "UNKNOWN")
    if status == "ACTIVE" and vm.backendopcode == "OP_INSTANCE_REBOOT" and vm.backendjobstatus in RUNNING_JOB:
        return "REBOOT"
    if status == "STOPPED" and vm.task == "RESIZE" and vm.backendjobstatus in RUNNING_JOB:
        return "RESIZE"
    return status


def task_state(vm: VirtualMachine) -> str:
    return TASK_STATE.get(vm.task or "", "")


SERVERS = VirtualMachine.objects.select_related("flavor__volume_type", "backend")


def get_server(user: str, server_id, *, for_update: bool = False, include_deleted: bool = True) -> VirtualMachine:
    """The caller's server; 404 for anyone else's, an unknown or a malformed id."""
    vm = lookup.row(SERVERS.all(), server_id, for_update=for_update, userid=user)
    if vm is None or (vm.deleted and not include_deleted):
        raise faults.ItemNotFound(f"Server {server_id} not found")
    return vm


# ------------------------------------------------------------------------------- validation


def check_name(name) -> str:
    if not isinstance(name, str) or not name.strip():
        raise faults.BadRequest("A server needs a name")
    if len(name) > settings.CYCLADES_VM_MAX_NAME_LENGTH:
        raise faults.BadRequest(f"Server names are limited to {settings.CYCLADES_VM_MAX_NAME_LENGTH} characters")
    return name


def check_metadata(metadata, existing: int = 0, *, limit: int | None = None, what: str = "server") -> dict[str, str]:
    """Metadata of a server (or, with ``limit`` and ``what``, of a volume or snapshot)."""
    if metadata is None:
        return {}
    if not isinstance(metadata, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise faults.BadRequest("Metadata must be an object of strings")
    for key, value in metadata.items():
        if not key or len(key) > 50 or len(value) > 500:
            raise faults.BadRequest("Metadata keys have 1 to 50 characters, values up to 500")
    limit = settings.CYCLADES_VM_MAX_METADATA if limit is None else limit
    if existing + len(metadata) > limit:
        raise faults.BadRequest(f"At most {limit} metadata items per {what}")
    return metadata


def check_personality(personality) -> list[dict]:
    if personality is None:
        return []
    if not isinstance(personality, list) or len(personality) > settings.CYCLADES_VM_MAX_PERSONALITY:
        raise faults.BadRequest(f"Personality is a list of at most {settings.CYCLADES_VM_MAX_PERSONALITY} files")
    files = []
    for item in personality:
        if not isinstance(item, dict) or not isinstance(item.get("path"), str) or not isinstance(item.get("contents"), str):
            raise faults.BadRequest("Each personality file needs 'path' and base64 'contents'")
        try:
            data = base64.b64decode(item["contents"], validate=True)
        except (binascii.Error, ValueError):
            raise faults.BadRequest(f"Personality file {item['path'][:100]}: contents are not base64") from None
        if len(data) > settings.CYCLADES_VM_MAX_PERSONALITY_SIZE:
            raise faults.RequestEntityTooLarge(f"Personality files are limited to {settings.CYCLADES_VM_MAX_PERSONALITY_SIZE} bytes")
        files.append({k: item[k] for k in ("path", "contents", "owner", "group", "mode") if k in item})
    return files


def check_password(password) -> str:
    """The admin password given, or a generated one (returned once, never stored)."""
    if password is None:
        return "".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(16))
    if (not isinstance(password, str) or len(password) < 10 or len(password) > 256 or not re.search("[a-z]", password)
            or not re.search("[A-Z]", password) or not re.search("[0-9]", password)):
        raise faults.BadRequest("adminPass needs at least 10 characters with upper- and lower-case letters and digits")
    return password


def usable_flavor(flavor_ref, *, creating: bool) -> Flavor:
    """The flavor a user may give a server: live and public (and allowing creation, to create)."""
    try:
        flavor = get_flavor(flavor_ref, include_deleted=False)
    except FlavorError:
        raise faults.BadRequest(f"Flavor {flavor_ref} does not exist") from None
    if not flavor.public:
        raise faults.BadRequest(f"Flavor {flavor_ref} does not exist")
    if creating and not flavor.allow_create:
        raise faults.Forbidden(f"Flavor {flavor.id} is only available for resizing")
    return flavor


def boot_image(user: str, image_ref):
    from synnefo.plankton import backend as plankton

    try:
        image = plankton.get_image(user, image_ref)
    except faults.ItemNotFound:
        raise faults.BadRequest(f"Image {image_ref} does not exist") from None
    if image.status != "AVAILABLE":
        raise faults.BadRequest(f"Image {image_ref} is not available (status {image.status})")
    return image


# ----------------------------------------------------------------------------------- create


def create(user: str, name: str, image_ref, flavor_ref, *, metadata=None, personality=None, password=None,
           key_names=(), project: str | None = None, backend=None, networks=None,
           root_size: int | None = None, boot_volume=None) -> tuple[VirtualMachine, str]:
    """Create a server; returns it (BUILD) and its admin password. Refusals change nothing.
    ``networks``: the create body's list (see logic/server_nics.py); None: the default server
    networks; with none of them (and no forced ones) Ganeti's default NICs. ``root_size``: GiB
    of the root volume (boot from a new volume), else the flavor's disk. ``image_ref`` may name a
    snapshot: ext_archipelago root disks are thin clones of either. ``boot_volume``: an available
    volume of the user that becomes the root disk as it is (no OS installation); its image or
    snapshot is the server's image."""
    from synnefo.cyclades.logic import keypairs, server_nics

    specs = server_nics.with_settings(server_nics.check_specs(networks))

    name = check_name(name)
    keys = keypairs.for_server(user, list(key_names))
    metadata = check_metadata(metadata)
    files = check_personality(personality)
    password = check_password(password)
    flavor = usable_flavor(flavor_ref, creating=True)
    if boot_volume is not None:
        existing = volumes.bootable(user, boot_volume, flavor)
        image_ref, root_size = existing.source_id, existing.size
    image = boot_image(user, image_ref)
    root_size = flavor.disk if root_size is None else volumes.check_size(root_size)
    if image.size > root_size * quotas.GiB:
        raise faults.BadRequest(f"Image {image.id} ({image.size} bytes) is larger than the {root_size} GiB root disk")
    for key in ("os", "users"):  # upstream copies these image properties into the server's metadata
        if key in image.properties and key.upper() not in metadata and key not in metadata:
            metadata[key] = image.properties[key]
    metadata = check_metadata(metadata)
    template = flavor.volume_type.template
    if backend is None:
        try:
            backend = allocate_backend(VMRequest(ram=flavor.ram, disk=root_size * 1024, cpu=flavor.cpu,
                                                 disk_template=template, userid=user, project=project))
        except NoAvailableBackend:
            raise faults.ServiceUnavailable("No available backends") from None
    elif backend.offline:
        raise faults.ServiceUnavailable(f"Backend {backend.id} is offline")
    if specs:
        server_nics.prepare(user, specs, backend)
    with transaction.atomic():
        vm = VirtualMachine.objects.create(name=name, userid=user, project=project or user, backend=backend,
                                           flavor=flavor, imageid=image.id, operstate="BUILD", task="BUILD",
                                           action="BUILD", key_names=[k.name for k in keys])
        VirtualMachineMetadata.objects.bulk_create(
            [VirtualMachineMetadata(vm=vm, meta_key=k, meta_value=v) for k, v in metadata.items()])
        # BUILD is accepted at once, as upstream: a failed build stays (ERROR) until deleted.
        # A volume booted from keeps its own charge; a diskless server holds no disk.
        disk = 0 if boot_volume is not None or template == "diskless" else root_size
        quotas.issue(vm, quotas.combined(quotas.offline(flavor, disk_gib=disk), quotas.online(flavor)), "create", accept=True)
        if boot_volume is not None:
            root = volumes.take_as_root(vm, boot_volume)
        else:
            root = volumes.root_volume(vm, root_size, image) if template != "diskless" else None
        try:
            config_url = _store_params(vm, image, password, files, [k.public_key for k in keys])
            attached = server_nics.attach(vm, user, specs) if specs else []
            nics = server_nics.ganeti_nics(attached) if specs else None
            job_id = _submit_create(vm, backend, flavor, image, config_url, nics, root, install=boot_volume is None,
                                    tags=server_nics.firewall_tags(attached))
        except BaseException:
            if root is not None and boot_volume is None:
                volumes.remove_map(root)  # the transaction rolls back the rest
            raise
        vm.backendjobid = vm.task_job_id = job_id
        vm.save(update_fields=["backendjobid", "task_job_id"])
    log.info("server %s of %s: create job %s on backend %s", vm.id, user, job_id, backend.id)
    return vm, password


def _store_params(vm: VirtualMachine, image, password: str, files: list[dict], auth_keys: list[str]) -> str:
    key = secrets.token_urlsafe(32)
    params = {
        "img_id": _img_id(image), "img_format": image.disk_format, "img_passwd": password,
        "img_personality": json.dumps(files), "img_properties": json.dumps({k.upper(): v for k, v in image.properties.items()}),
    }
    if auth_keys:
        params["auth_keys"] = "\n".join(auth_keys)
    ServerParams.objects.create(digest=hashlib.sha256(key.encode()).hexdigest(), vm=vm, data_encrypted=crypto.encrypt(json.dumps(params)))
    base = (settings.VMAPI_BASE_URL or COMPONENTS["cyclades"].base_url()).rstrip("/")
    return f"{base}/vmapi/v1.0/server-params/{key}"


def _img_id(image) -> str:
    return f"pithosmap://{image.checksum}/{image.size}"


def read_params(key: str) -> dict:
    """snf-image's one read of a server's secret parameters (then forgotten)."""
    digest = hashlib.sha256(key.encode()).hexdigest()
    with transaction.atomic():
        row = ServerParams.objects.select_for_update().filter(digest=digest).first()
        lifetime = timezone.now() - datetime.timedelta(seconds=settings.VMAPI_PARAMS_LIFETIME)
        if row is None or row.created < lifetime:
            raise faults.ItemNotFound("No such server parameters")
        data = json.loads(crypto.decrypt(row.data_encrypted))
        if settings.VMAPI_RESET_PARAMS:
            row.delete()
    return data


def _primary_node(client) -> str | None:
    if settings.GANETI_IALLOCATOR:
        return None
    nodes = [n for n in client.get_nodes(bulk=True) if not n.get("offline") and not n.get("drained") and n.get("vm_capable", True)]
    if not nodes:
        raise faults.ServiceUnavailable("The backend has no node that can take the server")
    return max(nodes, key=lambda n: (n.get("mfree") or 0, n.get("name", "")))["name"]


def _submit_create(vm: VirtualMachine, backend, flavor: Flavor, image, config_url: str, nics=None, root=None,
                   install: bool = True, tags=()) -> int:
    kwargs = json.loads(json.dumps(settings.GANETI_CREATEINSTANCE_KWARGS))  # a deep copy
    hvparams = (kwargs.pop("hvparams", None) or {}).get(backend.hypervisor)
    template = flavor.volume_type.template
    disks = [] if root is None else [ganeti_disk(flavor.volume_type, root.size * 1024, name=root.backend_volume_uuid)]
    kwargs.update(
        beparams={"vcpus": flavor.cpu, "maxmem": flavor.ram, "minmem": flavor.ram, "auto_balance": True},
        osparams={"config_url": config_url, "img_id": _img_id(image), "img_format": image.disk_format},
        ip_check=False, name_check=False, start=True, tags=list(tags), hypervisor=backend.hypervisor,
    )
    if not install:
        kwargs["no_install"] = True  # the root disk is an existing volume: keep what is on it
    if hvparams:
        kwargs["hvparams"] = hvparams
    try:
        client = backend.get_client()
        node = _primary_node(client)
        if node:
            kwargs["pnode"] = node
        else:
            kwargs["iallocator"] = settings.GANETI_IALLOCATOR
        if nics is None:
            nics = json.loads(json.dumps(settings.GANETI_DEFAULT_INSTANCE_NICS))
        return client.create_instance(vm.backend_vm_id, template, disks, nics, **kwargs)
    except GanetiConnectionError as exc:
        log.error("server %s: backend %s unreachable: %s", vm.id, backend.id, exc)
        raise faults.ServiceUnavailable("The compute backend is unavailable; try again later") from None
    except GanetiApiError as exc:
        log.error("server %s: backend %s refused the creation: %s", vm.id, backend.id, exc)
        raise faults.ServiceUnavailable(f"The compute backend refused the server: {exc}") from None


# ---------------------------------------------------------------------------------- actions


def validate_action(vm: VirtualMachine, action: str) -> None:
    """Upstream's ``validate_server_action``, in its order."""
    if vm.deleted:
        raise faults.BadRequest(f"Server {vm.id} is deleted")
    if vm.suspended and action not in ("DESTROY",):
        raise faults.Forbidden(f"Server {vm.id} is suspended by an administrator")
    if action == "DESTROY":
        if vm.task == "DESTROY":
            raise faults.Conflict(f"Server {vm.id} is already being deleted")
        return
    if vm.task:
        if vm.operstate == "BUILD":
            raise faults.BuildInProgress(f"Server {vm.id} is being built")
        raise faults.Conflict(f"Server {vm.id} has a pending action ({vm.task}); try again when it ends")
    if action == "REASSIGN":  # any state
        return
    if vm.operstate == "ERROR":
        raise faults.BadRequest(f"Server {vm.id} is in error; it can only be deleted")
    if vm.operstate == "BUILD":
        raise faults.BuildInProgress(f"Server {vm.id} is being built")
    needs = {"START": ("STOPPED",), "STOP": ("STARTED",), "REBOOT": ("STARTED", "STOPPED"), "RESIZE": ("STOPPED",)}
    if action in needs and vm.operstate not in needs[action]:
        raise faults.Conflict(f"Cannot {action.lower()} server {vm.id} while it is {api_status(vm)}")


def _run_job(vm: VirtualMachine, task: str, submit) -> int:
    """Submit a job for the VM's pending ``task`` (the VM row is locked by the caller)."""
    if vm.backend is None:
        raise faults.ServiceUnavailable(f"Server {vm.id} has no backend")
    try:
        job_id = submit(vm.backend.get_client(), vm.backend_vm_id)
    except GanetiConnectionError:
        raise faults.ServiceUnavailable("The compute backend is unavailable; try again later") from None
    except GanetiApiError as exc:
        raise faults.ServiceUnavailable(f"The compute backend refused the action: {exc}") from None
    vm.task, vm.task_job_id, vm.action = task, job_id, task
    vm.backendjobid, vm.backendjobstatus = job_id, "queued"
    vm.save()
    return job_id


@transaction.atomic
def start(user: str, server_id) -> VirtualMachine:
    vm = get_server(user, server_id, for_update=True)
    validate_action(vm, "START")
    vm.serial = quotas.issue(vm, quotas.online(vm.flavor), "start", accept=None)
    _run_job(vm, "START", lambda client, name: client.startup_instance(name))
    return vm


@transaction.atomic
def shutdown(user: str, server_id) -> VirtualMachine:
    vm = get_server(user, server_id, for_update=True)
    validate_action(vm, "STOP")
    vm.serial = quotas.issue(vm, quotas.scaled(quotas.online(vm.flavor), -1), "shutdown", accept=None)
    _run_job(vm, "STOP", lambda client, name: client.shutdown_instance(name))
    return vm


@transaction.atomic
def reboot(user: str, server_id, reboot_type: str = "SOFT") -> VirtualMachine:
    if reboot_type not in ("SOFT", "HARD"):
        raise faults.BadRequest("Reboot type must be SOFT or HARD")
    vm = get_server(user, server_id, for_update=True)
    validate_action(vm, "REBOOT")
    if vm.operstate == "STOPPED":  # a reboot of a stopped server starts it
        vm.serial = quotas.issue(vm, quotas.online(vm.flavor), "reboot", accept=None)
    timeout = 0 if reboot_type == "HARD" else None
    _run_job(vm, "REBOOT", lambda client, name: client.reboot_instance(name, "hard", shutdown_timeout=timeout))
    return vm


@transaction.atomic
def resize(user: str, server_id, flavor_ref) -> VirtualMachine:
    vm = get_server(user, server_id, for_update=True)
    flavor = usable_flavor(flavor_ref, creating=False)
    validate_action(vm, "RESIZE")
    old = vm.flavor
    if flavor.id == old.id:
        raise faults.BadRequest("The server already has this flavor")
    if flavor.disk != old.disk or flavor.volume_type_id != old.volume_type_id:
        raise faults.ResizeNotAllowed("Resizing changes CPUs and RAM only: the new flavor needs the same disk and volume type")
    delta = {"cyclades.total_cpu": flavor.cpu - old.cpu, "cyclades.total_ram": (flavor.ram - old.ram) * quotas.MiB}
    vm.serial = quotas.issue(vm, delta, "resize", accept=None)
    beparams = {"vcpus": flavor.cpu, "maxmem": flavor.ram, "minmem": flavor.ram}
    _run_job(vm, "RESIZE", lambda client, name: client.modify_instance(name, beparams=beparams))
    return vm


@transaction.atomic
def destroy(user: str, server_id) -> VirtualMachine:
    vm = get_server(user, server_id, for_update=True)
    validate_action(vm, "DESTROY")
    volumes.check_server_removal(vm)
    if vm.task and vm.serial is not None:
        quotas.decide(vm, False)  # the interrupted action's commission gives its quota back
    release = quotas.release_of(vm)
    vm.serial = quotas.issue(vm, release, "delete", accept=None, force=True)
    try:
        _run_job(vm, "DESTROY", lambda client, name: client.delete_instance(name))
    except faults.ServiceUnavailable:
        if not instance_missing(vm):
            raise
        mark_deleted(vm)  # never reached Ganeti (its creation failed): nothing to remove there
    return vm


def mark_deleted(vm: VirtualMachine) -> None:
    """The server is gone: accept the release commission, free its ports, keep the record."""
    from synnefo.cyclades.logic import server_nics

    quotas.decide(vm, True)
    server_nics.release(vm)
    volumes.server_removed(vm)
    vm.deleted, vm.operstate, vm.task, vm.task_job_id = True, "DESTROYED", None, None
    vm.save()


@transaction.atomic
def rename(user: str, server_id, name: str) -> VirtualMachine:
    vm = get_server(user, server_id, for_update=True)
    if vm.deleted:
        raise faults.BadRequest(f"Server {vm.id} is deleted")
    vm.name = check_name(name)
    vm.save(update_fields=["name", "updated"])
    return vm


# --------------------------------------------------------------------------------- metadata


def metadata_of(vm: VirtualMachine) -> dict[str, str]:
    return {m.meta_key: m.meta_value for m in vm.metadata.all()}


@transaction.atomic
def update_metadata(user: str, server_id, metadata) -> dict[str, str]:
    vm = get_server(user, server_id, for_update=True, include_deleted=False)
    current = metadata_of(vm)
    check_metadata(metadata, existing=len(set(current) | set(metadata or {})) - len(metadata or {}))
    for key, value in metadata.items():
        VirtualMachineMetadata.objects.update_or_create(vm=vm, meta_key=key, defaults={"meta_value": value})
    vm.save(update_fields=["updated"])
    return metadata_of(vm)


@transaction.atomic
def delete_metadata_item(user: str, server_id, key: str) -> None:
    vm = get_server(user, server_id, for_update=True, include_deleted=False)
    deleted, _ = vm.metadata.filter(meta_key=key).delete()
    if not deleted:
        raise faults.ItemNotFound(f"Server {vm.id} has no metadata '{key}'")
    vm.save(update_fields=["updated"])
