"""The compute API (OpenStack Compute v2 with Synnefo's extensions, SYNNEFO.md 4.1): version
documents, flavors and images (Plankton's). Mounted twice: ``compute/v2.0`` (Synnefo's, what kamaki uses) and
``compute/v2.1`` (what the Keystone v3 catalog gives the OpenStack clients). Neither advertises
microversions, so the OpenStack clients send none and get the plain v2.1 shapes.
"""

from __future__ import annotations

from synnefo.common import faults
from synnefo.common.api import api_method, get_dict, json_body, render
from synnefo.common.components import COMPONENTS
from synnefo.cyclades.logic.flavors import FlavorError, get_flavor, visible_flavors
from synnefo.plankton import backend as plankton
from synnefo.plankton.backend import zulu

VERSIONS = ("v2.0", "v2.1")
UPDATED = "2013-04-01T00:00:00Z"
MEDIA_TYPES = [{"base": "application/json", "type": "application/vnd.openstack.compute+json;version=2"}]


def api_root(request, version: str) -> str:
    """The API's base URL, worked out once per request (listings build thousands of links)."""
    cache = request.__dict__.setdefault("_compute_roots", {})
    if version not in cache:
        cache[version] = f"{COMPONENTS['cyclades'].base_url(request)}/compute/{version}"
    return cache[version]


def _version_record(request, version: str) -> dict:
    return {
        "id": version,
        "status": "CURRENT" if version == "v2.1" else "SUPPORTED",
        "updated": UPDATED,
        "links": [{"rel": "self", "href": api_root(request, version) + "/"}],
        "media-types": MEDIA_TYPES,
        "version": "",
        "min_version": "",
    }


@api_method(("GET",), token_required=False, formats=("json", "xml"))
def versions(request):
    return render(request, {"versions": [_version_record(request, v) for v in VERSIONS]}, status=300)


@api_method(("GET",), token_required=False, formats=("json", "xml"))
def version(request, version):
    return render(request, {"version": _version_record(request, version)})


def self_links(request, version: str, kind: str, ident) -> list[dict]:
    href = f"{api_root(request, version)}/{kind}/{ident}"
    return [{"rel": "self", "href": href}, {"rel": "bookmark", "href": href}]


def flavor_record(request, version: str, flavor, detail: bool = True) -> dict:
    record = {"id": flavor.id, "name": flavor.name, "links": self_links(request, version, "flavors", flavor.id)}
    if detail:
        record.update({
            "vcpus": flavor.cpu,
            "ram": flavor.ram,
            "disk": flavor.disk,
            "swap": 0,
            "rxtx_factor": 1.0,
            "OS-FLV-EXT-DATA:ephemeral": 0,
            "OS-FLV-DISABLED:disabled": flavor.deleted,
            "os-flavor-access:is_public": flavor.public,
            "SNF:disk_template": flavor.volume_type.disk_template,
            "SNF:volume_type": flavor.volume_type_id,
            "SNF:allow_create": flavor.allow_create,
        })
    return record


def _bool_param(request, name: str) -> bool | None:
    """A boolean query parameter; None when absent or ``None`` (openstack's "any")."""
    value = request.GET.get(name)
    if value is None or value.lower() in ("none", ""):
        return None
    if value.lower() in ("true", "1", "yes"):
        return True
    if value.lower() in ("false", "0", "no"):
        return False
    raise faults.BadRequest(f"Invalid value for '{name}': '{value}'")


def _int_param(request, *names: str) -> int | None:
    for name in names:
        value = request.GET.get(name)
        if value is not None:
            if not value.isdigit():
                raise faults.BadRequest(f"Invalid value for '{name}': '{value}'")
            return int(value)
    return None


@api_method(("GET",), formats=("json", "xml"))
def list_flavors(request, version, detail=False):
    admin = request.api_user.is_admin
    flavors = visible_flavors(include_private=admin)
    public = _bool_param(request, "is_public")
    if public is None:
        public = _bool_param(request, "SNF:is_public")
    if public is not None:
        flavors = flavors.filter(public=public)
    min_disk = _int_param(request, "minDisk", "min_disk")
    if min_disk is not None:
        flavors = flavors.filter(disk__gte=min_disk)
    min_ram = _int_param(request, "minRam", "min_ram")
    if min_ram is not None:
        flavors = flavors.filter(ram__gte=min_ram)
    records = [flavor_record(request, version, f, detail=bool(detail)) for f in flavors]
    return render(request, {"flavors": records})


def _readable_flavor(request, flavor_id):
    """The flavor, if the caller may see it. Deleted flavors stay readable: servers point at them."""
    try:
        flavor = get_flavor(flavor_id)
    except FlavorError:
        raise faults.ItemNotFound(f"Flavor {flavor_id} not found") from None
    if not flavor.public and not request.api_user.is_admin:
        raise faults.ItemNotFound(f"Flavor {flavor_id} not found")
    return flavor


@api_method(("GET",), formats=("json", "xml"))
def show_flavor(request, version, flavor_id):
    return render(request, {"flavor": flavor_record(request, version, _readable_flavor(request, flavor_id))})


@api_method(("GET",), formats=("json", "xml"))
def flavor_extra_specs(request, version, flavor_id):
    """``openstack flavor show`` reads these; our flavors carry none beyond their fields."""
    _readable_flavor(request, flavor_id)
    return render(request, {"extra_specs": {}})


# --- images (Plankton's, in the compute API's shape) ------------------------------------------

IMAGE_STATUS = {"AVAILABLE": "ACTIVE", "QUEUED": "SAVING", "SAVING": "SAVING", "ERROR": "ERROR"}
MAX_IMAGE_METADATA = 128


def image_record(request, version: str, image, detail: bool = True) -> dict:
    record = {"id": image.id, "name": image.name, "links": self_links(request, version, "images", image.id)}
    if detail:
        status = IMAGE_STATUS.get(image.status, "UNKNOWN")
        record.update({
            "status": status,
            "progress": 100 if status == "ACTIVE" else 0,
            "created": zulu(image.created_at),
            "updated": zulu(image.updated_at),
            "user_id": image.owner,
            "tenant_id": image.owner,
            "is_snapshot": image.is_snapshot,
            "minDisk": 0,
            "minRam": 0,
            "OS-EXT-IMG-SIZE:size": image.size,
            "metadata": dict(image.properties),
        })
    return record


@api_method(("GET",), formats=("json", "xml"))
def list_images(request, version, detail=False):
    found = sorted(plankton.list_images(request.api_user.uuid), key=lambda i: (i.created_at, i.id), reverse=True)
    return render(request, {"images": [image_record(request, version, i, detail=bool(detail)) for i in found]})


@api_method(("GET", "DELETE"), formats=("json", "xml"))
def image(request, version, image_id):
    user = request.api_user.uuid
    if request.method == "DELETE":
        plankton.unregister(user, image_id)
        return render(request, None, status=204)
    return render(request, {"image": image_record(request, version, plankton.get_image(user, image_id))})


@api_method(("GET", "POST"), formats=("json", "xml"))
def image_metadata(request, version, image_id):
    user = request.api_user.uuid
    if request.method == "POST":
        metadata = get_dict(json_body(request), "metadata")
        if len(metadata) > MAX_IMAGE_METADATA:
            raise faults.BadRequest(f"At most {MAX_IMAGE_METADATA} metadata items")
        found = plankton.update(user, image_id, {"properties": metadata})
        return render(request, {"metadata": found.properties}, status=201)
    return render(request, {"metadata": plankton.get_image(user, image_id).properties})


@api_method(("GET", "PUT", "DELETE"), formats=("json", "xml"))
def image_metadata_item(request, version, image_id, key):
    user = request.api_user.uuid
    normalised = plankton.property_key(key)
    if request.method == "PUT":
        meta = get_dict(json_body(request), "meta")
        if list(meta) != [key] and [plankton.property_key(k) for k in meta] != [normalised]:
            raise faults.BadRequest("The body must be {\"meta\": {\"<key>\": <value>}} for the key in the URL")
        found = plankton.update(user, image_id, {"properties": meta})
        return render(request, {"meta": {normalised: found.properties[normalised]}}, status=201)
    found = plankton.get_image(user, image_id)
    if normalised not in found.properties:
        raise faults.ItemNotFound(f"Image {image_id} has no metadata '{key}'")
    if request.method == "DELETE":
        plankton.update(user, image_id, {}, remove_properties=(normalised,))
        return render(request, None, status=204)
    return render(request, {"meta": {normalised: found.properties[normalised]}})


@api_method(("GET", "POST", "PUT", "DELETE", "PATCH"), formats=("json", "xml"))
def unknown(request, version, rest=""):
    """Upstream answers an unknown compute URL with 400 badRequest, not 404."""
    raise faults.BadRequest(f"Not a compute API URL: {request.path}")
