"""Object level: HEAD/GET (see ``object_read``), PUT (data, hashmap, copy/move, large-object
manifests), COPY, MOVE, POST (metadata, sharing, public), DELETE."""

from __future__ import annotations

import hashlib
import json

from django.conf import settings
from django.http import HttpResponse

from synnefo.common import faults
from synnefo.pithos.api import object_update
from synnefo.pithos.api.container import container_access
from synnefo.pithos.api.object_read import content_response, hashmap_response, object_headers
from synnefo.pithos.api.util import (
    body_reader,
    body_readinto,
    caller,
    check_container_name,
    check_object_name,
    content_length,
    header_value,
    guess_type,
    http_date,
    meta_from_headers,
    pithos_api,
    split_path as _split_path,
)
from synnefo.pithos.backend import objects


def public_url(request, public_id: str | None) -> str:
    if not public_id:
        return ""
    from synnefo.common.components import COMPONENTS

    return f"{COMPONENTS['pithos'].base_url(request)}/public/{public_id}"


def _version_param(request):
    value = request.GET.get("version")
    if value in (None, "", "list"):
        return None
    try:
        return int(value)
    except ValueError:
        raise faults.BadRequest("Invalid version") from None


@pithos_api(("GET", "PUT", "POST", "DELETE", "COPY", "MOVE"))
def object_view(request, account: str, container: str, obj: str):
    container_name = check_container_name(container)
    name = check_object_name(obj)
    method = request.method
    access = "read" if method in ("GET", "HEAD", "COPY") else "write"
    if method == "PUT" and _is_copy(request):
        access = "write"
    user, found, owner = _object_access(request, account, container_name, name, access)
    if method in ("GET", "HEAD"):
        return _read(request, found, name, owner, user)
    if method == "PUT":
        return _put(request, found, name, owner, user)
    if method in ("COPY", "MOVE"):
        return _copy_to_destination(request, found, name, user, move=method == "MOVE")
    if method == "POST":
        return _post(request, found, name, owner, user)
    if request.GET.get("multipart-manifest") == "delete":
        return _delete_slo(request, found, name, user)
    if "until" in request.GET:
        try:
            until = float(request.GET["until"])
        except ValueError:
            raise faults.BadRequest("Invalid until") from None
        if not objects.purge_object_history(found, name, until):
            raise faults.ItemNotFound("No old versions of the object")
        return HttpResponse(status=204)
    objects.delete_object_tree(found, name, user.uuid, recursive="delimiter" in request.GET)
    return HttpResponse(status=204)


def _delete_slo(request, container, name, user):
    """Swift: delete a static large object together with its segments."""
    version = objects.get_version(container, name)
    deleted = not_found = 0
    for segment in version.slo or []:
        seg_container, seg_name = _split_path(segment["path"])
        try:
            objects.delete_object(objects.get_container(container.account, seg_container), seg_name, user.uuid)
            deleted += 1
        except faults.ItemNotFound:
            not_found += 1
    objects.delete_object(container, name, user.uuid)
    body = {"Number Deleted": deleted + 1, "Number Not Found": not_found, "Errors": [], "Response Status": "200 OK"}
    return HttpResponse(json.dumps(body), content_type="application/json; charset=utf-8")


def _is_copy(request) -> bool:
    return bool(request.META.get("HTTP_X_COPY_FROM") or request.META.get("HTTP_X_MOVE_FROM"))


def _object_access(request, account, container_name, name, access):
    """Owner, sharing rule on the object or a directory above it, or a Swift container ACL."""
    container = objects.get_container(account, container_name)
    acl = container.read_acl if access == "read" else container.write_acl
    anonymous_ok = access == "read" and ".r:*" in container.read_acl
    user = caller(request, required=not anonymous_ok)
    if user is not None and user.uuid == account:
        return user, container, True
    if anonymous_ok:
        return user, container, False
    path = f"{container_name}/{name}"
    if user is not None and (objects.allowed(user.uuid, account, path, access) or _in_acl(acl, user.uuid, account)):
        return user, container, False
    # Hide what exists from those who may not read it.
    raise faults.Forbidden("Not allowed")


def _in_acl(acl: str, user: str, account: str) -> bool:
    entries = {e.strip() for e in acl.split(",") if e.strip()}
    return bool(entries & {user, "*", f"{user}:{user}", f"{account}:{user}", f"*:{user}"})


def _read(request, container, name, owner, user):
    if request.GET.get("version") == "list":
        versions = objects.list_versions(container, name)
        if not versions:
            raise faults.ItemNotFound("Object does not exist")
        body = {"versions": [[v.pk, f"{v.mtime:.6f}"] for v in versions]}
        return HttpResponse(json.dumps(body), content_type="application/json; charset=utf-8")
    if request.GET.get("until") and request.GET.get("version") is None:
        try:
            version = objects.version_at(container, name, float(request.GET["until"]))
        except ValueError:
            raise faults.BadRequest("Invalid until") from None
    else:
        version = objects.get_version(container, name, _version_param(request))
    if "hashmap" in request.GET:
        return hashmap_response(request, version)
    if request.GET.get("multipart-manifest") == "get" and version.slo is not None:
        segments = [{"name": s["path"], "hash": s["etag"], "bytes": s["size_bytes"]} for s in version.slo]
        return HttpResponse(json.dumps(segments), content_type="application/json; charset=utf-8")
    response = content_response(request, version)
    if response.status_code < 300:
        _sharing_headers(request, response, container, name, owner, user)
    return response


def _sharing_headers(request, response, container, name, owner, user) -> None:
    path = f"{container.name}/{name}"
    sharing = objects.effective_sharing(container.account, path)
    if owner:
        if sharing is not None:
            response["X-Object-Sharing"] = objects.format_sharing(sharing)
            if sharing.path != path:
                response["X-Object-Shared-By"] = sharing.path
        url = public_url(request, objects.public_id(container.account, path))
        if url:
            response["X-Object-Public"] = url
    elif user is not None:
        writable = objects.allowed(user.uuid, container.account, path, "write")
        response["X-Object-Allowed-To"] = "write" if writable else "read"


def _put(request, container, name, owner, user):
    if _is_copy(request):
        move = bool(request.META.get("HTTP_X_MOVE_FROM"))
        source = request.META.get("HTTP_X_MOVE_FROM") or request.META.get("HTTP_X_COPY_FROM")
        src_container, src_name = _split_path(source)
        src_account = header_value(request, "X-Source-Account") or container.account
        return _copy(request, src_account, src_container, src_name, container, name, user, move)
    _delete_at(request)  # refuse a bad expiry before reading any data
    if request.META.get("HTTP_IF_NONE_MATCH", "").strip() == "*" and _current_size(container, name) is not None:
        raise faults.PreconditionFailed("Object exists (If-None-Match: *)")
    meta = {k: v for k, v in meta_from_headers(request, "Object").items() if v}
    content_type = request.META.get("CONTENT_TYPE", "").strip() or guess_type(name)
    extra = dict(
        content_encoding=header_value(request, "Content-Encoding") or "",
        content_disposition=header_value(request, "Content-Disposition") or "",
    )
    if "hashmap" in request.GET:
        try:
            version = _put_hashmap(request, container, name, user, meta, content_type, extra)
        except MissingBlocks as exc:
            body = json.dumps([h.hex() for h in exc.missing])
            return HttpResponse(body, status=409, content_type="application/json; charset=utf-8")
    elif request.GET.get("multipart-manifest") == "put":
        version = _put_slo(request, container, name, user, meta, content_type, extra)
    else:
        version = _put_data(request, container, name, user, meta, content_type, extra)
    if owner:
        _apply_sharing_and_public(request, container, name)
    response = HttpResponse(status=201)
    response["ETag"] = f'"{version.checksum}"' if version.slo is not None else (version.checksum or objects.object_hash(version))
    response["X-Object-Version"] = str(version.pk)
    response["Last-Modified"] = http_date(version.mtime)
    return response


def _put_data(request, container, name, user, meta, content_type, extra):
    length = content_length(request)
    manifest = header_value(request, "X-Object-Manifest") or ""
    if length is not None:
        if length > settings.PITHOS_MAX_OBJECT_SIZE:
            raise faults.RequestEntityTooLarge("Object larger than the maximum object size")
        if objects.has_local_quota(container):  # refuse before reading the body
            objects.check_quota(container, length - (_current_size(container, name) or 0))
    hashmap, size, checksum = objects.store_stream(
        body_reader(request, length), length, readinto=body_readinto(request, length)
    )
    expected = request.META.get("HTTP_ETAG", "").strip().strip('"').lower()
    if expected and expected != checksum:
        raise faults.UnprocessableEntity("ETag does not match the content")
    return objects.commit_version(
        container, name, hashmap=hashmap, size=size, checksum=checksum, content_type=content_type,
        user=user.uuid, meta=meta, manifest=manifest, delete_at=_delete_at(request)[1], **extra,
    )


def _delete_at(request) -> tuple[bool, float | None]:
    """Swift's expiry headers: (given?, timestamp or None to remove)."""
    import time

    if request.META.get("HTTP_X_REMOVE_DELETE_AT") is not None:
        return True, None
    at, after = request.META.get("HTTP_X_DELETE_AT"), request.META.get("HTTP_X_DELETE_AFTER")
    try:
        if at is not None:
            value = float(int(at))
        elif after is not None:
            seconds = int(after)
            if seconds < 0:
                raise ValueError
            value = time.time() + seconds
        else:
            return False, None
    except ValueError:
        raise faults.BadRequest("Non-integer or negative X-Delete-At / X-Delete-After") from None
    if value <= time.time():
        raise faults.BadRequest("X-Delete-At in past")
    return True, value


def _current_size(container, name) -> int | None:
    version = container.versions.filter(name=name, cluster=objects.CURRENT).only("size").first()
    return version.size if version else None


def _put_hashmap(request, container, name, user, meta, content_type, extra):
    """The hashmap protocol: the object is described by its block hashes; blocks the store
    lacks are answered with 409 and their list, for the client to upload and retry."""
    try:
        body = json.loads(request.body or b"null")
        hashes = [bytes.fromhex(h) for h in body["hashes"]]
        size = int(body["bytes"])
    except (ValueError, KeyError, TypeError, AttributeError):
        raise faults.BadRequest("Invalid hashmap: expected {\"hashes\": [...], \"bytes\": N}") from None
    block_size = settings.PITHOS_BACKEND_BLOCK_SIZE
    width = hashlib.new(settings.PITHOS_BACKEND_HASH_ALGORITHM).digest_size
    if any(len(h) != width for h in hashes):
        raise faults.BadRequest("Invalid hash in hashmap")
    if size < 0 or size > len(hashes) * block_size or (hashes and size <= (len(hashes) - 1) * block_size):
        raise faults.BadRequest("Hashmap size does not match the number of blocks")
    if size > settings.PITHOS_MAX_OBJECT_SIZE:
        raise faults.RequestEntityTooLarge("Object larger than the maximum object size")
    from synnefo.pithos.backend.blocks import get_block_store

    missing = get_block_store().missing(hashes)
    if missing:
        raise MissingBlocks(missing)
    hashmap = b"".join(hashes)
    checksum = ""
    if settings.PITHOS_UPDATE_MD5:
        checksum = objects.known_checksum(hashmap, size) or objects.md5_of_blocks(hashes, size)
    return objects.commit_version(
        container, name, hashmap=hashmap, size=size, checksum=checksum, content_type=content_type,
        user=user.uuid, meta=meta, **extra,
    )


class MissingBlocks(Exception):
    """A hashmap names blocks the store lacks: answered 409 with their JSON list."""

    def __init__(self, missing: list[bytes]):
        super().__init__(len(missing))
        self.missing = missing


def _put_slo(request, container, name, user, meta, content_type, extra):
    """Static large object: the body lists segments; the object reads as their concatenation."""
    try:
        segments = json.loads(request.body or b"null")
        assert isinstance(segments, list) and segments
    except (ValueError, AssertionError):
        raise faults.BadRequest("Invalid static large object manifest") from None
    stored, total, etags = [], 0, []
    for segment in segments:
        if not isinstance(segment, dict) or not isinstance(segment.get("path"), str):
            raise faults.BadRequest("Invalid segment in manifest")
        seg_container, seg_name = _split_path(segment["path"])
        version = objects.get_version(objects.get_container(container.account, seg_container), seg_name)
        if segment.get("etag") and segment["etag"].strip('"') != version.checksum:
            raise faults.Conflict(f"Segment {segment['path']} etag mismatch")
        if segment.get("size_bytes") not in (None, version.size):
            raise faults.Conflict(f"Segment {segment['path']} size mismatch")
        stored.append({"path": f"/{seg_container}/{seg_name}", "etag": version.checksum, "size_bytes": version.size})
        total += version.size
        etags.append(version.checksum)
    checksum = hashlib.md5("".join(etags).encode(), usedforsecurity=False).hexdigest()
    return objects.commit_version(
        container, name, hashmap=b"", size=0, checksum=checksum, content_type=content_type,
        user=user.uuid, meta=meta, slo=stored, **extra,
    )


def _copy_to_destination(request, container, name, user, move):
    destination = request.META.get("HTTP_DESTINATION")
    if not destination:
        raise faults.BadRequest("Missing Destination header")
    dst_container_name, dst_name = _split_path(destination)
    dst_account = header_value(request, "Destination-Account") or container.account
    if user.uuid != dst_account:
        raise faults.Forbidden("Not allowed")
    dst_container = objects.get_container(dst_account, dst_container_name)
    return _copy(request, container.account, container.name, name, dst_container, dst_name, user, move)


def _copy(request, src_account, src_container_name, src_name, dst_container, dst_name, user, move):
    """Copy or move without copying data: the new version reuses the source's map."""
    src_container = objects.get_container(src_account, src_container_name)
    path = f"{src_container_name}/{src_name}"
    if not objects.allowed(user.uuid, src_account, path, "write" if move else "read"):
        raise faults.Forbidden("Not allowed to read the source")
    source_version = header_value(request, "X-Source-Version")
    version = objects.get_version(src_container, src_name, int(source_version) if source_version else None)
    meta = dict(version.meta)
    meta.update(meta_from_headers(request, "Object"))
    content_type = request.META.get("CONTENT_TYPE", "").strip() or version.content_type
    if request.method in ("PUT",) and request.META.get("CONTENT_TYPE") and "ignore_content_type" not in request.GET:
        content_type = request.META["CONTENT_TYPE"]
    new = objects.commit_version(
        dst_container, dst_name, hashmap=bytes(version.hashmap), size=version.size, checksum=version.checksum,
        content_type=content_type, user=user.uuid, meta=meta, content_encoding=version.content_encoding,
        content_disposition=version.content_disposition, manifest=version.manifest, slo=version.slo,
        object_uuid=version.uuid if move else None,
    )
    if move and not (src_container.pk == dst_container.pk and src_name == dst_name):
        objects.delete_object(src_container, src_name, user.uuid)
    response = HttpResponse(status=201)
    response["ETag"] = new.checksum or objects.object_hash(new)
    response["X-Object-Version"] = str(new.pk)
    return response


def _post(request, container, name, owner, user):
    if object_update.is_form_upload(request):
        response = object_update.form_upload(request, container, name, user)
        if owner:
            _apply_sharing_and_public(request, container, name)
        return response
    version = objects.get_version(container, name)
    if any(request.META.get(h) for h in ("HTTP_CONTENT_RANGE", "HTTP_X_OBJECT_BYTES", "HTTP_X_SOURCE_OBJECT")):
        return object_update.update_data(request, container, name, version, user)
    meta = meta_from_headers(request, "Object")
    replace = "update" not in request.GET
    if meta or replace:
        objects.update_object_meta(version, meta, replace=replace)
    given, delete_at = _delete_at(request)
    if given:
        objects.set_delete_at(version, delete_at)
    content_type = request.META.get("CONTENT_TYPE", "").split(";")[0].strip()
    if content_type and content_type != "application/octet-stream" and not request.META.get("CONTENT_LENGTH", "0").strip("0"):
        objects.update_content_type(version, request.META["CONTENT_TYPE"])
    if owner:
        _apply_sharing_and_public(request, container, name)
    elif request.META.get("HTTP_X_OBJECT_SHARING") is not None or request.META.get("HTTP_X_OBJECT_PUBLIC") is not None:
        raise faults.Forbidden("Only the owner may change sharing")
    return HttpResponse(status=202)


def _apply_sharing_and_public(request, container, name) -> None:
    path = f"{container.name}/{name}"
    sharing = request.META.get("HTTP_X_OBJECT_SHARING")
    if sharing is not None:
        objects.set_sharing(container.account, path, objects.parse_sharing(sharing))
    public = request.META.get("HTTP_X_OBJECT_PUBLIC")
    if public is not None:
        objects.set_public(container.account, path, public.strip().lower() in ("true", "1", "yes"))
