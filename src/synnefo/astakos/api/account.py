"""Astakos account API v1.0 (``/astakos/account/v1.0/``)."""

from __future__ import annotations

from django.db.models.functions import Lower

from synnefo.astakos.models import User
from synnefo.common import faults
from synnefo.common.api import api_method, json_body, render

MAX_CATALOG_ENTRIES = 1000


def _string_list(data: dict, key: str) -> list[str]:
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) and len(v) <= 254 for v in value):
        raise faults.BadRequest(f"'{key}' must be a list of strings")
    if len(value) > MAX_CATALOG_ENTRIES:
        raise faults.BadRequest(f"At most {MAX_CATALOG_ENTRIES} entries in '{key}'")
    return value


@api_method(("POST",))
def user_catalogs(request):
    """Map uuids to display names (emails) and back, for showing owners of shared things."""
    data = json_body(request)
    uuids = _string_list(data, "uuids")
    names = _string_list(data, "displaynames")
    valid_uuids = []
    for value in uuids:
        try:
            User._meta.get_field("uuid").to_python(value)
            valid_uuids.append(value)
        except Exception:  # noqa: BLE001 - an unknown or malformed uuid is simply not found
            continue
    uuid_catalog = {
        str(uuid): email for uuid, email in User.objects.filter(uuid__in=valid_uuids).values_list("uuid", "email")
    }
    # Display names are emails, matched case-insensitively; answer in the caller's spelling.
    asked = {name.lower(): name for name in names}
    matches = User.objects.annotate(key=Lower("email")).filter(key__in=list(asked)).values_list("key", "uuid")
    displayname_catalog = {asked[key]: str(uuid) for key, uuid in matches}
    return render(request, {"uuid_catalog": uuid_catalog, "displayname_catalog": displayname_catalog})
