"""Per-domain object metadata: what another service (Plankton, ...) keeps about an object,
keyed by the object's uuid (see ``DomainAttributes``)."""

from __future__ import annotations

import time
import uuid

from synnefo.pithos.models import DomainAttributes


def get(domain: str, object_uuid: uuid.UUID) -> dict | None:
    return DomainAttributes.objects.filter(domain=domain, object_uuid=object_uuid).values_list("data", flat=True).first()


def put(domain: str, object_uuid: uuid.UUID, data: dict) -> None:
    DomainAttributes.objects.update_or_create(domain=domain, object_uuid=object_uuid, defaults={"data": data, "modified": time.time()})


def delete(domain: str, object_uuid: uuid.UUID) -> bool:
    deleted, _ = DomainAttributes.objects.filter(domain=domain, object_uuid=object_uuid).delete()
    return bool(deleted)


def all_in(domain: str):
    """(object uuid, data) of every object with metadata in ``domain``."""
    return DomainAttributes.objects.filter(domain=domain).values_list("object_uuid", "data").iterator()
