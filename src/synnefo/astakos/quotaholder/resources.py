"""The resources Synnefo's services charge, their defaults, and quantity parsing.

``BUILTIN`` is the registry of what the bundled services count. A data migration registers it
on every database; ``snf-manage resource-import`` registers more (or re-registers) from a JSON
file, so a service added later brings its own resources without a migration here. Importing
never changes the limits of an existing resource: those belong to the operator
(``resource-modify``).
"""

from __future__ import annotations

import json
import re

GiB = 1024**3

# name -> fields of Resource. Defaults are the system default (uplimit) for every user.
BUILTIN: dict[str, dict] = {
    "astakos.pending_app": dict(
        description="Number of pending project applications", unit="", service_type="account",
        service_origin="astakos", uplimit=0, project_default=0, allow_in_projects=False, ui_visible=False,
        api_visible=False,
    ),
    "cyclades.vm": dict(
        description="Number of virtual machines", unit="", service_type="compute",
        service_origin="cyclades", uplimit=4, project_default=0,
    ),
    "cyclades.total_cpu": dict(
        description="Number of virtual machine processors", unit="", service_type="compute",
        service_origin="cyclades", uplimit=8, project_default=0, ui_visible=False,
    ),
    "cyclades.cpu": dict(
        description="Number of virtual machine processors of running servers", unit="", service_type="compute",
        service_origin="cyclades", uplimit=8, project_default=0,
    ),
    "cyclades.total_ram": dict(
        description="Virtual machine memory size", unit="bytes", service_type="compute",
        service_origin="cyclades", uplimit=8 * GiB, project_default=0, ui_visible=False,
    ),
    "cyclades.ram": dict(
        description="Virtual machine memory size of running servers", unit="bytes", service_type="compute",
        service_origin="cyclades", uplimit=8 * GiB, project_default=0,
    ),
    "cyclades.disk": dict(
        description="Virtual machine disk size", unit="bytes", service_type="compute",
        service_origin="cyclades", uplimit=80 * GiB, project_default=0,
    ),
    "cyclades.network.private": dict(
        description="Number of private networks", unit="", service_type="network",
        service_origin="cyclades", uplimit=2, project_default=0,
    ),
    "cyclades.floating_ip": dict(
        description="Number of public/floating IPs", unit="", service_type="network",
        service_origin="cyclades", uplimit=2, project_default=0,
    ),
    "pithos.diskspace": dict(
        description="Pithos account diskspace", unit="bytes", service_type="object-store",
        service_origin="pithos", uplimit=20 * GiB, project_default=0,
    ),
}

FIELDS = (
    "description", "unit", "service_type", "service_origin", "uplimit", "project_default",
    "allow_in_projects", "ui_visible", "api_visible",
)
NAME_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")
LIMIT_FIELDS = ("uplimit", "project_default")


class ResourceError(ValueError):
    pass


def register(Resource, definitions: dict[str, dict]) -> tuple[list[str], list[str]]:
    """Create missing resources and update the descriptive fields of existing ones (never their
    limits). ``Resource`` is passed in so migrations can use their historical model."""
    created, updated = [], []
    for name, spec in definitions.items():
        if not isinstance(name, str) or not NAME_RE.match(name):
            raise ResourceError(f"Bad resource name {name!r} (like 'service.thing')")
        if not isinstance(spec, dict) or not spec.get("service_origin"):
            raise ResourceError(f"{name}: 'service_origin' (the component) is required")
        unknown = set(spec) - set(FIELDS)
        if unknown:
            raise ResourceError(f"{name}: unknown fields {sorted(unknown)}")
        for key in LIMIT_FIELDS:
            if key in spec and (isinstance(spec[key], bool) or not isinstance(spec[key], int) or spec[key] < 0):
                raise ResourceError(f"{name}: {key} must be a non-negative integer")
        resource = Resource.objects.filter(name=name).first()
        if resource is None:
            Resource.objects.create(name=name, **spec)
            created.append(name)
            continue
        changed = False
        for key, value in spec.items():
            if key not in LIMIT_FIELDS and getattr(resource, key) != value:
                setattr(resource, key, value)
                changed = True
        if changed:
            resource.save()
            updated.append(name)
    return created, updated


def load_definitions(text: str) -> dict[str, dict]:
    """Resources from JSON: either {name: {fields}} or [{"name": ..., fields}, ...]."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ResourceError(f"Not JSON: {exc}") from None
    if isinstance(data, list):
        if not all(isinstance(d, dict) and "name" in d for d in data):
            raise ResourceError("Each entry of the list needs a 'name'")
        data = {d["name"]: {k: v for k, v in d.items() if k != "name"} for d in data}
    if not isinstance(data, dict):
        raise ResourceError("Expected a JSON object or list of resources")
    return data


_UNITS = {"": 1, "B": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4, "P": 1024**5}


def parse_quantity(text: str) -> int:
    """A limit as operators write it: ``10``, ``10G``, ``512MiB``, ``1.5T``, ``inf``/``unlimited``
    (binary units, as upstream's --unit-style)."""
    value = str(text).strip()
    if value.lower() in ("inf", "infinite", "unlimited"):
        from synnefo.astakos.quotaholder.models import UNLIMITED

        return UNLIMITED
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([KMGTP]?)(?:I?B)?", value, re.I)
    if not match:
        raise ValueError(f"Bad quantity '{text}' (e.g. 10, 10G, 512M, inf)")
    number, unit = match.groups()
    result = float(number) * _UNITS[unit.upper()] if "." in number else int(number) * _UNITS[unit.upper()]
    result = int(result)
    if result >= 2**63:
        raise ValueError(f"Quantity '{text}' is too large")
    return result


def show_quantity(value: int | None, unit: str, style: str = "auto") -> str:
    """``value`` for people: ``inf`` for unlimited; bytes in binary units unless style is 'bytes'."""
    from synnefo.astakos.quotaholder.models import UNLIMITED

    if value is None:
        return ""
    if value >= UNLIMITED:
        return "inf"
    if unit != "bytes" or style == "bytes" or value == 0:
        return str(value)
    for suffix in ("P", "T", "G", "M", "K"):
        if value % _UNITS[suffix] == 0:
            return f"{value // _UNITS[suffix]}{suffix}"
    return str(value)
