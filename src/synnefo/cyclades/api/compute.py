"""The compute API (OpenStack Compute v2 with Synnefo's extensions, SYNNEFO.md 4.1): version
documents and flavors. Mounted twice: ``compute/v2.0`` (Synnefo's, what kamaki uses) and
``compute/v2.1`` (what the Keystone v3 catalog gives the OpenStack clients). Neither advertises
microversions, so the OpenStack clients send none and get the plain v2.1 shapes.
"""

from __future__ import annotations

from synnefo.common import faults
from synnefo.common.api import api_method, render
from synnefo.common.components import COMPONENTS
from synnefo.cyclades.logic.flavors import FlavorError, get_flavor, visible_flavors

VERSIONS = ("v2.0", "v2.1")
UPDATED = "2013-04-01T00:00:00Z"
MEDIA_TYPES = [{"base": "application/json", "type": "application/vnd.openstack.compute+json;version=2"}]


def _api_root(request, version: str) -> str:
    return f"{COMPONENTS['cyclades'].base_url(request)}/compute/{version}"


def _version_record(request, version: str) -> dict:
    return {
        "id": version,
        "status": "CURRENT" if version == "v2.1" else "SUPPORTED",
        "updated": UPDATED,
        "links": [{"rel": "self", "href": _api_root(request, version) + "/"}],
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


def _links(request, version: str, kind: str, ident) -> list[dict]:
    href = f"{_api_root(request, version)}/{kind}/{ident}"
    return [{"rel": "self", "href": href}, {"rel": "bookmark", "href": href}]


def flavor_record(request, version: str, flavor, detail: bool = True) -> dict:
    record = {"id": flavor.id, "name": flavor.name, "links": _links(request, version, "flavors", flavor.id)}
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


@api_method(("GET", "POST", "PUT", "DELETE", "PATCH"), formats=("json", "xml"))
def unknown(request, version, rest=""):
    """Upstream answers an unknown compute URL with 400 badRequest, not 404."""
    raise faults.BadRequest(f"Not a compute API URL: {request.path}")
