"""Object HEAD and GET: conditional requests, ranges (single and multiple), versions, the
hashmap, and the content of large objects (static and dynamic manifests)."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator

from django.conf import settings
from django.http import HttpResponse, StreamingHttpResponse

from synnefo.common import faults
from synnefo.pithos.api.util import http_date, out, parse_http_date, put_meta_headers
from synnefo.pithos.backend import objects


class Content:
    """What a GET returns for a version: its size and a way to read any byte range of it,
    whether it is a plain object or a large-object manifest."""

    def __init__(self, version):
        self.version = version
        if version.slo is not None:
            self.parts = [(objects.get_version(*_segment(version, s["path"])), s) for s in version.slo]
        elif version.manifest:
            self.parts = [(v, None) for v in _dlo_segments(version)]
        else:
            self.parts = [(version, None)]
        self.size = sum(v.size for v, _ in self.parts)

    @property
    def etag(self) -> str:
        version = self.version
        if version.slo is not None:
            return f'"{version.checksum}"'
        if version.manifest:
            import hashlib

            return '"' + hashlib.md5("".join(v.checksum for v, _ in self.parts).encode(), usedforsecurity=False).hexdigest() + '"'
        return version.checksum or objects.object_hash(version)

    def read(self, start: int, end: int) -> Iterator[bytes]:
        offset = 0
        for version, _ in self.parts:
            lo, hi = max(start - offset, 0), min(end - offset, version.size)
            if lo < hi:
                yield from objects.read_range(objects.digests(version), version.size, lo, hi)
            offset += version.size
            if offset >= end:
                break


def _segment(version, path: str):
    container_name, _, name = path.lstrip("/").partition("/")
    return objects.get_container(version.container.account, container_name), name


def _dlo_segments(version):
    container_name, _, prefix = version.manifest.partition("/")
    try:
        container = objects.get_container(version.container.account, container_name)
    except faults.ItemNotFound:
        return []
    return objects.list_objects(container, prefix=prefix, limit=10000)


def object_headers(response, version, content: Content | None, request, public_url: str | None = None) -> None:
    response["ETag"] = content.etag if content else version.checksum
    response["Last-Modified"] = http_date(version.mtime)
    response["X-Timestamp"] = f"{version.mtime:.5f}"
    response["Accept-Ranges"] = "bytes"
    response["X-Object-Hash"] = objects.object_hash(version)
    response["X-Object-UUID"] = str(version.uuid)
    response["X-Object-Version"] = str(version.pk)
    response["X-Object-Version-Timestamp"] = f"{version.mtime:.6f}"
    response["X-Object-Modified-By"] = version.modified_by
    if version.content_encoding:
        response["Content-Encoding"] = version.content_encoding
    if version.content_disposition:
        response["Content-Disposition"] = out(version.content_disposition)
    if version.manifest:
        response["X-Object-Manifest"] = out(version.manifest)
    if version.slo is not None:
        response["X-Static-Large-Object"] = "True"
    if version.delete_at:
        response["X-Delete-At"] = str(int(version.delete_at))
    put_meta_headers(response, "Object", version.meta)


def check_conditions(request, etag: str, mtime: float) -> int | None:
    """Status for a failed precondition (304/412), or None to go on."""
    bare = etag.strip('"')
    if_match = request.META.get("HTTP_IF_MATCH")
    if if_match and if_match.strip() != "*" and bare not in [t.strip().strip('"') for t in if_match.split(",")]:
        return 412
    if_none = request.META.get("HTTP_IF_NONE_MATCH")
    if if_none and (if_none.strip() == "*" or bare in [t.strip().strip('"') for t in if_none.split(",")]):
        return 304 if request.method in ("GET", "HEAD") else 412
    since = parse_http_date(request.META.get("HTTP_IF_MODIFIED_SINCE"))
    if since is not None and not if_none and int(mtime) <= since:
        return 304
    unmodified = parse_http_date(request.META.get("HTTP_IF_UNMODIFIED_SINCE"))
    if unmodified is not None and not if_match and int(mtime) > unmodified:
        return 412
    return None


def parse_ranges(header: str, size: int) -> list[tuple[int, int]] | None:
    """``bytes=a-b,c-,-n`` -> [(start, end_exclusive)]; None if the header is not a valid byte
    range (then the whole object is sent, as RFC 9110 says); [] if nothing is satisfiable."""
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or not spec.strip():
        return None
    ranges = []
    for part in spec.split(","):
        first, dash, last = part.strip().partition("-")
        if not dash:
            return None
        try:
            if first == "":
                length = int(last)
                if length <= 0:
                    continue
                ranges.append((max(size - length, 0), size))
                continue
            start = int(first)
            end = int(last) + 1 if last else size
        except ValueError:
            return None
        if start < 0 or end <= start:
            if last and end <= start:
                return None
            continue
        if start >= size:
            continue
        ranges.append((start, min(end, size)))
    return ranges


def hashmap_response(request, version) -> HttpResponse:
    hashes = [d.hex() for d in objects.digests(version)]
    body = {
        "block_size": settings.PITHOS_BACKEND_BLOCK_SIZE,
        "block_hash": settings.PITHOS_BACKEND_HASH_ALGORITHM,
        "bytes": version.size,
        "hashes": hashes,
    }
    if request.GET.get("format") == "xml":
        from xml.sax.saxutils import escape

        xml = (
            f'<?xml version="1.0" encoding="UTF-8"?><object name="{escape(version.name)}" bytes="{version.size}" '
            f'block_size="{body["block_size"]}" block_hash="{body["block_hash"]}">'
            + "".join(f"<hash>{h}</hash>" for h in hashes)
            + "</object>"
        )
        response = HttpResponse(xml.encode(), content_type="application/xml; charset=utf-8")
    else:
        response = HttpResponse(json.dumps(body), content_type="application/json; charset=utf-8")
    object_headers(response, version, None, request)
    return response


def content_response(request, version, public_url: str | None = None, full_headers: bool = True):
    content = Content(version)
    status = check_conditions(request, content.etag, version.mtime)
    if status is not None:
        response = HttpResponse(status=status)
        response["ETag"] = content.etag
        response["Last-Modified"] = http_date(version.mtime)
        return response
    ranges = None
    range_header = request.META.get("HTTP_RANGE")
    if range_header:
        if_range = request.META.get("HTTP_IF_RANGE")
        if not if_range or if_range.strip('"') == content.etag.strip('"') or (
            parse_http_date(if_range) is not None and int(version.mtime) <= parse_http_date(if_range)
        ):
            ranges = parse_ranges(range_header, content.size)
    if ranges == []:
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{content.size}"
        return response
    head = request.method == "HEAD"
    if not ranges:
        response = _stream(content.read(0, content.size) if not head else iter(()), 200)
        response["Content-Length"] = str(content.size)
        response["Content-Type"] = version.content_type
    elif len(ranges) == 1:
        start, end = ranges[0]
        response = _stream(content.read(start, end) if not head else iter(()), 206)
        response["Content-Length"] = str(end - start)
        response["Content-Range"] = f"bytes {start}-{end - 1}/{content.size}"
        response["Content-Type"] = version.content_type
    else:
        boundary = secrets.token_hex(16)
        parts, length = _multipart(content, ranges, boundary, version.content_type)
        response = _stream(parts if not head else iter(()), 206)
        response["Content-Length"] = str(length)
        response["Content-Type"] = f"multipart/byteranges; boundary={boundary}"
    if full_headers:
        object_headers(response, version, content, request)
    else:
        response["ETag"] = content.etag
        response["Last-Modified"] = http_date(version.mtime)
        response["Accept-Ranges"] = "bytes"
        if version.content_encoding:
            response["Content-Encoding"] = version.content_encoding
        if version.content_disposition:
            response["Content-Disposition"] = out(version.content_disposition)
    disposition = request.GET.get("disposition-type")
    if disposition in ("inline", "attachment"):
        from urllib.parse import quote

        response["Content-Disposition"] = f"{disposition}; filename*=UTF-8''{quote(version.name.rsplit('/', 1)[-1])}"
    return response


def _stream(chunks, status):
    return StreamingHttpResponse(chunks, status=status)


def _multipart(content: Content, ranges, boundary: str, content_type: str):
    heads = [
        f"--{boundary}\r\nContent-Type: {content_type}\r\nContent-Range: bytes {s}-{e - 1}/{content.size}\r\n\r\n".encode()
        for s, e in ranges
    ]
    tail = f"\r\n--{boundary}--\r\n".encode()
    length = sum(len(h) for h in heads) + sum(e - s for s, e in ranges) + 2 * (len(ranges) - 1) + len(tail)

    def generate():
        for index, ((start, end), head) in enumerate(zip(ranges, heads)):
            if index:
                yield b"\r\n"
            yield head
            yield from content.read(start, end)
        yield tail

    return generate(), length
