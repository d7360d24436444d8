"""A Glance v2 subset over the same images, for the OpenStack clients (CLIENTS-OPENSTACK.md):
the version document at the unversioned root, list (with ``id=in:`` and the usual filters and
paging), show, create then ``PUT .../file`` (stored in Pithos), download, JSON-patch update and
delete. Glance's delete removes the data too: the Pithos file goes with the image."""

from __future__ import annotations

import json
from django.conf import settings
from django.http import StreamingHttpResponse

from synnefo.common import faults
from synnefo.common.api import api_method, json_body, render
from synnefo.common.components import COMPONENTS
from synnefo.pithos.api.util import body_reader, content_length
from synnefo.pithos.backend import objects
from synnefo.plankton import backend
from synnefo.plankton.backend import zulu

STATUS = {"QUEUED": "queued", "SAVING": "saving", "AVAILABLE": "active", "ERROR": "killed"}
# Fields of a Glance image that are not free-form properties.
CORE = {"id", "name", "status", "visibility", "protected", "checksum", "os_hash_algo", "os_hash_value", "owner",
        "size", "virtual_size", "min_disk", "min_ram", "container_format", "disk_format", "created_at",
        "updated_at", "tags", "direct_url", "locations", "self", "file", "schema", "os_hidden"}
SETTABLE = {"name", "visibility", "container_format", "disk_format", "tags", "min_disk", "min_ram", "protected", "os_hidden"}
PATCH_TYPE = "application/openstack-images-v2.1-json-patch"
MAX_LIMIT = 1000


def image_record(image: backend.Image) -> dict:
    visibility = "public" if image.is_public else ("shared" if image.members else "private")
    properties = dict(image.properties)
    record = {
        "id": image.id,
        "name": image.name,
        "status": STATUS.get(image.status, "queued"),
        "visibility": visibility,
        "protected": False,
        "os_hidden": False,
        "disk_format": image.disk_format,
        "container_format": image.container_format,
        "size": image.size if image.status == "AVAILABLE" else None,
        "virtual_size": None,
        "checksum": (image.md5 or None) if image.status == "AVAILABLE" else None,
        "os_hash_algo": None,
        "os_hash_value": None,
        "min_disk": int(properties.pop("min_disk", 0) or 0),
        "min_ram": int(properties.pop("min_ram", 0) or 0),
        "owner": image.owner,
        "tags": image.tags,
        "created_at": zulu(image.created_at),
        "updated_at": zulu(image.updated_at),
        "self": f"/v2/images/{image.id}",
        "file": f"/v2/images/{image.id}/file",
        "schema": "/v2/schemas/image",
    }
    for key, value in properties.items():
        record.setdefault(key, value)
    return record


@api_method(("GET",), token_required=False)
def versions(request):
    href = f"{COMPONENTS['cyclades'].base_url(request)}/image/v2/"
    docs = [{"id": v, "status": s, "links": [{"rel": "self", "href": href}]} for v, s in (("v2.9", "CURRENT"), ("v2.0", "SUPPORTED"))]
    return render(request, {"versions": docs}, status=300)


def _fields(data: dict) -> tuple[dict, bool | None, set[str]]:
    """Plankton fields, visibility (True/False/None) and the custom properties named."""
    fields: dict = {}
    properties = {}
    for key, value in data.items():
        if key in ("name", "container_format", "disk_format", "tags"):
            fields[key] = value
        elif key in ("min_disk", "min_ram"):
            if not isinstance(value, int) or value < 0:
                raise faults.BadRequest(f"'{key}' must be a non-negative integer")
            properties[key] = str(value)
        elif key in ("protected", "os_hidden"):
            if value not in (False, None):
                raise faults.BadRequest(f"'{key}' is not supported")
        elif key in CORE and key not in ("visibility", "id"):
            raise faults.Forbidden(f"Attribute '{key}' is read-only")
        elif key not in ("visibility", "id"):
            if not isinstance(value, str):
                raise faults.BadRequest(f"Property '{key}' must be a string")
            properties[key] = value
    if properties:
        fields["properties"] = properties
    visibility = data.get("visibility")
    if visibility not in (None, "public", "private", "shared", "community"):
        raise faults.BadRequest(f"Invalid visibility '{visibility}'")
    public = None if visibility is None else visibility in ("public", "community")
    return fields, public, set(properties)


@api_method(("GET", "POST"))
def images(request):
    user = request.api_user.uuid
    if request.method == "POST":
        data = json_body(request)
        fields, public, _ = _fields(data)
        fields.setdefault("disk_format", "raw")
        fields.setdefault("container_format", "bare")
        # The openstack CLI names the Pithos object it would like ("container/path").
        object_path = data.get("owner_specified.openstack.object")
        if object_path is not None and not isinstance(object_path, str):
            raise faults.BadRequest("'owner_specified.openstack.object' must be a string")
        image = backend.create_file_image(user, fields, object_path=object_path, image_id=data.get("id"), is_public=public)
        return render(request, image_record(image), status=201, headers={"Location": f"/v2/images/{image.id}"})
    return _list(request, user)


def _list(request, user):
    found = backend.list_images(user)
    params = request.GET
    ids = params.get("id")
    if ids:
        wanted = set(ids[3:].split(",")) if ids.startswith("in:") else {ids}
        found = [i for i in found if i.id in wanted]
    for field in ("name", "disk_format", "container_format", "owner"):
        if params.get(field):
            found = [i for i in found if getattr(i, field) == params[field]]
    if params.get("status"):
        found = [i for i in found if STATUS.get(i.status) == params["status"]]
    if params.get("visibility") and params["visibility"] != "all":
        found = [i for i in found if image_record(i)["visibility"] == params["visibility"]]
    for tag in params.getlist("tag"):
        found = [i for i in found if tag in i.tags]
    sort_key = params.get("sort_key", "created_at")
    sort_dir = params.get("sort_dir", "desc")
    if sort_key not in ("name", "status", "size", "created_at", "updated_at", "id", "disk_format", "container_format") or sort_dir not in ("asc", "desc"):
        raise faults.BadRequest("Invalid sort_key or sort_dir")
    found.sort(key=lambda i: (getattr(i, sort_key) or 0 if sort_key == "size" else getattr(i, sort_key), i.id), reverse=sort_dir == "desc")
    marker = params.get("marker")
    if marker:
        position = next((n for n, i in enumerate(found) if i.id == marker), None)
        if position is None:
            raise faults.BadRequest(f"marker {marker} not found")
        found = found[position + 1:]
    try:
        limit = min(int(params.get("limit", MAX_LIMIT)), MAX_LIMIT)
    except ValueError:
        raise faults.BadRequest("Invalid limit") from None
    if limit < 0:
        raise faults.BadRequest("Invalid limit")
    page = found[:limit]
    body = {"images": [image_record(i) for i in page], "first": "/v2/images", "schema": "/v2/schemas/images"}
    if len(found) > limit and page:
        body["next"] = f"/v2/images?marker={page[-1].id}&limit={limit}"
    return render(request, body)


@api_method(("GET", "PATCH", "DELETE"))
def image(request, image_id):
    user = request.api_user.uuid
    if request.method in ("GET", "HEAD"):
        return render(request, image_record(backend.get_image(user, image_id)))
    if request.method == "DELETE":
        found = backend.owned_image(user, image_id)
        backend.unregister(user, image_id)
        objects.delete_object(objects.get_container(found.owner, found.container), found.path, user)
        return render(request, None, status=204)
    return _patch(request, user, image_id)


def _patch(request, user, image_id):
    content_type = request.META.get("CONTENT_TYPE", "").split(";")[0].strip()
    if content_type != PATCH_TYPE:
        raise faults.BadMediaType(f"Expected {PATCH_TYPE}")
    try:
        operations = json.loads(request.body or b"null")
    except ValueError:
        raise faults.BadRequest("Malformed JSON patch") from None
    if not isinstance(operations, list):
        raise faults.BadRequest("A JSON patch is a list of operations")
    current = backend.owned_image(user, image_id)
    changes: dict = {}
    removed = []
    for op in operations:
        if not isinstance(op, dict) or op.get("op") not in ("add", "replace", "remove") or not isinstance(op.get("path"), str):
            raise faults.BadRequest("Each operation needs 'op' (add, replace, remove) and 'path'")
        key = op["path"].lstrip("/")
        if op["op"] == "remove":
            if key in CORE:
                raise faults.Forbidden(f"Attribute '{key}' cannot be removed")
            if backend.property_key(key) not in current.properties:
                raise faults.Conflict(f"Property '{key}' does not exist")
            removed.append(key)
        else:
            if "value" not in op:
                raise faults.BadRequest(f"Operation on '{key}' needs a value")
            changes[key] = op["value"]
    fields, public, _ = _fields(changes)
    image = backend.update(user, image_id, fields, is_public=public, remove_properties=tuple(removed))
    return render(request, image_record(image))


@api_method(("GET", "PUT"), max_body=lambda: settings.PITHOS_MAX_OBJECT_SIZE)
def image_file(request, image_id):
    user = request.api_user.uuid
    if request.method == "PUT":
        length = content_length(request)
        backend.upload(user, image_id, body_reader(request, length), length)
        return render(request, None, status=204)
    found = backend.get_image(user, image_id)
    if found.status != "AVAILABLE":
        return render(request, None, status=204)  # Glance: no data yet
    version = found.version
    response = StreamingHttpResponse(
        objects.read_range(objects.split_map(version.hashmap), version.size, 0, version.size),
        content_type="application/octet-stream",
    )
    response["Content-Length"] = str(version.size)
    if found.md5:
        response["Content-MD5"] = found.md5
    return response
