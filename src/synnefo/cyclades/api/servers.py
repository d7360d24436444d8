"""The compute API's servers (SYNNEFO.md 4.1): list, detail, show, create, rename, delete,
metadata, actions, and the one-time deployment parameters snf-image reads (vmapi)."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.http import HttpResponse
from django.utils.dateparse import parse_datetime

from synnefo.common import faults
from synnefo.common.api import action_body, api_method, get_dict, json_body, render
from synnefo.cyclades.api.compute import api_root, self_links
from synnefo.cyclades.logic import console, keypairs, projects, server_nics, servers
from synnefo.cyclades.models import Keypair, VirtualMachine, VirtualMachineDiagnostic, VirtualMachineMetadata
from synnefo.plankton.backend import zulu


# Nova's vm_state of each status (OS-EXT-STS), for the OpenStack tools that read it.
VM_STATE = {"BUILD": "building", "ACTIVE": "active", "REBOOT": "active", "STOPPED": "stopped", "SHUTOFF": "stopped",
            "RESIZE": "resized", "ERROR": "error", "DELETED": "deleted"}


MAX_DIAGNOSTICS = 50  # newest first, per server


def _bookmark(request, version: str, kind: str, ident) -> list[dict]:
    return [{"rel": "bookmark", "href": f"{api_root(request, version)}/{kind}/{ident}"}]


def server_record(request, version: str, vm: VirtualMachine, detail: bool = True, *, metadata=None, diagnostics=None) -> dict:
    """The API's view of a server. Listings pass each server's ``metadata`` and ``diagnostics``
    read for all of them at once (see ``_related``); alone, they are read here."""
    record = {"id": str(vm.id), "name": vm.name, "links": self_links(request, version, "servers", vm.id)}
    if not detail:
        return record
    if metadata is None:
        metadata = servers.metadata_of(vm)
    if diagnostics is None:
        diagnostics = list(vm.diagnostics.all()[:MAX_DIAGNOSTICS])
    status = servers.api_status(vm)
    addresses, attachments = server_nics.addresses(vm)
    live_volumes = sorted((v for v in vm.volumes.all() if not v.deleted and v.status != "ERROR"), key=lambda v: (v.index or 0, v.id))
    if version == "v2.1" and status == "STOPPED":
        status = "SHUTOFF"  # Nova's word, what the OpenStack clients and tools wait for
    record.update({
        "status": status,
        "progress": 100 if status not in ("BUILD", "ERROR") else vm.buildpercentage if status == "BUILD" else 0,
        "flavor": {"id": vm.flavor_id, "links": _bookmark(request, version, "flavors", vm.flavor_id)},
        "image": {"id": vm.imageid, "links": _bookmark(request, version, "images", vm.imageid)} if vm.imageid else "",
        "user_id": vm.userid,
        "tenant_id": vm.project or vm.userid,
        "hostId": "",
        "accessIPv4": "",
        "accessIPv6": "",
        "addresses": addresses,
        "attachments": attachments,
        "volumes": [v.id for v in live_volumes],
        "os-extended-volumes:volumes_attached": [{"id": str(v.id), "delete_on_termination": v.delete_on_termination}
                                                 for v in live_volumes],
        "created": zulu(vm.created.timestamp()),
        "updated": zulu(vm.updated.timestamp()),
        "metadata": metadata,
        "suspended": vm.suspended,
        "deleted": vm.deleted,
        "security_groups": [{"name": "default"}],
        "config_drive": "",
        "key_name": vm.key_names[0] if vm.key_names else None,
        "SNF:key_names": vm.key_names,
        "SNF:fqdn": settings.CYCLADES_SERVERS_FQDN % {"id": vm.id},
        "SNF:port_forwarding": {},
        "SNF:task_state": servers.task_state(vm),
        "SNF:rescue": False,
        "OS-EXT-STS:task_state": servers.task_state(vm).lower() or None,
        "OS-EXT-STS:vm_state": VM_STATE.get(status, "error"),
        "OS-EXT-STS:power_state": 1 if status in ("ACTIVE", "REBOOT") else 4 if status == "SHUTOFF" else 0,
        "tags": [],
        "diagnostics": [
            {"level": d.level, "created": zulu(d.created.timestamp()), "source": d.source, "message": d.message,
             "details": d.details, "source_date": zulu(d.source_date.timestamp()) if d.source_date else None}
            for d in diagnostics
        ],
    })
    return record


def _since(request):
    value = request.GET.get("changes-since")
    if value is None:
        return None
    parsed = parse_datetime(value.replace(" ", "+"))
    if parsed is None:
        raise faults.BadRequest(f"Invalid changes-since '{value}': ISO 8601 expected")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.timezone.utc)
    return parsed


@api_method(("GET", "POST"), formats=("json", "xml"))
def servers_view(request, version, detail=None):
    if request.method == "POST":
        if detail:
            raise faults.BadRequest("Create servers at .../servers")
        return create(request, version)
    user = request.api_user.uuid
    found = VirtualMachine.objects.filter(userid=user)
    since = _since(request)
    if since is not None:
        found = found.filter(updated__gt=since)
        if not found.exists():
            return HttpResponse(status=304)
        visible = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=settings.CYCLADES_DELETED_SERVERS_VISIBLE)
        found = found.exclude(deleted=True, updated__lt=visible)
    else:
        found = found.filter(deleted=False)
    if not detail:
        return render(request, {"servers": [server_record(request, version, vm, detail=False) for vm in found]})
    found = found.prefetch_related("nics__ips", "volumes")  # addresses, attachments, volumes
    metadata, diagnostics = _related(found)
    records = [server_record(request, version, vm, metadata=metadata.get(vm.id, {}), diagnostics=diagnostics.get(vm.id, []))
               for vm in found]
    return render(request, {"servers": records})


def _related(found) -> tuple[dict, dict]:
    """The metadata and newest diagnostics of every server of ``found``, by server id, in one
    query each (Django's prefetch builds a queryset per server: most of a large listing's time)."""
    metadata: dict[int, dict] = {}
    for vm_id, key, value in VirtualMachineMetadata.objects.filter(vm__in=found.values("id")).values_list("vm_id", "meta_key", "meta_value"):
        metadata.setdefault(vm_id, {})[key] = value
    diagnostics: dict[int, list] = {}
    for d in VirtualMachineDiagnostic.objects.filter(vm__in=found.values("id")).order_by("-created", "-id"):
        rows = diagnostics.setdefault(d.vm_id, [])
        if len(rows) < MAX_DIAGNOSTICS:
            rows.append(d)
    return metadata, diagnostics


def _boot_source(body: dict) -> dict:
    """What the server boots from, as ``servers.create`` arguments: ``imageRef``, or the boot
    entry of ``block_device_mapping_v2`` as openstack sends it: ``source_type`` image or
    snapshot to a local disk or a new volume (``volume_size`` GiB, else the flavor's disk), or
    ``volume`` (an existing volume, ``destination_type`` volume)."""
    image_ref = body.get("imageRef") or None
    found = {"image_ref": image_ref}
    mappings = body.get("block_device_mapping_v2")
    if mappings is not None:
        if not isinstance(mappings, list):
            raise faults.BadRequest("'block_device_mapping_v2' must be a list")
        for mapping in mappings:
            if not isinstance(mapping, dict):
                raise faults.BadRequest("Each block_device_mapping_v2 entry must be an object")
            source, destination = mapping.get("source_type"), mapping.get("destination_type", "local")
            if (source, destination) not in (("image", "local"), ("image", "volume"), ("snapshot", "local"),
                                             ("snapshot", "volume"), ("volume", "volume")):
                raise faults.BadRequest(f"Block devices from '{source}' to '{destination}' are not available: boot from an "
                                        "image or snapshot (to a local disk or a new volume) or from a volume")
            if str(mapping.get("boot_index", 0)) not in ("0", "None"):
                raise faults.BadRequest("Only the boot device (boot_index 0) can be given; attach more volumes later")
            if not mapping.get("uuid"):
                raise faults.BadRequest("A block_device_mapping_v2 entry needs a uuid")
            if source == "volume":
                found = {"image_ref": None, "boot_volume": mapping["uuid"]}
                continue
            if image_ref and mapping["uuid"] != image_ref:
                raise faults.BadRequest("block_device_mapping_v2 names another image than imageRef")
            found["image_ref"] = mapping["uuid"]
            if destination == "volume" and mapping.get("volume_size") is not None:
                found["root_size"] = mapping["volume_size"]
    if not found["image_ref"] and "boot_volume" not in found:
        raise faults.BadRequest("Missing 'imageRef'")
    return found


def create(request, version):
    body = get_dict(json_body(request), "server")
    for count in ("min_count", "max_count"):
        if body.get(count, 1) != 1:
            raise faults.BadRequest("Servers are created one at a time (min_count = max_count = 1)")
    key_names = body.get("SNF:key_names") or ([body["key_name"]] if body.get("key_name") else [])
    project = body.get("project")
    if project is not None and project != request.api_user.uuid:
        raise faults.Forbidden("Servers can only be created in your own project for now")
    boot = _boot_source(body)
    vm, password = servers.create(
        request.api_user.uuid, body.get("name"), boot.pop("image_ref"), body.get("flavorRef"),
        metadata=body.get("metadata"), personality=body.get("personality"), password=body.get("adminPass"),
        key_names=key_names, networks=body.get("networks"), **boot,
    )
    record = server_record(request, version, vm)
    record["adminPass"] = password
    return render(request, {"server": record}, status=202, headers={"Location": record["links"][0]["href"]})


@api_method(("GET", "PUT", "DELETE"), formats=("json", "xml"))
def server_view(request, version, server_id):
    user = request.api_user.uuid
    if request.method == "DELETE":
        servers.destroy(user, server_id)
        return HttpResponse(status=204)
    if request.method == "PUT":
        body = get_dict(json_body(request), "server")
        vm = servers.rename(user, server_id, body.get("name"))
        return render(request, {"server": server_record(request, version, vm)})
    return render(request, {"server": server_record(request, version, servers.get_server(user, server_id))})


NOT_IMPLEMENTED = ("changePassword", "rebuild", "confirmResize", "revertResize", "suspend", "resume", "pause", "unpause",
                   "createImage", "os-getSPICEConsole", "os-getRDPConsole", "rescue", "unrescue", "addFloatingIp",
                   "removeFloatingIp")


@api_method(("POST",), formats=("json", "xml"))
def action_view(request, version, server_id):
    action, args = action_body(request)
    user = request.api_user.uuid
    if action in ("start", "os-start"):
        servers.start(user, server_id)
    elif action in ("shutdown", "os-stop"):
        servers.shutdown(user, server_id)
    elif action == "reboot":
        args = args if isinstance(args, dict) else {}
        servers.reboot(user, server_id, str(args.get("type", "SOFT")).upper())
    elif action == "resize":
        if not isinstance(args, dict) or "flavorRef" not in args:
            raise faults.BadRequest("resize needs {'flavorRef': <flavor id>}")
        servers.resize(user, server_id, args["flavorRef"])
    elif action == "reassign":
        projects.reassign_server(user, server_id, projects.check_target(args))
        return HttpResponse(status=200)
    elif action == "firewallProfile":
        if not isinstance(args, dict) or "profile" not in args or "nic" not in args:
            raise faults.BadRequest("firewallProfile needs {'profile': 'ENABLED|DISABLED|PROTECTED', 'nic': <port id>}")
        server_nics.set_firewall_profile(user, server_id, args["profile"], args["nic"])
    elif action == "console":
        if not isinstance(args, dict) or "type" not in args:
            raise faults.BadRequest("console needs {'type': 'vnc'}")
        return render(request, {"console": console.get_console(user, server_id, args["type"])})
    elif action == "os-getVNCConsole":
        if not isinstance(args, dict) or "type" not in args:
            raise faults.BadRequest("os-getVNCConsole needs {'type': 'novnc'}")
        return render(request, {"console": console.get_novnc_console(user, server_id, args["type"])})
    elif action in NOT_IMPLEMENTED:
        servers.get_server(user, server_id)
        raise faults.NotImplementedFault(f"Action '{action}' is not implemented")
    else:
        raise faults.BadRequest(f"Unknown action '{action}'")
    return HttpResponse(status=202)


@api_method(("GET", "POST"), formats=("json", "xml"))
def metadata_view(request, version, server_id):
    user = request.api_user.uuid
    if request.method == "POST":
        metadata = servers.update_metadata(user, server_id, get_dict(json_body(request), "metadata"))
        return render(request, {"metadata": metadata}, status=201)
    return render(request, {"metadata": servers.metadata_of(servers.get_server(user, server_id))})


@api_method(("GET", "PUT", "DELETE"), formats=("json", "xml"))
def metadata_item_view(request, version, server_id, key):
    user = request.api_user.uuid
    if request.method == "PUT":
        meta = get_dict(json_body(request), "meta")
        if list(meta) != [key]:
            raise faults.BadRequest("The body must be {\"meta\": {\"<key>\": <value>}} for the key in the URL")
        metadata = servers.update_metadata(user, server_id, meta)
        return render(request, {"meta": {key: metadata[key]}}, status=201)
    if request.method == "DELETE":
        servers.delete_metadata_item(user, server_id, key)
        return HttpResponse(status=204)
    metadata = servers.metadata_of(servers.get_server(user, server_id))
    if key not in metadata:
        raise faults.ItemNotFound(f"Server {server_id} has no metadata '{key}'")
    return render(request, {"meta": {key: metadata[key]}})


@api_method(("GET",), formats=("json", "xml"))
def ips_view(request, version, server_id):
    vm = servers.get_server(request.api_user.uuid, server_id)
    return render(request, {"addresses": server_nics.addresses(vm)[0]})


@api_method(("GET",), formats=("json", "xml"))
def diagnostics_view(request, version, server_id):
    vm = servers.get_server(request.api_user.uuid, server_id)
    return render(request, server_record(request, version, vm)["diagnostics"])


@api_method(("GET",), token_required=False)
def server_params_view(request, key):
    """snf-image's one read of a server's secret deployment parameters; the key is the secret."""
    return render(request, servers.read_params(key))


# --- key pairs ---------------------------------------------------------------------------------


def keypair_record(record, detail: bool = False) -> dict:
    data = {"name": record.name, "public_key": record.public_key, "fingerprint": record.fingerprint}
    if detail:
        data.update({"user_id": record.userid, "created_at": zulu(record.created.timestamp()), "deleted": False,
                     "id": record.id, "type": "ssh"})
    return data


@api_method(("GET", "POST"), formats=("json", "xml"))
def keypairs_view(request, version):
    user = request.api_user.uuid
    if request.method == "POST":
        body = get_dict(json_body(request), "keypair")
        record, private = keypairs.create(user, body.get("name"), body.get("public_key"))
        data = {**keypair_record(record, detail=True)}
        if private is not None:
            data["private_key"] = private  # shown once, never stored
        return render(request, {"keypair": data}, status=200)
    return render(request, {"keypairs": [{"keypair": keypair_record(k)} for k in Keypair.objects.filter(userid=user)]})


@api_method(("GET", "DELETE"), formats=("json", "xml"))
def keypair_view(request, version, name):
    user = request.api_user.uuid
    if request.method == "DELETE":
        keypairs.delete(user, name)
        return HttpResponse(status=202)
    return render(request, {"keypair": keypair_record(keypairs.get(user, name), detail=True)})
