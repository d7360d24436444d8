"""Synnefo's image API v1.0 (Glance v1 style, SYNNEFO.md 5), as kamaki 0.16 uses it: metadata
in ``X-Image-Meta-*`` headers (names and property values URL-quoted), listings as bare JSON
arrays, registration of an existing Pithos file by ``pithos://`` location."""

from __future__ import annotations

import json
from urllib.parse import quote, unquote

from synnefo.common import faults
from synnefo.common.api import api_method, render
from synnefo.plankton import backend
from synnefo.plankton.backend import iso

LIST_FIELDS = ("id", "name", "status", "disk_format", "container_format", "size")
SORT_KEYS = ("id", "name", "status", "size", "disk_format", "container_format", "created_at", "updated_at")
PROPERTY_PREFIX = "HTTP_X_IMAGE_META_PROPERTY_"


def detail_record(image: backend.Image) -> dict:
    return {
        "id": image.id,
        "name": image.name,
        "status": image.status,
        "disk_format": image.disk_format,
        "container_format": image.container_format,
        "size": image.size,
        "checksum": image.checksum,
        "location": image.location,
        "created_at": iso(image.created_at),
        "updated_at": iso(image.updated_at),
        "deleted_at": "",
        "is_public": image.is_public,
        "is_snapshot": image.is_snapshot,
        "description": image.description,
        "owner": image.owner,
        "properties": image.properties,
    }


def image_headers(image: backend.Image) -> dict:
    record = detail_record(image)
    headers = {}
    for key, value in record.items():
        if key == "properties":
            continue
        name = "X-Image-Meta-" + "-".join(part.capitalize() for part in key.split("_"))
        headers[name] = quote(str(value).lower() if isinstance(value, bool) else str(value), safe=":/@+-_.,=;")
    for key, value in image.properties.items():
        headers[f"X-Image-Meta-Property-{key}"] = quote(value, safe=":/@+-_.,=;")
    return headers


def _header(request, name: str) -> str | None:
    value = request.META.get("HTTP_X_IMAGE_META_" + name.upper().replace("-", "_"))
    if value is None:
        return None
    return unquote(value.encode("latin-1").decode("utf-8", "replace")).strip()


def _bool(value: str, name: str) -> bool:
    if value.lower() in ("true", "1", "yes"):
        return True
    if value.lower() in ("false", "0", "no"):
        return False
    raise faults.BadRequest(f"Invalid X-Image-Meta-{name}: '{value}'")


def _fields_from_headers(request, *, registering: bool) -> tuple[dict, dict]:
    """(metadata fields, other options) from the request's X-Image-Meta-* headers."""
    if _header(request, "Id") is not None:
        raise faults.BadRequest("Image ids are assigned by the service (X-Image-Meta-Id is not accepted)")
    store = _header(request, "Store")
    if store is not None and store != "pithos":
        raise faults.BadRequest("The only store is 'pithos'")
    fields, options = {}, {}
    for header, field in (("Name", "name"), ("Disk-Format", "disk_format"), ("Container-Format", "container_format"),
                          ("Description", "description")):
        value = _header(request, header)
        if value is not None:
            fields[field] = value
    properties = {}
    for key, value in request.META.items():
        if key.startswith(PROPERTY_PREFIX):
            properties[key[len(PROPERTY_PREFIX):]] = unquote(value.encode("latin-1").decode("utf-8", "replace")).strip()
    if properties or registering:
        fields["properties"] = properties
    public = _header(request, "Is-Public")
    options["is_public"] = _bool(public, "Is-Public") if public is not None else None
    size = _header(request, "Size")
    if size is not None:
        if not size.isdigit():
            raise faults.BadRequest(f"Invalid X-Image-Meta-Size: '{size}'")
        options["size"] = int(size)
    options["checksum"] = _header(request, "Checksum")
    owner = _header(request, "Owner")
    if owner is not None and owner != request.api_user.uuid:
        raise faults.Forbidden("An image's owner is the user who registers it")
    return fields, options


def _image_response(request, image, status=200):
    return render(request, {"image": detail_record(image)}, status=status, headers=image_headers(image))


@api_method(("GET", "POST"))
def images(request, detail=None):
    if request.method == "POST":
        return register(request)
    return list_images(request, bool(detail))


def register(request):
    if request.body:
        raise faults.NotImplementedFault("Image data uploads are not supported: upload the file to Pithos, then register its location")
    location = _header(request, "Location")
    if not location:
        raise faults.NotImplementedFault("X-Image-Meta-Location (pithos://<account>/<container>/<path>) is required")
    fields, options = _fields_from_headers(request, registering=True)
    if not fields.get("name"):
        raise faults.BadRequest("X-Image-Meta-Name is required")
    image = backend.register(request.api_user.uuid, location, fields, is_public=options["is_public"],
                             size=options.get("size"), checksum=options["checksum"])
    return _image_response(request, image)


def list_images(request, detail: bool):
    found = backend.list_images(request.api_user.uuid)
    params = request.GET
    for field in ("name", "container_format", "disk_format", "status"):
        if params.get(field):
            found = [i for i in found if getattr(i, field) == params[field]]
    for field, keep in (("size_min", lambda i, n: i.size >= n), ("size_max", lambda i, n: i.size <= n)):
        if params.get(field) is not None:
            if not params[field].isdigit():
                raise faults.BadRequest(f"Invalid {field}: '{params[field]}'")
            found = [i for i in found if keep(i, int(params[field]))]
    sort_key = params.get("sort_key", "created_at")
    sort_dir = params.get("sort_dir", "desc")
    if sort_key not in SORT_KEYS or sort_dir not in ("asc", "desc"):
        raise faults.BadRequest(f"sort_key must be one of {', '.join(SORT_KEYS)}; sort_dir asc or desc")
    found.sort(key=lambda i: (getattr(i, sort_key), i.id), reverse=sort_dir == "desc")
    records = [detail_record(i) for i in found]
    if not detail:
        records = [{k: r[k] for k in LIST_FIELDS} for r in records]
    return render(request, records)  # a bare list: kamaki 0.16 cannot read {"images": [...]}


@api_method(("GET", "PUT", "DELETE"))
def image(request, image_id):
    user = request.api_user.uuid
    if request.method == "HEAD":
        return _image_response(request, backend.get_image(user, image_id))
    if request.method == "GET":
        backend.get_image(user, image_id)  # 404 first, as for any unknown image
        raise faults.NotImplementedFault("Image data is downloaded from Pithos (see the image's location)")
    if request.method == "DELETE":
        backend.unregister(user, image_id)
        return render(request, None, status=204)
    if _header(request, "Location") is not None:
        raise faults.BadRequest("An image's location cannot change; register the new file instead")
    fields, options = _fields_from_headers(request, registering=False)
    image = backend.update(user, image_id, fields, is_public=options["is_public"])
    return _image_response(request, image)


@api_method(("GET", "PUT"))
def members(request, image_id):
    user = request.api_user.uuid
    if request.method == "PUT":
        try:
            body = json.loads(request.body or b"null")
            memberships = [m["member_id"] for m in body["memberships"]]
        except (ValueError, TypeError, KeyError):
            raise faults.BadRequest('Expected {"memberships": [{"member_id": <uuid>}, ...]}') from None
        backend.set_members(user, image_id, memberships)
        return render(request, None, status=204)
    found = backend.get_image(user, image_id)
    return render(request, {"members": [{"member_id": m, "can_share": False} for m in found.members]})


@api_method(("PUT", "DELETE"))
def member(request, image_id, member_id):
    user = request.api_user.uuid
    if request.method == "PUT":
        backend.add_member(user, image_id, member_id)
    else:
        backend.remove_member(user, image_id, member_id)
    return render(request, None, status=204)


@api_method(("GET",))
def shared_images(request, member_id):
    found = backend.shared_with(request.api_user.uuid, member_id)
    return render(request, {"shared_images": [{"image_id": i.id, "can_share": False} for i in found]})
