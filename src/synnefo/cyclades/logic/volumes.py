"""Volumes: create, attach, detach, delete, snapshot (docs/volume-api.md, SYNNEFO.md 6.2).

A volume attached to a server changes through a Ganeti disk job of that server (the server's
pending ``task``: ATTACH_VOLUME, DETACH_VOLUME or DELETE_VOLUME), with the quota commission in
the server's ``serial``, so the dispatcher settles both when the job ends (``settle_task``).
Volumes of detachable types (``CYCLADES_DETACHABLE_DISK_TEMPLATES``) may also live without a
server: then they are a map in the volume store, made or removed at once, and, once detached on
a backend, a disk Ganeti keeps there, removed with the volume through the backend's helper
instance (below, "disks Ganeti keeps detached").

``ext_archipelago`` (and ``ext_vlmc``) volumes are maps in the node's volume store named
``snf-vol-<id>`` (the volume's ``origin``): a thin clone of the image or snapshot they come
from, or an empty map; made before the Ganeti job, removed when the volume goes (the block GC
reclaims what nothing references). Snapshots freeze such a map and register it as a Pithos
object of the owner's ``snapshots`` container that is also a Plankton image (``is_snapshot``).
"""

from __future__ import annotations

import json
import logging

from django.conf import settings
from django.db import transaction
from django.db.models import Q

from synnefo.common import faults
from synnefo.cyclades.logic import lookup, quotas
from synnefo.cyclades.logic.backends import disk_change, ganeti_disk
from synnefo.cyclades.models import VirtualMachine, Volume, VolumeMetadata, VolumeType

log = logging.getLogger(__name__)

STORE_TEMPLATES = ("ext_archipelago", "ext_vlmc")  # volumes that are maps in the volume store
TASKS = ("ATTACH_VOLUME", "DETACH_VOLUME", "DELETE_VOLUME")
PENDING = ("CREATING", "ATTACHING", "DETACHING", "DELETING")
#: Non-root volumes the server's commissions hold (root disks come with the server's own).
CHARGED_WITH_SERVER = ("IN_USE", "ATTACHING", "DETACHING", "DELETING")

VOLUMES = Volume.objects.select_related("volume_type", "machine")


def detachable(volume_type: VolumeType) -> bool:
    return volume_type.disk_template in settings.CYCLADES_DETACHABLE_DISK_TEMPLATES


def in_store(volume_type: VolumeType) -> bool:
    return volume_type.disk_template in STORE_TEMPLATES


def get_volume(user: str, volume_id, *, for_update: bool = False) -> Volume:
    """The caller's live volume; 404 for anyone else's, a deleted, unknown or malformed id."""
    volume = lookup.row(VOLUMES.all(), volume_id, for_update=for_update, userid=user, deleted=False)
    if volume is None:
        raise faults.ItemNotFound(f"Volume {volume_id} not found")
    return volume


def get_volume_type(type_ref) -> VolumeType:
    """A live volume type by id or name; 404 if none."""
    found = VolumeType.objects.filter(deleted=False)
    vt = lookup.row(found, type_ref) or found.filter(name=str(type_ref)).first()
    if vt is None:
        raise faults.ItemNotFound(f"Volume type {type_ref} not found")
    return vt


def default_volume_type() -> VolumeType:
    """The type of a volume created with neither a type nor a server: the oldest live
    detachable one (Cinder's default type)."""
    for vt in VolumeType.objects.filter(deleted=False):
        if detachable(vt):
            return vt
    raise faults.BadRequest("No detachable volume type exists: give a volume_type and a server_id")


# ------------------------------------------------------------------------------- validation


def check_size(size) -> int:
    try:
        value = int(size) if not isinstance(size, (bool, float)) else None
    except (TypeError, ValueError):
        value = None
    if value is None:
        raise faults.BadRequest(f"Invalid size {size!r}: a whole number of GiB")
    if not 1 <= value <= settings.CYCLADES_VOLUME_MAX_SIZE:
        raise faults.BadRequest(f"Invalid size {value}: volumes have 1 to {settings.CYCLADES_VOLUME_MAX_SIZE} GiB")
    return value


def check_text(value, what: str, limit: int = 255) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > limit:
        raise faults.BadRequest(f"A volume's {what} is a string of at most {limit} characters")
    return value


def check_metadata(metadata, existing: int = 0) -> dict[str, str]:
    from synnefo.cyclades.logic.servers import check_metadata as check

    return check(metadata, existing, limit=settings.CYCLADES_VOLUME_MAX_METADATA, what="volume")


def _source_image(user: str, kind: str, ident):
    """The image or snapshot a volume is made from; 400 if the caller cannot see one by that id."""
    from synnefo.plankton import backend as plankton

    what = "Snapshot" if kind == "snapshot" else "Image"
    try:
        image = plankton.get_image(user, ident)
    except faults.ItemNotFound:
        raise faults.BadRequest(f"{what} {ident} does not exist") from None
    if kind == "snapshot" and not image.is_snapshot:
        raise faults.BadRequest(f"Snapshot {ident} does not exist")
    if image.status != "AVAILABLE":
        raise faults.BadRequest(f"{what} {ident} is not available (status {image.status})")
    return image


def _source_volume(user: str, volume_id, size: int) -> Volume:
    """The caller's volume a new one is cloned from (its row locked: it is not deleted
    meanwhile); 400 for anyone else's or an unknown id, a volume not in the volume store, a
    larger one; 409 while it is not available or in use."""
    try:
        source = get_volume(user, volume_id, for_update=True)
    except faults.ItemNotFound:
        raise faults.BadRequest(f"Volume {volume_id} does not exist") from None
    if not in_store(source.volume_type):
        raise faults.BadRequest(f"Volume {source.id} is of type {source.volume_type.disk_template}: only "
                                f"{', '.join(STORE_TEMPLATES)} volumes can be cloned")
    if source.status not in ("AVAILABLE", "IN_USE") or not source.origin:
        raise faults.Conflict(f"Volume {source.id} is {source.status.lower()}: clones are made of available or "
                              "in-use volumes")
    if source.size > size:
        raise faults.BadRequest(f"Volume {source.id} has {source.size} GiB: more than {size} GiB")
    return source


def _server(user: str, server_id, task: str) -> VirtualMachine:
    from synnefo.cyclades.logic.server_nics import server_for_change

    return server_for_change(user, server_id, task)


def _same_template(vm: VirtualMachine, volume_type: VolumeType) -> None:
    template = vm.flavor.volume_type.template if vm.flavor_id else None
    if template != volume_type.template:
        raise faults.BadRequest(f"Server {vm.id} has {template} disks: it takes volumes of that disk template only, "
                                f"not {volume_type.disk_template}")


def _next_index(vm: VirtualMachine) -> int:
    last = Volume.objects.filter(machine=vm, deleted=False).exclude(index=None).order_by("-index").values_list("index", flat=True).first()
    return 0 if last is None else last + 1


# ------------------------------------------------------------------------- the volume store


def _store():
    from synnefo.archipelago import config as archip_config
    from synnefo.archipelago.pithos import node_store
    from synnefo.archipelago.store import VolumeError

    try:
        return node_store()
    except (archip_config.ConfigError, VolumeError) as exc:
        log.error("volume store unavailable: %s", exc)
        raise faults.ServiceUnavailable("The volume store is unavailable; try again later") from None


def _store_serving(origin: str):
    """The store acting for the host whose vlmcd serves ``origin`` (mapped there: the disk of a
    running server, on its Ganeti node), else for this host. A snapshot in that host's name is
    safe while its vlmcd serves the volume: vlmcd re-reads the map under the volume's mutex
    before each request (``VolumeStore.snapshot``), and that mutex (a ``flock`` in the store)
    reaches every host that shares the store, as every map update of a shared store needs."""
    from synnefo.archipelago.locks import DAEMON, DEVICE_DAEMON
    from synnefo.archipelago.pithos import node_store

    store = _store()
    holder = store.locks.get(origin)
    host, _, daemon = holder.owner.rpartition("/") if holder else ("", "", "")
    if daemon == DEVICE_DAEMON and host and f"{host}/{DAEMON}" != store.owner:
        return node_store(f"{host}/{DAEMON}")
    return store


def make_map(volume: Volume, image_id: str | None = None, source: Volume | None = None) -> None:
    """The volume's map: a thin clone of the image (or snapshot), of the ``source`` volume as
    it is now, or an empty one. When the store cannot (not configured, the image's blocks
    missing, another block size): 503, the reason in the log only (it names the store's paths).
    A source locked by another host (mapped there): 409, nothing made."""
    from synnefo.archipelago import config as archip_config
    from synnefo.archipelago import pithos as archip
    from synnefo.archipelago.locks import LockError
    from synnefo.archipelago.store import VolumeError

    volume.origin = volume.backend_volume_uuid
    try:
        store = archip.node_store()
        if image_id:
            archip.clone(store, volume.origin, image_id, volume.size * quotas.GiB)
        elif source is not None:
            try:
                _clone_volume(_store_serving(source.origin), source, volume)
            except LockError as exc:
                raise faults.Conflict(f"Cannot clone volume {source.id}: {exc}") from None
        else:
            store.create(volume.origin, volume.size * quotas.GiB)
    except (archip_config.ConfigError, VolumeError) as exc:
        origin = f" from {image_id}" if image_id else f" from {source.origin}" if source is not None else ""
        log.error("volume %s: cannot make its map %s%s: %s", volume.id, volume.origin, origin, exc)
        what = f"Image {image_id} cannot be cloned to a volume" if image_id else \
            f"Volume {source.id} cannot be cloned" if source is not None else "The volume cannot be made"
        raise faults.ServiceUnavailable(f"{what} now; try again later") from None


def _clone_volume(store, source: Volume, volume: Volume) -> None:
    """A thin clone of ``source`` as it is now: frozen as a hidden snapshot (which this host's
    vlmcd allows while it serves the source, see ``VolumeStore.snapshot``), cloned, and the
    hidden snapshot removed again (it owns no objects: the clone keeps the frozen blocks)."""
    frozen = f"{volume.origin}.source"
    store.snapshot(source.origin, frozen)
    try:
        store.clone(volume.origin, frozen, volume.size * quotas.GiB)
    finally:
        store.remove(frozen)


def remove_map(volume: Volume) -> None:
    """Remove the volume's map and own objects (a map already gone is fine)."""
    from synnefo.archipelago.locks import LockError
    from synnefo.archipelago.store import VolumeError

    if not volume.origin or not in_store(volume.volume_type):
        return
    store = _store()
    if not store.exists(volume.origin):
        return
    try:
        store.remove(volume.origin)
    except (LockError, VolumeError) as exc:  # open or locked (mapped somewhere): say so, change nothing
        raise faults.Conflict(f"Volume {volume.id} is in use in the volume store: {exc}") from None


def _drop_map_quietly(volume: Volume) -> None:
    try:
        remove_map(volume)
    except faults.Fault as exc:
        log.error("volume %s: map %s left in the store: %s", volume.id, volume.origin, exc.message)


# ----------------------------------------------------------------------------------- create


def create(user: str, size, *, name=None, description=None, volume_type=None, server_id=None, snapshot_id=None,
           image_id=None, source_volid=None, metadata=None, project: str | None = None) -> Volume:
    """A new volume: attached to ``server_id`` (a disk add job; CREATING until it ends), or,
    for detachable types, alone (AVAILABLE at once). Refusals change nothing."""
    size = check_size(size)
    name, description = check_text(name, "name"), check_text(description, "description")
    metadata = check_metadata(metadata)
    if sum(ref is not None for ref in (snapshot_id, image_id, source_volid)) > 1:
        raise faults.BadRequest("Give one of a snapshot, an image or a source volume")
    image = None
    if snapshot_id is not None:
        image = _source_image(user, "snapshot", snapshot_id)
    elif image_id is not None:
        image = _source_image(user, "image", image_id)
    source = f"{'snapshot' if snapshot_id is not None else 'image'}:{image.id}" if image else ""
    if image is not None and image.size > size * quotas.GiB:
        raise faults.BadRequest(f"The {source.split(':')[0]} has {image.size} bytes: more than {size} GiB")
    with transaction.atomic():
        source_volume = _source_volume(user, source_volid, size) if source_volid is not None else None
        if source_volume is not None:
            source = f"volume:{source_volume.id}"
        vm = _server(user, server_id, "ATTACH_VOLUME") if server_id is not None else None
        if volume_type is not None:
            try:
                vt = get_volume_type(volume_type)
            except faults.ItemNotFound:
                raise faults.BadRequest(f"Volume type {volume_type} does not exist") from None
        elif vm is not None:
            vt = vm.flavor.volume_type
        elif source_volume is not None:
            vt = source_volume.volume_type
        else:
            vt = default_volume_type()
        if vm is None and not detachable(vt):
            raise faults.BadRequest(f"Volumes of type {vt.name} ({vt.disk_template}) exist only on a server: give a server_id")
        if vm is not None:
            _same_template(vm, vt)
        if (image is not None or source_volume is not None) and not in_store(vt):
            raise faults.BadRequest(f"Only {', '.join(STORE_TEMPLATES)} volumes can be made from an image, a snapshot "
                                    "or a volume")
        project = project or user
        volume = Volume.objects.create(userid=user, project=project, name=name, description=description, size=size,
                                       volume_type=vt, source=source, status="CREATING",
                                       delete_on_termination=vm is not None)
        VolumeMetadata.objects.bulk_create([VolumeMetadata(volume=volume, meta_key=k, meta_value=v) for k, v in metadata.items()])
        disk = {"cyclades.disk": size * quotas.GiB}
        if vm is not None:
            vm.serial = quotas.issue(vm, disk, f"create volume {volume.id} on", accept=None)
        else:
            quotas.issue_for(user, project, disk, f"create volume {volume.id}", accept=True)
        if in_store(vt):
            make_map(volume, image.id if image else None, source_volume)
        try:
            if vm is not None:
                volume.machine, volume.index = vm, _next_index(vm)
                volume.backendjobid = _disk_job(vm, "ATTACH_VOLUME", "add", volume)
            else:
                volume.status = "AVAILABLE"
            volume.save()
        except BaseException:
            _drop_map_quietly(volume)  # the transaction rolls back the row and the commission
            raise
    log.info("volume %s of %s: %s GiB %s%s", volume.id, user, size, vt.disk_template, f" on server {vm.id}" if vm else "")
    return volume


def _disk_job(vm: VirtualMachine, task: str, op: str, volume: Volume) -> int:
    from synnefo.cyclades.logic import servers

    spec = ganeti_disk(volume.volume_type, volume.size * 1024, name=volume.backend_volume_uuid) if op == "add" else None
    change = disk_change(op, volume.backend_volume_uuid, spec)
    return servers._run_job(vm, task, lambda client, name: client.modify_instance(name, **change))


def root_volume(vm: VirtualMachine, size: int, image, *, imported: bool = False) -> Volume:
    """The server's root disk, made with it (in its create transaction): charged with the
    server, IN_USE when the build succeeds. ``ext_archipelago``: a thin clone of the image.
    ``imported``: the disk of an instance adopted from Ganeti (in use, nothing made)."""
    volume = Volume.objects.create(userid=vm.userid, project=vm.project, size=size, volume_type=vm.flavor.volume_type,
                                   machine=vm, index=0, source=f"{'snapshot' if image.is_snapshot else 'image'}:{image.id}",
                                   status="IN_USE" if imported else "CREATING", delete_on_termination=True)
    if in_store(volume.volume_type) and not imported:
        make_map(volume, image.id)
        volume.save(update_fields=["origin"])
    return volume


def bootable(user: str, volume_id, flavor) -> Volume:
    """A volume a new server may boot from (checked, not locked): available, detachable, made
    from an image or snapshot, of the flavor's volume type's template."""
    try:
        volume = get_volume(user, volume_id)
    except faults.ItemNotFound:
        raise faults.BadRequest(f"Volume {volume_id} does not exist") from None
    if volume.machine_id is not None or volume.status != "AVAILABLE":
        raise faults.Conflict(f"Volume {volume.id} is {volume.status.lower()}: servers boot from available volumes")
    if volume.source_kind not in ("image", "snapshot"):
        raise faults.BadRequest(f"Volume {volume.id} was not made from an image or snapshot: nothing to boot")
    if volume.volume_type.disk_template != flavor.volume_type.disk_template:
        raise faults.BadRequest(f"Volume {volume.id} is {volume.volume_type.disk_template}; flavor {flavor.id} has "
                                f"{flavor.volume_type.disk_template} disks")
    return volume


def take_as_root(vm: VirtualMachine, volume_id) -> Volume:
    """The volume becomes the new server's root disk (in its create transaction)."""
    volume = get_volume(vm.userid, volume_id, for_update=True)
    if volume.machine_id is not None or volume.status != "AVAILABLE":
        raise faults.Conflict(f"Volume {volume.id} is {volume.status.lower()}: servers boot from available volumes")
    volume.machine, volume.index, volume.status, volume.delete_on_termination = vm, 0, "ATTACHING", True
    volume.save()
    return volume


# ---------------------------------------------------------------------- attach, detach, delete


@transaction.atomic
def attach(user: str, volume_id, server_id) -> Volume:
    """Attach an available (detachable) volume to the user's server: a disk add job."""
    volume = get_volume(user, volume_id, for_update=True)
    if volume.machine_id is not None or volume.status != "AVAILABLE":
        where = f" (attached to server {volume.machine_id})" if volume.machine_id else ""
        raise faults.Conflict(f"Volume {volume.id} is {volume.status.lower()}{where}: only available volumes can be attached")
    vm = _server(user, server_id, "ATTACH_VOLUME")
    _same_template(vm, volume.volume_type)
    if (volume.project or volume.userid) != (vm.project or vm.userid):
        raise faults.Conflict(f"Volume {volume.id} is in project {volume.project or volume.userid} and server {vm.id} in "
                              f"{vm.project or vm.userid}: reassign one of them first")
    if volume.detached_on_id is not None and volume.detached_on_id != vm.backend_id:
        # Ganeti keeps the disk (for most templates, the data) where it was detached; a disk
        # "add" elsewhere would be a new, empty one (and for ext_archipelago the store's map is
        # that kept disk's: the other backend's provider refuses to adopt it).
        raise faults.Conflict(f"Volume {volume.id} was detached from a server on another compute backend than server "
                              f"{vm.id}'s, which keeps its disk: attach it to a server there (e.g. the one it was "
                              "detached from)")
    volume.machine, volume.index, volume.status = vm, _next_index(vm), "ATTACHING"
    op = "attach" if volume.detached_on_id is not None else "add"
    volume.backendjobid = _disk_job(vm, "ATTACH_VOLUME", op, volume)
    volume.save()
    return volume


def _attached(volume: Volume, action: str) -> None:
    if volume.machine_id is None or volume.status != "IN_USE":
        raise faults.Conflict(f"Volume {volume.id} is {volume.status.lower()}: only in-use volumes can be {action}")
    if volume.index == 0:
        raise faults.Conflict(f"Volume {volume.id} is the root disk of server {volume.machine_id}: it goes with the server")
    if not detachable(volume.volume_type):
        raise faults.Conflict(f"Volume {volume.id} is of type {volume.volume_type.disk_template}, which cannot be "
                              f"{action} from its server (detachable: {', '.join(settings.CYCLADES_DETACHABLE_DISK_TEMPLATES)})")


@transaction.atomic
def detach(user: str, volume_id, server_id=None) -> Volume:
    """Detach an in-use volume from its server (Ganeti keeps the data): a disk detach job."""
    volume = get_volume(user, volume_id, for_update=True)
    if server_id is not None and str(volume.machine_id) != str(server_id):
        raise faults.ItemNotFound(f"Volume {volume_id} is not attached to server {server_id}")
    _attached(volume, "detached")
    vm = _server(user, volume.machine_id, "DETACH_VOLUME")
    volume.status = "DETACHING"
    volume.backendjobid = _disk_job(vm, "DETACH_VOLUME", "detach", volume)
    volume.save()
    return volume


@transaction.atomic
def delete(user: str, volume_id) -> Volume:
    """Delete a volume: a detached one at once (its map removed, quota back), unless Ganeti
    keeps its disk (``detached_on``): then a removal job on that backend's helper instance
    (``remove_kept_disk``; DELETING until it ends, 503 and nothing changed when the backend
    cannot take the job); an in-use one through a disk remove job of its server (DELETING
    until it ends). On an offline backend the volume goes at once and its disk stays in
    Ganeti, marked by ``detached_on``, for ``reconcile-servers --fix-kept-disks``."""
    volume = get_volume(user, volume_id, for_update=True)
    if volume.status in PENDING:
        raise faults.Conflict(f"Volume {volume.id} is {volume.status.lower()}; try again when that ends")
    if volume.machine_id is None:
        if volume.detached_on_id is not None and not volume.detached_on.offline:
            volume.backendjobid = _submit_kept_disk_removal(volume)
            volume.status = "DELETING"
            volume.save()
            return volume
        remove_map(volume)
        if volume.status != "ERROR":  # a failed creation was never charged
            _give_back(volume)
        _mark_deleted(volume)
        return volume
    _attached(volume, "removed")
    vm = _server(user, volume.machine_id, "DELETE_VOLUME")
    vm.serial = quotas.issue(vm, {"cyclades.disk": -volume.size * quotas.GiB}, f"delete volume {volume.id} of",
                             accept=None, force=True)
    volume.status = "DELETING"
    volume.backendjobid = _disk_job(vm, "DELETE_VOLUME", "remove", volume)
    volume.save()
    return volume


def _give_back(volume: Volume) -> None:
    quotas.issue_for(volume.userid, volume.project, {"cyclades.disk": -volume.size * quotas.GiB},
                     f"delete volume {volume.id}", accept=True, force=True)


@transaction.atomic
def extend(user: str, volume_id, new_size) -> Volume:
    """Grow an available volume of the volume store to ``new_size`` GiB (Cinder's
    ``os-extend``): the map grows (new blocks read as zeros), the difference is charged to
    ``cyclades.disk``. Volumes only grow; one Ganeti keeps detached is refused, since its disk
    there has the old size. Refusals change nothing."""
    volume = get_volume(user, volume_id, for_update=True)
    new_size = check_size(new_size)
    if volume.status != "AVAILABLE":
        raise faults.Conflict(f"Volume {volume.id} is {volume.status.lower()}: only available volumes can be extended "
                              "(detach it first)")
    if new_size <= volume.size:
        raise faults.BadRequest(f"new_size {new_size} GiB must be larger than the volume's {volume.size} GiB "
                                "(volumes only grow)")
    if not in_store(volume.volume_type) or volume.detached_on_id is not None:
        raise faults.Conflict(f"Volume {volume.id}'s disk is kept by its compute backend, where it was detached: "
                              "attach it to a server and extend it there, or make a larger clone (source_volid)")
    quotas.issue_for(volume.userid, volume.project, {"cyclades.disk": (new_size - volume.size) * quotas.GiB},
                     f"extend volume {volume.id}", accept=True)  # rolled back with the transaction if the map is not grown
    from synnefo.archipelago.locks import LockError
    from synnefo.archipelago.store import VolumeError

    try:
        _store().resize(volume.origin, new_size * quotas.GiB)
    except (LockError, VolumeError) as exc:
        raise faults.Conflict(f"Volume {volume.id} cannot grow in the volume store: {exc}") from None
    volume.size = new_size
    volume.save()
    log.info("volume %s of %s extended to %s GiB", volume.id, user, new_size)
    return volume


def _mark_deleted(volume: Volume) -> None:
    volume.deleted, volume.status, volume.machine, volume.index = True, "DELETED", None, None
    volume.save()


@transaction.atomic
def update(user: str, volume_id, *, name=None, description=None, metadata=None, delete_on_termination=None) -> Volume:
    volume = get_volume(user, volume_id, for_update=True)
    if name is not None:
        volume.name = check_text(name, "name")
    if description is not None:
        volume.description = check_text(description, "description")
    if delete_on_termination is not None:
        if not isinstance(delete_on_termination, bool):
            raise faults.BadRequest("delete_on_termination is true or false")
        volume.delete_on_termination = delete_on_termination
    if metadata is not None:
        set_metadata(volume, metadata, replace=True)
    volume.save()
    return volume


# ------------------------------------------------------------- disks Ganeti keeps detached
#
# Ganeti 3.0 has no opcode (and RAPI no resource) for a disk outside an instance: a detached
# disk stays in its configuration (and, for ``ext``, the provider's volume) until it is attached
# to an instance and removed there (its design, doc/design-disks.rst, leaves "LUs for disks" to
# do; its own burnin removes detached disks that way). One OpInstanceSetParams does both:
# ``disks=[["attach", -1, {"name": N}], ["remove", -1, {}]]`` (Ganeti applies the changes in
# order; verified on the 3.0.2 sandbox, and a job that fails changes nothing). Removing a disk
# needs hotplug or a stopped instance, and the disk must never reach a user's guest, so the
# instance is a helper of Cyclades on each backend, never started: ``<prefix>helper-diskless``
# (takes any disk whose path does not depend on its instance: ext, plain, rbd, ...) or
# ``<prefix>helper-file`` / ``-sharedfile`` (Ganeti moves a file disk into the directory of the
# instance it is attached to, which a diskless instance does not have: verified). It is made
# with the first removal that needs it (no OS installed, one default NIC and the smallest
# resources Ganeti's default policy allows), the removal job waiting for that creation
# (Ganeti's job ``depends``). A storage volume already gone (a map removed earlier) is only a
# warning to Ganeti's removal: the configuration entry goes all the same. Node-local disks
# (file, plain) can only be removed by a helper on their node: Cyclades puts the helper where it
# puts servers, so on a multi-node backend Ganeti may refuse, and the volume stays available.

#: Ganeti disk templates whose disks live in their instance's directory.
DIRECTORY_TEMPLATES = ("file", "sharedfile")
#: Ganeti's answer when the disk to attach is not in its configuration (already removed).
NO_SUCH_DISK = "No disk was found with this name"
HELPER_MEMORY_MIB = 128  # the least Ganeti's default instance policy allows
HELPER_DISK_MIB = 1024


def helper_template(volume_type: VolumeType) -> str:
    return volume_type.template if volume_type.template in DIRECTORY_TEMPLATES else "diskless"


def helper_name(template: str) -> str:
    return f"{settings.BACKEND_PREFIX_ID}helper-{template}"


def helper_names() -> list[str]:
    """Every helper instance a backend may have (one per helper template)."""
    return [helper_name(t) for t in ("diskless", *DIRECTORY_TEMPLATES)]


def is_helper(instance_name) -> bool:
    return instance_name in helper_names()


def remove_kept_disk(volume: Volume) -> int:
    """Submit the removal of the disk Ganeti keeps for ``volume`` on ``volume.detached_on``
    (creating that backend's helper first if it has none); returns the removal's job id.
    Raises GanetiApiError (GanetiConnectionError when the backend does not answer)."""
    from synnefo.cyclades.ganeti.rapi import GanetiApiError

    backend = volume.detached_on
    template = helper_template(volume.volume_type)
    name = helper_name(template)
    client = backend.get_client()
    change = {"disks": [["attach", -1, {"name": volume.backend_volume_uuid}], ["remove", -1, {}]],
              "hotplug_if_possible": False}
    try:
        client.get_instance(name)
    except GanetiApiError as exc:
        if exc.code != 404:
            raise
        # Any end of the creation will do: one that failed because a concurrent removal made
        # the helper first leaves the helper there all the same.
        change["depends"] = [[_create_helper(client, backend, name, template), ["success", "error", "canceled"]]]
    return client.modify_instance(name, **change)


def _create_helper(client, backend, name: str, template: str) -> int:
    from synnefo.cyclades.logic.servers import _primary_node

    kwargs = {"os": settings.GANETI_CREATEINSTANCE_KWARGS.get("os", "snf-image+default"), "start": False,
              "no_install": True, "ip_check": False, "name_check": False, "hypervisor": backend.hypervisor,
              "beparams": {"vcpus": 1, "maxmem": HELPER_MEMORY_MIB, "minmem": HELPER_MEMORY_MIB}}
    node = _primary_node(client)
    if node:
        kwargs["pnode"] = node
    else:
        kwargs["iallocator"] = settings.GANETI_IALLOCATOR
    disks = [{"size": HELPER_DISK_MIB}] if template in DIRECTORY_TEMPLATES else []
    nics = json.loads(json.dumps(settings.GANETI_DEFAULT_INSTANCE_NICS))  # Ganeti's policy wants one
    log.info("backend %s: creating the helper instance %s", backend.id, name)
    return client.create_instance(name, template, disks, nics, **kwargs)


def kept_disk_volumes(backend) -> list[int]:
    """The live volumes whose disks ``backend`` keeps detached (their data, for most templates):
    the backend cannot go while there are any."""
    return list(Volume.objects.filter(detached_on=backend, deleted=False).order_by("id").values_list("id", flat=True))


def remove_helpers(client) -> list[str]:
    """Delete the helper instances of a backend that is going (waited for): one line each.
    Raises GanetiApiError on the first failure (what is done stays done)."""
    present = {instance["id"] for instance in client.get_instances()}
    done = []
    for name in sorted(helper_names()):
        if name in present:
            client.wait_for_job(client.delete_instance(name))
            done.append(f"helper instance {name}: removed")
    return done


def _submit_kept_disk_removal(volume: Volume) -> int:
    """``remove_kept_disk`` for a user's delete: 503 when the backend cannot take the job."""
    from synnefo.cyclades.ganeti.rapi import GanetiApiError, GanetiConnectionError

    try:
        return remove_kept_disk(volume)
    except GanetiConnectionError:
        raise faults.ServiceUnavailable("The compute backend is unavailable; try again later") from None
    except GanetiApiError as exc:
        log.error("volume %s: backend %s refused the removal of its disk: %s", volume.id, volume.detached_on_id, exc)
        raise faults.ServiceUnavailable(f"The compute backend refused the removal: {exc}") from None


def kept_disk_job_ended(cluster: str, job_id, success: bool, reason: str = "") -> str:
    """A removal job of a helper instance ended (the dispatcher's event, or reconciliation
    replaying a lost one). Success, or a disk Ganeti no longer has: the volume is DELETED, its
    map removed and its quota back (an already deleted one only forgets the disk). Failure: a
    DELETING volume is available again, still charged, for the user to retry."""
    volume = (VOLUMES.select_for_update(of=("self",)).filter(detached_on__clustername=cluster, backendjobid=job_id)
              .filter(Q(status="DELETING") | Q(deleted=True)).first())
    if volume is None:
        return f"ignored: no volume waits for job {job_id} of {cluster}"
    if success or NO_SUCH_DISK in reason:
        _drop_map_quietly(volume)
        volume.detached_on = None
        if volume.status == "DELETING":
            _give_back(volume)
            _mark_deleted(volume)
        else:
            volume.save()
        return f"applied: volume {volume.id}'s disk removed from {cluster}"
    log.error("volume %s: removal of its disk from %s failed: %s", volume.id, cluster, reason)
    if volume.status == "DELETING":
        volume.status = "AVAILABLE"
        volume.save()
    return f"applied: volume {volume.id}'s disk removal failed ({reason})"


# --------------------------------------------------------------------------------- metadata


def metadata_of(volume: Volume) -> dict[str, str]:
    return {m.meta_key: m.meta_value for m in volume.metadata.all()}


def set_metadata(volume: Volume, metadata, *, replace: bool) -> dict[str, str]:
    """Merge (or, with ``replace``, replace) the volume's metadata; the caller holds the row."""
    current = {} if replace else metadata_of(volume)
    check_metadata(metadata, existing=len(set(current) - set(metadata or {})))
    if replace:
        volume.metadata.all().delete()
    for key, value in metadata.items():
        VolumeMetadata.objects.update_or_create(volume=volume, meta_key=key, defaults={"meta_value": value})
    volume.save(update_fields=["updated"])
    return metadata_of(volume)


@transaction.atomic
def update_metadata(user: str, volume_id, metadata, *, replace: bool = False) -> dict[str, str]:
    return set_metadata(get_volume(user, volume_id, for_update=True), metadata, replace=replace)


@transaction.atomic
def delete_metadata_item(user: str, volume_id, key: str) -> None:
    volume = get_volume(user, volume_id, for_update=True)
    deleted, _ = volume.metadata.filter(meta_key=key).delete()
    if not deleted:
        raise faults.ItemNotFound(f"Volume {volume.id} has no metadata '{key}'")


# ---------------------------------------------------------------- the dispatcher and servers


def settle_task(vm: VirtualMachine, success: bool) -> None:
    """A volume job of the server ended (the server's commission is decided by the caller)."""
    for volume in VOLUMES.select_for_update(of=("self",)).filter(machine=vm, deleted=False, status__in=PENDING).exclude(index=0):
        if volume.status == "CREATING":
            if success:
                volume.status = "IN_USE"
            else:
                volume.status, volume.machine, volume.index = "ERROR", None, None
        elif volume.status == "ATTACHING":
            if success:
                volume.status, volume.detached_on = "IN_USE", None
            else:
                volume.status, volume.machine, volume.index = "AVAILABLE", None, None
        elif volume.status == "DETACHING":
            if success:
                volume.status, volume.machine, volume.index, volume.detached_on = "AVAILABLE", None, None, vm.backend
            else:
                volume.status = "IN_USE"
        elif volume.status == "DELETING":
            if success:
                _drop_map_quietly(volume)
                _mark_deleted(volume)
                continue
            volume.status = "IN_USE"
        volume.save()


def server_built(vm: VirtualMachine, success: bool) -> None:
    """The server's build ended: its root volume is in use; or, on failure, an error (a new one)
    or available again (a volume booted from: it keeps its data and its own charge)."""
    root = Volume.objects.filter(machine=vm, index=0, deleted=False)
    if success:
        root.filter(status__in=("CREATING", "ATTACHING")).update(status="IN_USE")
    else:
        for volume in root.filter(status="CREATING").select_related("volume_type"):
            _drop_map_quietly(volume)  # a server that failed to build can only be deleted
            volume.status = "ERROR"
            volume.save(update_fields=["status", "updated"])
        root.filter(status="ATTACHING").update(status="AVAILABLE", machine=None, index=None)


def server_disk(vm: VirtualMachine) -> int:
    """Bytes of ``cyclades.disk`` the server's removal gives back: its root volume and the
    volumes charged with it (they all go with it)."""
    sizes = Volume.objects.filter(machine=vm, deleted=False).values_list("index", "status", "size")
    return sum(size for index, status, size in sizes if index == 0 or status in CHARGED_WITH_SERVER) * quotas.GiB


def check_server_removal(vm: VirtualMachine) -> None:
    """Refuse to delete a server holding volumes the user wants kept (delete_on_termination off)."""
    kept = list(Volume.objects.filter(machine=vm, deleted=False, delete_on_termination=False).exclude(index=0).values_list("id", flat=True))
    if kept:
        raise faults.Conflict(f"Server {vm.id} has volumes to keep ({', '.join(map(str, kept))}, delete_on_termination "
                              "false): detach them first")


def server_removed(vm: VirtualMachine) -> None:
    """The server is gone, and its volumes with it (maps removed from the store)."""
    for volume in VOLUMES.filter(machine=vm, deleted=False):
        _drop_map_quietly(volume)
        _mark_deleted(volume)


# -------------------------------------------------------------------------------- snapshots

SNAPSHOT_INTERNAL = ("volume_id", "exclude_all_tasks", "archipelago_snapshot")


def _snapshots_enabled() -> None:
    if not settings.CYCLADES_SNAPSHOTS_ENABLED:
        raise faults.NotImplementedFault("Snapshots are not enabled on this cloud")


def create_snapshot(user: str, volume_id, *, name=None, description=None, metadata=None):
    """Freeze an ``ext_archipelago`` volume (attached or not) as a Pithos file of the owner's
    ``snapshots`` container, registered as an image (``is_snapshot``): downloadable and
    deployable, a thin clone source for new volumes and servers. Returns the image."""
    from synnefo.archipelago import pithos as archip
    from synnefo.archipelago.locks import LockError
    from synnefo.archipelago.store import VolumeError
    from synnefo.plankton import backend as plankton

    _snapshots_enabled()
    metadata = check_metadata(metadata)
    description = check_text(description, "description")
    with transaction.atomic():
        volume = get_volume(user, volume_id, for_update=True)
        if not in_store(volume.volume_type):
            raise faults.BadRequest(f"Volume {volume.id} is of type {volume.volume_type.disk_template}: only "
                                    f"{', '.join(STORE_TEMPLATES)} volumes can be snapshotted")
        if volume.status not in ("AVAILABLE", "IN_USE"):
            raise faults.Conflict(f"Volume {volume.id} is {volume.status.lower()}: snapshots need an available or in-use volume")
        volume.snapshot_counter += 1
        volume.save(update_fields=["snapshot_counter", "updated"])
        snap = f"{settings.BACKEND_PREFIX_ID}snap-{volume.id}-{volume.snapshot_counter}"
    display = check_text(name, "name").strip() or snap
    store = _store_serving(volume.origin)
    try:
        store.snapshot(volume.origin, snap)
    except (LockError, VolumeError) as exc:
        raise faults.Conflict(f"Cannot snapshot volume {volume.id}: {exc}") from None
    try:
        with transaction.atomic():
            object_name = plankton._free_name(user, archip.SNAPSHOTS_CONTAINER, display)
            archip.register_snapshot(store, snap, user, object_name)
            properties = {**metadata, "volume_id": str(volume.id), "exclude_all_tasks": "yes", "archipelago_snapshot": snap}
            if volume.index == 0 and volume.machine_id:
                from synnefo.cyclades.logic.servers import metadata_of as server_metadata

                for key, value in server_metadata(volume.machine).items():
                    if key.lower() in ("os", "users"):
                        properties[key.lower()] = value
            return plankton.register(user, f"pithos://{user}/{archip.SNAPSHOTS_CONTAINER}/{object_name}",
                                     {"name": display, "description": description, "is_snapshot": True,
                                      "properties": properties})
    except BaseException:
        try:
            store.remove(snap)
        except VolumeError:
            log.error("snapshot %s of volume %s left in the store", snap, volume.id)
        raise


def get_snapshot(user: str, snapshot_id, *, owned: bool = False):
    from synnefo.plankton import backend as plankton

    _snapshots_enabled()
    try:
        image = plankton.get_image(user, snapshot_id)
    except faults.ItemNotFound:
        image = None
    if image is None or not image.is_snapshot or (owned and image.owner != user):
        raise faults.ItemNotFound(f"Snapshot {snapshot_id} not found")
    return image


def list_snapshots(user: str) -> list:
    from synnefo.plankton import backend as plankton

    _snapshots_enabled()
    return [image for image in plankton.list_all_images(owner=user) if image.is_snapshot]


def snapshot_metadata(image) -> dict[str, str]:
    return {k: v for k, v in image.properties.items() if k not in SNAPSHOT_INTERNAL}


def update_snapshot(user: str, snapshot_id, *, name=None, description=None, metadata=None, replace: bool = False):
    from synnefo.plankton import backend as plankton

    image = get_snapshot(user, snapshot_id, owned=True)
    fields = {}
    if name is not None:
        fields["name"] = check_text(name, "name")
    if description is not None:
        fields["description"] = check_text(description, "description")
    if metadata is not None:
        current = {} if replace else snapshot_metadata(image)
        check_metadata(metadata, existing=len(set(current) - set(metadata)))
        internal = {k: v for k, v in image.properties.items() if k in SNAPSHOT_INTERNAL}
        fields["properties"] = {**internal, **current, **metadata}
    return plankton.update(user, image.id, fields, merge_properties=False) if fields else image


def delete_snapshot_metadata_item(user: str, snapshot_id, key: str):
    from synnefo.plankton import backend as plankton

    image = get_snapshot(user, snapshot_id, owned=True)
    if key not in snapshot_metadata(image):
        raise faults.ItemNotFound(f"Snapshot {snapshot_id} has no metadata '{key}'")
    return plankton.update(user, image.id, {}, remove_properties=(key,))


def delete_snapshot(user: str, snapshot_id) -> None:
    """Delete the snapshot's Pithos object (and image) and its frozen map in the volume store;
    volumes cloned from it keep their own map (the block GC spares what they reference)."""
    from synnefo.archipelago.store import VolumeError
    from synnefo.pithos.backend import objects
    from synnefo.plankton import backend as plankton

    image = get_snapshot(user, snapshot_id, owned=True)
    snap = image.properties.get("archipelago_snapshot")
    with transaction.atomic():
        plankton.unregister(user, image.id)
        objects.delete_object(objects.get_container(image.owner, image.container), image.path, user)
    if snap:
        store = _store()
        try:
            if store.exists(snap):
                store.remove(snap)
        except VolumeError as exc:
            log.error("snapshot %s: map %s left in the store: %s", snapshot_id, snap, exc)
