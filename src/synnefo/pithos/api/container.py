"""Container level: HEAD, GET (object listings), PUT (create/policy), POST (meta/policy, and
block upload for the hashmap protocol), DELETE."""

from __future__ import annotations

import json

from django.conf import settings
from django.http import HttpResponse

from synnefo.common import faults
from synnefo.pithos.api.util import (
    body_reader,
    body_readinto,
    caller,
    check_container_name,
    content_length,
    header_value,
    http_date,
    iso_date,
    list_limit,
    listing_format,
    meta_from_headers,
    pithos_api,
    put_meta_headers,
    render_listing,
)
from synnefo.pithos.backend import history, objects


def container_access(request, account: str, name: str, access: str):
    """The caller and the container, if the caller may ``access`` it at all (the owner, anyone
    with a sharing rule in it, or anyone when a Swift ACL makes it world-readable)."""
    container = objects.get_container(account, name)
    user = caller(request, required=not _world_readable(container, access))
    if user is not None and user.uuid == account:
        return user, container, True
    if access == "read" and _world_readable(container, access):
        return user, container, False
    if user is not None and access == "read" and objects.Sharing.objects.filter(
        account=account, path__startswith=name + "/", members__member__in=[user.uuid, "*"]
    ).exists():
        return user, container, False
    raise faults.Forbidden("Not allowed")


def _world_readable(container, access: str) -> bool:
    """Swift ACLs: anyone may list a container whose read ACL has both ``.r:*`` and
    ``.rlistings`` (``.r:*`` alone opens its objects, not its listing)."""
    entries = {e.strip() for e in container.read_acl.split(",")}
    return access == "read" and ".r:*" in entries and ".rlistings" in entries


def container_headers(response, container, until_stats: dict | None = None) -> None:
    """The container's headers; with ``until_stats`` (``history.container_stats_at``) the
    counts as of then and ``X-Container-Until-Timestamp``, the last change up to then."""
    if until_stats is None:
        response["X-Container-Object-Count"] = str(container.object_count)
        response["X-Container-Bytes-Used"] = str(container.bytes_used)
    else:
        response["X-Container-Object-Count"] = str(until_stats["objects"])
        response["X-Container-Bytes-Used"] = str(until_stats["bytes"])
        response["X-Container-Until-Timestamp"] = http_date(until_stats["until_timestamp"])
    response["X-Container-Block-Size"] = str(settings.PITHOS_BACKEND_BLOCK_SIZE)
    response["X-Container-Block-Hash"] = settings.PITHOS_BACKEND_HASH_ALGORITHM
    response["X-Container-Policy-Versioning"] = container.versioning
    response["X-Container-Policy-Quota"] = str(container.quota)
    response["X-Timestamp"] = f"{container.created:.5f}"
    response["Last-Modified"] = http_date(container.modified)
    if container.read_acl:
        response["X-Container-Read"] = container.read_acl
    if container.write_acl:
        response["X-Container-Write"] = container.write_acl
    put_meta_headers(response, "Container", container.meta)


def _policy(request):
    versioning = header_value(request, "X-Container-Policy-Versioning")
    quota = header_value(request, "X-Container-Policy-Quota")
    if quota is not None:
        try:
            quota = int(quota)
        except ValueError:
            raise faults.BadRequest("Invalid X-Container-Policy-Quota") from None
    return (versioning.lower() if versioning else None), quota


def _acls(request):
    read, write = header_value(request, "X-Container-Read"), header_value(request, "X-Container-Write")
    return None if read is None and write is None else (read, write)


@pithos_api(("GET", "PUT", "POST", "DELETE"))
def container_view(request, account: str, container: str):
    name = check_container_name(container)
    method = request.method
    if method == "PUT":
        return _put(request, account, name)
    if method in ("GET", "HEAD"):
        user, found, owner = container_access(request, account, name, "read")
        until = history.parse_until(request.GET.get("until"))
        stats = None
        if until is not None:
            if found.created > until:
                raise faults.ItemNotFound("Container did not exist at that time")
            stats = history.container_stats_at(found, until)
        if method == "HEAD":
            response = HttpResponse(status=204)
        else:
            response = _listing(request, found, owner, user, until)
        container_headers(response, found, stats)
        return response
    user, found, owner = container_access(request, account, name, "write")
    if not owner:
        raise faults.Forbidden("Not allowed")
    if method == "POST":
        return _post(request, found)
    return _delete(request, found, user.uuid)


def _put(request, account, name):
    user = caller(request)
    if user.uuid != account:
        raise faults.Forbidden("Not allowed")
    versioning, quota = _policy(request)
    created = objects.create_container(
        account, name, versioning=versioning, quota=quota, meta=meta_from_headers(request, "Container") or None
    )
    acls = _acls(request)
    if acls:
        objects.update_container(objects.get_container(account, name), acls=acls)
    return HttpResponse(status=201 if created else 202)


def _post(request, container):
    content_type = request.META.get("CONTENT_TYPE", "").split(";")[0].strip()
    length = request.META.get("CONTENT_LENGTH")
    if content_type == "application/octet-stream" and length not in (None, "", "0"):
        return _upload_blocks(request, container)
    versioning, quota = _policy(request)
    meta = meta_from_headers(request, "Container")
    replace = "update" not in request.GET and not getattr(request, "swift", False)
    objects.update_container(
        container, versioning=versioning, quota=quota, meta=meta if (meta or replace) else None, replace=replace,
        acls=_acls(request),
    )
    return HttpResponse(status=204 if getattr(request, "swift", False) else 202)


def _upload_blocks(request, container):
    """Pithos hashmap protocol: store the body's blocks, answer their hashes (kamaki checks
    that the first equals the hash it computed)."""
    length = content_length(request)
    hashes = objects.store_blocks(body_reader(request, length), length, readinto=body_readinto(request, length))
    if listing_format(request) == "json":
        return HttpResponse(json.dumps(hashes), status=202, content_type="application/json; charset=utf-8")
    return HttpResponse(("\n".join(hashes) + "\n").encode(), status=202, content_type="text/plain; charset=utf-8")


def _delete(request, container, user):
    until = history.parse_until(request.GET.get("until"))  # refuse a bad one before deleting anything
    if "delimiter" in request.GET:
        for version in list(container.versions.filter(cluster=objects.CURRENT)):
            objects.delete_object(container, version.name, user)
        container.refresh_from_db()
    if until is not None:
        objects.purge_history(container, until)
        container.refresh_from_db()
        if container.object_count == 0:
            objects.delete_container(container)
        return HttpResponse(status=204)
    if "delimiter" not in request.GET:
        objects.delete_container(container)
    return HttpResponse(status=204)


def _listing(request, container, owner: bool, user, until: float | None = None):
    params = request.GET
    prefix = params.get("prefix", "")
    delimiter = params.get("delimiter") or None
    if "path" in params:
        prefix = params["path"].rstrip("/") + "/" if params["path"] else ""
        delimiter = "/"
    checks = []
    if not owner:
        account = container.account

        def readable(version):
            return objects.allowed(user.uuid if user else None, account, f"{container.name}/{version.name}", "read") or (
                ".r:*" in container.read_acl
            )

        checks.append(readable)
    if params.get("meta"):
        checks.append(meta_filter(params["meta"]))
    if "shared" in params or "public" in params:
        if not owner:
            raise faults.Forbidden("Only the owner may filter by sharing or publication")
        checks.append(_sharing_filter(container, "shared" in params, "public" in params))

    def visible(version):
        return all(check(version) for check in checks)

    entries = objects.list_objects(
        container,
        prefix=prefix,
        delimiter=delimiter,
        marker=params.get("marker"),
        end_marker=params.get("end_marker"),
        limit=list_limit(request),
        reverse=params.get("reverse", "").lower() in ("true", "1", "yes", "on"),
        visible=visible if checks else None,
        until=until,
    )
    records, names = [], []
    for entry in entries:
        names.append(entry.name)
        if isinstance(entry, objects.Subdir):
            records.append({"subdir": entry.name})
            continue
        records.append(_object_record(entry, owner))
    return render_listing(request, listing_format(request), names, records, "container", "object", name=container.name)


def meta_filter(spec: str):
    """Upstream's ``meta`` listing filter: comma-separated ``key`` (has it), ``!key`` (has it
    not) or ``key OP value`` with OP one of = != <= >= < > (string comparison)."""
    import operator
    import re

    ops = {"=": operator.eq, "!=": operator.ne, "<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt}
    terms = []
    for term in filter(None, (t.strip() for t in spec.split(","))):
        match = re.fullmatch(r"([^!=<>]+?)\s*(!=|<=|>=|=|<|>)\s*(.*)", term)
        if match:
            terms.append((match.group(1).strip().lower(), ops[match.group(2)], match.group(3)))
        elif term.startswith("!"):
            terms.append((term[1:].strip().lower(), None, False))
        else:
            terms.append((term.lower(), None, True))

    def check(version):
        meta = {k.lower(): v for k, v in version.meta.items()}
        for key, op, value in terms:
            if op is None:
                if (key in meta) != value:
                    return False
            elif key not in meta or not op(meta[key], value):
                return False
        return True

    return check


def _sharing_filter(container, shared: bool, public: bool):
    prefix = container.name + "/"
    shared_paths = set(
        objects.Sharing.objects.filter(account=container.account, path__startswith=prefix).values_list("path", flat=True)
    )
    public_paths = set(
        objects.PublicLink.objects.filter(account=container.account, path__startswith=prefix).values_list("path", flat=True)
    )

    def check(version):
        path = prefix + version.name
        is_shared = any(p == path or path.startswith(p + "/") for p in shared_paths)
        is_public = path in public_paths
        return (shared and is_shared) or (public and is_public)

    return check


def _object_record(version, owner: bool) -> dict:
    record = {
        "name": version.name,
        "bytes": version.size,
        "hash": version.checksum or objects.object_hash(version),
        "content_type": version.content_type,
        "last_modified": iso_date(version.mtime),
        "x_object_hash": objects.object_hash(version),
        "x_object_uuid": str(version.uuid),
        "x_object_version": version.pk,
        "x_object_version_timestamp": f"{version.mtime:.6f}",
        "x_object_modified_by": version.modified_by,
    }
    for key, value in version.meta.items():
        record[f"x_object_meta_{key.lower().replace('-', '_')}"] = value
    return record
