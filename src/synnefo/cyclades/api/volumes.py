"""The volume API (docs/volume-api.md): Cinder v3 at ``volume/v3/<project>`` (what the
OpenStack clients use) and Synnefo's ``volume/v2.0`` (kamaki), over the same logic
(logic/volumes.py). Both serve volumes, their metadata, volume types and snapshots; they differ
only in the spelling of a few fields (``in-use`` / ``in_use``, the volume type by name / id).
Nova's ``os-volume_attachments`` of servers (``openstack server add/remove volume``) is here too.
"""

from __future__ import annotations

import functools

from django.http import HttpResponse

from synnefo.common import faults
from synnefo.common.api import action_body, api_method, get_dict, json_body, render
from synnefo.common.components import COMPONENTS
from synnefo.cyclades.logic import projects, volumes
from synnefo.cyclades.models import Volume, VolumeMetadata
from synnefo.plankton.backend import zulu

UPDATED = "2024-01-01T00:00:00Z"


def _root(request, version: str) -> str:
    return f"{COMPONENTS['cyclades'].base_url(request)}/volume/{version}"


def _version_record(request, version: str) -> dict:
    v3 = version == "v3"
    return {"id": "v3.0" if v3 else "v2.0", "status": "CURRENT" if v3 else "SUPPORTED", "updated": UPDATED,
            "version": "3.0" if v3 else "", "min_version": "3.0" if v3 else "",
            "links": [{"rel": "self", "href": _root(request, version) + "/"}],
            "media-types": [{"base": "application/json", "type": f"application/vnd.openstack.volume+json;version={version[1]}"}]}


@api_method(("GET",), token_required=False)
def versions(request):
    return render(request, {"versions": [_version_record(request, v) for v in ("v3", "v2.0")]}, status=300)


@api_method(("GET",), token_required=False)
def version(request, version):
    return render(request, {"version": _version_record(request, "v3" if version.startswith("v3") else "v2.0")})


def versioned(view):
    """The view with ``version`` ("v3" or "v2.0") and ``project`` (v3 only) from the URL."""

    @functools.wraps(view)  # keeps api_method's csrf_exempt
    def wrapper(request, version=None, v3=None, **kwargs):
        return view(request, "v3" if v3 else "v2.0", **kwargs)

    return wrapper


def _user(request, project) -> str:
    """The caller; a project in the URL (Cinder v3) must be the caller's own."""
    user = request.api_user.uuid
    if project is not None and project != user:
        raise faults.Forbidden(f"Project {project} is not yours: use /volume/v3/{user}")
    return user


def _status(status: str, v3: bool) -> str:
    status = status.lower()
    return status.replace("_", "-") if v3 and status == "in_use" else status


def _ts(value) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.%f")


def _links(request, version: str, project, kind: str, ident) -> list[dict]:
    base = _root(request, version) + (f"/{project}" if project else "")
    href = f"{base}/{kind}/{ident}"
    return [{"rel": "self", "href": href}, {"rel": "bookmark", "href": href}]


def attachment_record(volume: Volume) -> dict:
    device = f"/dev/vd{chr(ord('a') + volume.index)}" if volume.index is not None and volume.index < 26 else None
    return {"id": str(volume.id), "attachment_id": str(volume.id), "volume_id": str(volume.id), "server_id": str(volume.machine_id),
            "serverId": str(volume.machine_id), "volumeId": str(volume.id), "device": device, "host_name": None,
            "attached_at": _ts(volume.updated)}


def volume_record(request, version, project, volume: Volume, detail: bool = True, metadata=None) -> dict:
    v3 = version.startswith("v3")
    record = {"id": str(volume.id), "name": volume.name, "display_name": volume.name,
              "links": _links(request, "v3" if v3 else "v2.0", project, "volumes", volume.id)}
    if not detail:
        return record
    kind, ident = volume.source_kind, volume.source_id
    attached = volume.machine_id is not None and volume.status in ("IN_USE", "DETACHING", "DELETING")
    record.update({
        "status": _status(volume.status, v3),
        "size": volume.size,
        "description": volume.description,
        "display_description": volume.description,
        "volume_type": volume.volume_type.name if v3 else str(volume.volume_type_id),
        "availability_zone": "nova",
        "bootable": "true" if kind in ("image", "snapshot") else "false",
        "encrypted": False,
        "multiattach": False,
        "created_at": _ts(volume.created),
        "updated_at": _ts(volume.updated),
        "metadata": volumes.metadata_of(volume) if metadata is None else metadata,
        "snapshot_id": ident if kind == "snapshot" else None,
        "source_volid": ident if kind == "volume" else None,
        "image_id": ident if kind == "image" else None,
        "attachments": [attachment_record(volume)] if attached else [],
        "user_id": volume.userid,
        "tenant_id": volume.project,
        "os-vol-tenant-attr:tenant_id": volume.project,
        "replication_status": None,
        "consistencygroup_id": None,
        "delete_on_termination": volume.delete_on_termination,
        "deleted": volume.deleted,
        "server_id": str(volume.machine_id) if volume.machine_id else None,
        "SNF:index": volume.index,
    })
    return record


def _texts(body: dict) -> dict:
    """``name`` and ``description`` of a body, in Cinder v3's or v2's words."""
    return {"name": body.get("name", body.get("display_name")),
            "description": body.get("description", body.get("display_description"))}


def _filter(request, found):
    name = request.GET.get("name") or request.GET.get("display_name")
    if name:
        found = found.filter(name=name)
    if request.GET.get("status"):
        wanted = request.GET["status"].upper().replace("-", "_")
        found = found.filter(status=wanted)
    return found


@api_method(("GET", "POST"))
def volumes_view(request, version, project=None, detail=None):
    user = _user(request, project)
    if request.method == "POST":
        if detail:
            raise faults.BadRequest("Create volumes at .../volumes")
        body = get_dict(json_body(request), "volume")
        volume = volumes.create(
            user, body.get("size"), **_texts(body), volume_type=body.get("volume_type") or None,
            server_id=body.get("server_id"),
            snapshot_id=body.get("snapshot_id"), image_id=body.get("imageRef") or body.get("image_id"),
            source_volid=body.get("source_volid"), metadata=body.get("metadata") or None, project=body.get("project"),
        )
        return render(request, {"volume": volume_record(request, version, project, volume)}, status=202)
    found = _filter(request, volumes.VOLUMES.filter(userid=user, deleted=False))
    if not detail:
        return render(request, {"volumes": [volume_record(request, version, project, v, detail=False) for v in found]})
    metadata: dict[int, dict] = {}
    for vid, key, value in VolumeMetadata.objects.filter(volume__in=found.values("id")).values_list("volume_id", "meta_key", "meta_value"):
        metadata.setdefault(vid, {})[key] = value
    return render(request, {"volumes": [volume_record(request, version, project, v, metadata=metadata.get(v.id, {})) for v in found]})


@api_method(("GET", "PUT", "DELETE"))
def volume_view(request, version, volume_id, project=None):
    user = _user(request, project)
    if request.method == "DELETE":
        volumes.delete(user, volume_id)
        return HttpResponse(status=202)
    if request.method == "PUT":
        body = get_dict(json_body(request), "volume")
        volume = volumes.update(user, volume_id, **_texts(body), metadata=body.get("metadata"),
                                delete_on_termination=body.get("delete_on_termination"))
        return render(request, {"volume": volume_record(request, version, project, volume)})
    return render(request, {"volume": volume_record(request, version, project, volumes.get_volume(user, volume_id))})


@api_method(("POST",))
def volume_action(request, version, volume_id, project=None):
    """Synnefo's ``reassign`` and Cinder's ``os-extend``; Cinder's attach / detach bookkeeping
    is Nova's here."""
    user = _user(request, project)
    action, args = action_body(request)
    if action == "reassign":
        projects.reassign_volume(user, volume_id, projects.check_target(args))
        return HttpResponse(status=200)
    if action == "os-extend":
        if not isinstance(args, dict) or "new_size" not in args:
            raise faults.BadRequest('The body must be {"os-extend": {"new_size": <GiB>}}')
        volumes.extend(user, volume_id, args["new_size"])
        return HttpResponse(status=202)
    volumes.get_volume(user, volume_id)
    raise faults.BadRequest(f"Volume action '{action}' is not available; attach and detach through the server "
                            "(os-volume_attachments), or create the volume with a server_id")


# --- metadata (volumes and snapshots) ------------------------------------------------------------


def _metadata_views(read, write, delete_item):
    """GET / POST (merge) / PUT (replace) of ``.../metadata`` and GET / PUT / DELETE of one key."""

    @api_method(("GET", "POST", "PUT"))
    def collection(request, version, ident, project=None):
        user = _user(request, project)
        if request.method == "GET":
            return render(request, {"metadata": read(user, ident)})
        metadata = write(user, ident, get_dict(json_body(request), "metadata"), replace=request.method == "PUT")
        return render(request, {"metadata": metadata})

    @api_method(("GET", "PUT", "DELETE"))
    def item(request, version, ident, key, project=None):
        user = _user(request, project)
        if request.method == "DELETE":
            delete_item(user, ident, key)
            return HttpResponse(status=200)
        if request.method == "PUT":
            meta = get_dict(json_body(request), "meta")
            if list(meta) != [key]:
                raise faults.BadRequest('The body must be {"meta": {"<key>": <value>}} for the key in the URL')
            return render(request, {"meta": {key: write(user, ident, meta, replace=False)[key]}})
        metadata = read(user, ident)
        if key not in metadata:
            raise faults.ItemNotFound(f"No metadata '{key}'")
        return render(request, {"meta": {key: metadata[key]}})

    return collection, item


volume_metadata, volume_metadata_item = _metadata_views(
    lambda user, ident: volumes.metadata_of(volumes.get_volume(user, ident)),
    volumes.update_metadata, volumes.delete_metadata_item)


# --- volume types ----------------------------------------------------------------------------------


def type_record(vt) -> dict:
    return {"id": str(vt.id), "name": vt.name, "description": None, "is_public": True, "deleted": vt.deleted,
            "extra_specs": {}, "os-volume-type-access:is_public": True,
            "SNF:disk_template": vt.disk_template, "SNF:detachable": volumes.detachable(vt)}


@api_method(("GET",))
def types_view(request, version, project=None):
    _user(request, project)
    from synnefo.cyclades.models import VolumeType

    return render(request, {"volume_types": [type_record(vt) for vt in VolumeType.objects.filter(deleted=False)]})


@api_method(("GET",))
def type_view(request, version, type_id, project=None):
    _user(request, project)
    return render(request, {"volume_type": type_record(volumes.get_volume_type(type_id))})


# --- snapshots -------------------------------------------------------------------------------------


def snapshot_record(request, version, project, image, detail: bool = True) -> dict:
    v3 = version.startswith("v3")
    record = {"id": image.id, "name": image.name, "display_name": image.name,
              "links": _links(request, "v3" if v3 else "v2.0", project, "snapshots", image.id)}
    if not detail:
        return record
    size_gib = -(-image.size // volumes.quotas.GiB)
    record.update({
        "volume_id": image.properties.get("volume_id"),
        "size": size_gib,
        "status": "available" if image.status == "AVAILABLE" else image.status.lower(),
        "progress": "100%",
        "description": image.description,
        "display_description": image.description,
        "created_at": zulu(image.created_at),
        "updated_at": zulu(image.updated_at),
        "metadata": volumes.snapshot_metadata(image),
        "user_id": image.owner,
        "os-extended-snapshot-attributes:project_id": image.owner,
        "os-extended-snapshot-attributes:progress": "100%",
        "group_snapshot_id": None,
        "SNF:location": image.location,
    })
    return record


@api_method(("GET", "POST"))
def snapshots_view(request, version, project=None, detail=None):
    user = _user(request, project)
    if request.method == "POST":
        if detail:
            raise faults.BadRequest("Create snapshots at .../snapshots")
        body = get_dict(json_body(request), "snapshot")
        if body.get("volume_id") is None:
            raise faults.BadRequest("A snapshot needs a volume_id")
        image = volumes.create_snapshot(user, body["volume_id"], **_texts(body),
                                        metadata=body.get("metadata") or None)
        return render(request, {"snapshot": snapshot_record(request, version, project, image)}, status=202)
    found = volumes.list_snapshots(user)
    name = request.GET.get("name") or request.GET.get("display_name")
    if name:
        found = [s for s in found if s.name == name]
    return render(request, {"snapshots": [snapshot_record(request, version, project, s, detail=bool(detail)) for s in found]})


@api_method(("GET", "PUT", "DELETE"))
def snapshot_view(request, version, snapshot_id, project=None):
    user = _user(request, project)
    if request.method == "DELETE":
        volumes.delete_snapshot(user, snapshot_id)
        return HttpResponse(status=202)
    if request.method == "PUT":
        body = get_dict(json_body(request), "snapshot")
        image = volumes.update_snapshot(user, snapshot_id, **_texts(body),
                                        metadata=body.get("metadata"), replace=True)
        return render(request, {"snapshot": snapshot_record(request, version, project, image)})
    return render(request, {"snapshot": snapshot_record(request, version, project, volumes.get_snapshot(user, snapshot_id))})


snapshot_metadata, snapshot_metadata_item = _metadata_views(
    lambda user, ident: volumes.snapshot_metadata(volumes.get_snapshot(user, ident)),
    lambda user, ident, metadata, replace: volumes.snapshot_metadata(
        volumes.update_snapshot(user, ident, metadata=metadata, replace=replace)),
    volumes.delete_snapshot_metadata_item)


@api_method(("GET",), token_required=False)
def unknown(request, rest=""):
    raise faults.ItemNotFound(f"Not a volume API URL: {request.path}")


# --- Nova's os-volume_attachments of a server --------------------------------------------------------


def _nova_attachment(volume: Volume) -> dict:
    record = attachment_record(volume)
    return {"id": record["id"], "serverId": record["server_id"], "volumeId": record["volume_id"], "device": record["device"],
            "tag": None, "delete_on_termination": volume.delete_on_termination}


@api_method(("GET", "POST"), formats=("json", "xml"))
def server_attachments(request, version, server_id):
    from synnefo.cyclades.logic import servers

    user = request.api_user.uuid
    if request.method == "POST":
        body = get_dict(json_body(request), "volumeAttachment")
        if not body.get("volumeId"):
            raise faults.BadRequest("volumeAttachment needs a volumeId")
        try:
            volumes.get_volume(user, body["volumeId"])
        except faults.ItemNotFound:
            raise faults.ItemNotFound(f"Volume {body['volumeId']} could not be found") from None
        servers.get_server(user, server_id, include_deleted=False)
        volume = volumes.attach(user, body["volumeId"], server_id)
        if body.get("delete_on_termination") is not None:
            volume = volumes.update(user, volume.id, delete_on_termination=body["delete_on_termination"])
        return render(request, {"volumeAttachment": _nova_attachment(volume)})
    vm = servers.get_server(user, server_id)
    found = Volume.objects.filter(machine=vm, deleted=False).exclude(status__in=("ERROR",))
    return render(request, {"volumeAttachments": [_nova_attachment(v) for v in found]})


@api_method(("GET", "DELETE"), formats=("json", "xml"))
def server_attachment(request, version, server_id, volume_id):
    from synnefo.cyclades.logic import servers

    user = request.api_user.uuid
    vm = servers.get_server(user, server_id)
    volume = Volume.objects.filter(machine=vm, deleted=False, pk=int(volume_id) if str(volume_id).isdigit() else -1).first()
    if volume is None:
        raise faults.ItemNotFound(f"Volume {volume_id} is not attached to server {server_id}")
    if request.method == "DELETE":
        volumes.detach(user, volume.id, server_id)
        return HttpResponse(status=202)
    return render(request, {"volumeAttachment": _nova_attachment(volume)})
