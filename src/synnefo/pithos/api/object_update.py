"""Writes to an existing object through POST: partial updates (``Content-Range`` with a body
or with ``X-Source-Object``, ``X-Object-Bytes``) and HTML form uploads (``multipart/form-data``
with the file in the field ``X-Object-Data``)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpResponse

from synnefo.common import faults
from synnefo.pithos.api.util import (
    content_length,
    guess_type,
    header_value,
    http_date,
    meta_from_headers,
    parse_form,
    split_path,
)
from synnefo.pithos.backend import objects

PARTIAL_UPDATE_LIMIT_BLOCKS = 16
FORM_FILE_FIELD = "X-Object-Data"


def update_data(request, container, name, version, user):
    """Pithos partial update: ``Content-Range: bytes START-END/*`` writes the body there (or,
    with ``X-Source-Object``, the source object's data, read on the server), ``bytes */*``
    appends it, ``X-Object-Bytes: N`` truncates (or extends with zeros) to N. Everything is
    checked before a block is written; a refused update changes nothing."""
    source_spec = header_value(request, "X-Source-Object")
    if source_spec:
        if request.META.get("CONTENT_LENGTH", "").strip() not in ("", "0"):
            raise faults.BadRequest("A partial update from X-Source-Object carries no body")
        if not request.META.get("HTTP_CONTENT_RANGE"):
            raise faults.BadRequest("X-Source-Object needs a Content-Range (bytes START-[END]/* or bytes */*)")
        data = _source_data(request, container, user, source_spec)
    else:
        data = _body(request)
    start, last = _content_range(request, version)
    if last is not None:
        wanted = last - start + 1
        if isinstance(data, objects.SourceData):
            if wanted > data.size:
                raise faults.RangeNotSatisfiable("Content-Range is longer than the source object")
            data.length = wanted
        elif wanted != len(data):
            raise faults.BadRequest("Content-Range does not match the body length")
    new_size = _object_bytes(request)
    final = new_size if new_size is not None else max(version.size, (version.size if start is None else start) + len(data))
    if final > settings.PITHOS_MAX_OBJECT_SIZE:
        raise faults.RequestEntityTooLarge("Object larger than the maximum object size")
    hashmap, size = objects.patched_map(version, start, data, new_size)
    checksum = objects.md5_of_blocks(objects.split_map(hashmap), size) if settings.PITHOS_UPDATE_MD5 else ""
    new = objects.commit_version(
        container, name, hashmap=hashmap, size=size, checksum=checksum, content_type=version.content_type,
        user=user.uuid, meta=version.meta, content_encoding=version.content_encoding,
        content_disposition=version.content_disposition,
    )
    response = HttpResponse(status=204)
    response["ETag"] = new.checksum or objects.object_hash(new)
    response["X-Object-Version"] = str(new.pk)
    return response


def _body(request) -> bytes:
    length = content_length(request)
    limit = PARTIAL_UPDATE_LIMIT_BLOCKS * settings.PITHOS_BACKEND_BLOCK_SIZE
    if length is None or length > limit:
        raise faults.RequestEntityTooLarge(f"A partial update carries at most {limit} bytes with a Content-Length")
    data = request.read(length) if length else b""
    if len(data) != length:
        raise faults.BadRequest("Upload interrupted")
    return data


def _source_data(request, container, user, spec: str) -> objects.SourceData:
    """The object named by ``X-Source-Object`` (``/container/object``, in ``X-Source-Account``
    or the target's account; ``X-Source-Version`` or its current version), if the caller may
    read it."""
    src_container_name, src_name = split_path(spec)
    src_account = header_value(request, "X-Source-Account") or container.account
    version_id = header_value(request, "X-Source-Version")
    try:
        version_id = int(version_id) if version_id else None
    except ValueError:
        raise faults.BadRequest("Invalid X-Source-Version") from None
    src_container = objects.get_container(src_account, src_container_name)
    if not objects.allowed(user.uuid, src_account, f"{src_container_name}/{src_name}", "read"):
        raise faults.Forbidden("Not allowed to read the source object")
    source = objects.get_version(src_container, src_name, version_id)
    if source.slo is not None or source.manifest:
        raise faults.BadRequest("A large-object manifest cannot be the source of a partial update")
    return objects.SourceData(objects.digests(source), source.size, source.size)


def _content_range(request, version) -> tuple[int | None, int | None]:
    """(start or None to append, last byte or None) from Content-Range; none given: append."""
    spec = request.META.get("HTTP_CONTENT_RANGE", "").strip()
    if not spec:
        return None, None
    unit, _, rest = spec.partition(" ")
    span, _, total = rest.partition("/")
    if unit != "bytes" or total != "*" or not span:
        raise faults.BadRequest("Content-Range must be 'bytes START-END/*' or 'bytes */*'")
    if span == "*":
        return None, None
    first, _, last = span.partition("-")
    try:
        start = int(first)
        end = int(last) if last else None
    except ValueError:
        raise faults.BadRequest("Invalid Content-Range") from None
    if start < 0 or (end is not None and end < start):
        raise faults.BadRequest("Invalid Content-Range")
    if start > version.size:
        raise faults.RangeNotSatisfiable("Content-Range starts past the end of the object")
    return start, end


def _object_bytes(request) -> int | None:
    value = request.META.get("HTTP_X_OBJECT_BYTES")
    if not value:
        return None
    try:
        new_size = int(value)
    except ValueError:
        raise faults.BadRequest("Invalid X-Object-Bytes") from None
    if new_size < 0:
        raise faults.BadRequest("Invalid X-Object-Bytes")
    return new_size


# ------------------------------------------------------------------------ HTML form upload


def is_form_upload(request) -> bool:
    return request.META.get("CONTENT_TYPE", "").lower().startswith("multipart/form-data")


def form_upload(request, container, name, user):
    """A browser's ``<form method=post enctype=multipart/form-data>`` to the object's URL: the
    file in ``X-Object-Data`` becomes the object's new version (201). The token may be a form
    field or query parameter ``X-Auth-Token``, since a form cannot set headers."""
    _, files = parse_form(request)
    uploads = files.getlist(FORM_FILE_FIELD)
    if len(uploads) != 1:
        raise faults.BadRequest(f"The form needs exactly one file in the field '{FORM_FILE_FIELD}'")
    upload = uploads[0]
    if upload.size > settings.PITHOS_MAX_OBJECT_SIZE:
        raise faults.RequestEntityTooLarge("Object larger than the maximum object size")
    if objects.has_local_quota(container):  # refuse before storing anything
        current = container.versions.filter(name=name, cluster=objects.CURRENT).only("size").first()
        objects.check_quota(container, upload.size - (current.size if current else 0))
    upload.seek(0)
    hashmap, size, checksum = objects.store_stream(upload.read, upload.size)
    content_type = upload.content_type
    if not content_type or content_type == "application/octet-stream":
        content_type = guess_type(name)
    meta = {k: v for k, v in meta_from_headers(request, "Object").items() if v}
    version = objects.commit_version(
        container, name, hashmap=hashmap, size=size, checksum=checksum, content_type=content_type,
        user=user.uuid, meta=meta,
    )
    response = HttpResponse(status=201)
    response["ETag"] = version.checksum or objects.object_hash(version)
    response["X-Object-Version"] = str(version.pk)
    response["Last-Modified"] = http_date(version.mtime)
    return response
