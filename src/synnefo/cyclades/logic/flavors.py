"""Volume types and flavors: the shapes servers and volumes are created with.

Shared by the ``volume-type-*`` and ``flavor-*`` commands and the compute API; the rules
(valid disk templates, unique shapes, what a user may see) live here once.
"""

from __future__ import annotations

import itertools
import re

from django.db import transaction

from synnefo.cyclades.models import Flavor, VolumeType

# Ganeti 3.0's disk templates; "ext" needs a provider ("ext_<provider>").
GANETI_DISK_TEMPLATES = ("diskless", "file", "sharedfile", "plain", "blockdev", "drbd", "rbd", "ext", "gluster")
_PROVIDER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]{0,62}$")


class FlavorError(ValueError):
    """A requested volume type or flavor is not valid."""


def check_disk_template(disk_template: str) -> str:
    template, _, provider = disk_template.partition("_")
    if template not in GANETI_DISK_TEMPLATES:
        raise FlavorError(f"Unknown disk template '{disk_template}'; Ganeti's are {', '.join(GANETI_DISK_TEMPLATES)}"
                          " (ExtStorage as ext_<provider>)")
    if template == "ext" and not _PROVIDER.match(provider):
        raise FlavorError(f"Disk template '{disk_template}': ExtStorage needs a provider, e.g. ext_archipelago")
    if template != "ext" and provider:
        raise FlavorError(f"Disk template '{disk_template}': only ext takes a provider")
    return disk_template


def create_volume_type(name: str, disk_template: str) -> VolumeType:
    name = name.strip()
    if not name or len(name) > 255:
        raise FlavorError("A volume type needs a name of 1 to 255 characters")
    return VolumeType.objects.create(name=name, disk_template=check_disk_template(disk_template))


def get_volume_type(ident) -> VolumeType:
    try:
        return VolumeType.objects.get(pk=int(ident))
    except (ValueError, TypeError, VolumeType.DoesNotExist):
        raise FlavorError(f"No volume type with id '{ident}'") from None


def _positive_ints(spec: str, what: str) -> list[int]:
    values = []
    for item in str(spec).split(","):
        item = item.strip()
        if not item.isdigit() or int(item) < 1:
            raise FlavorError(f"{what} must be positive integers, not '{item}'")
        values.append(int(item))
    return values


@transaction.atomic
def create_flavors(cpus: str, rams: str, disks: str, volume_types: str) -> tuple[list[Flavor], list[Flavor]]:
    """Every combination of the comma-separated CPU counts, RAM sizes (MiB), disk sizes (GiB)
    and volume type ids, as upstream's flavor-create. Returns (created, already existing); a
    combination that exists but is deleted is reported as existing and left deleted. Nothing
    is created when any value is invalid."""
    combos = itertools.product(
        _positive_ints(cpus, "CPUs"),
        _positive_ints(rams, "RAM sizes"),
        _positive_ints(disks, "Disk sizes"),
        [get_volume_type(v) for v in str(volume_types).split(",")],
    )
    created, existing = [], []
    for cpu, ram, disk, volume_type in combos:
        if volume_type.deleted:
            raise FlavorError(f"Volume type {volume_type.id} is deleted")
        flavor, new = Flavor.objects.get_or_create(cpu=cpu, ram=ram, disk=disk, volume_type=volume_type)
        (created if new else existing).append(flavor)
    return created, existing


def get_flavor(ident, *, include_deleted: bool = True) -> Flavor:
    try:
        flavors = Flavor.objects.select_related("volume_type")
        if not include_deleted:
            flavors = flavors.filter(deleted=False)
        return flavors.get(pk=int(ident))
    except (ValueError, TypeError, Flavor.DoesNotExist):
        raise FlavorError(f"No flavor with id '{ident}'") from None


def visible_flavors(include_private: bool = False):
    """The flavors users see: not deleted, and public unless ``include_private`` (admins)."""
    flavors = Flavor.objects.select_related("volume_type").filter(deleted=False)
    if not include_private:
        flavors = flavors.filter(public=True)
    return flavors
