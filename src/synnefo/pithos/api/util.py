"""HTTP helpers of the object store: metadata headers, formats, dates, names, the caller."""

from __future__ import annotations

import json
import mimetypes
from email.utils import formatdate, parsedate_to_datetime
from urllib.parse import unquote
from xml.sax.saxutils import escape, quoteattr

from django.conf import settings
from django.http import HttpResponse

from synnefo.common import faults
from synnefo.common.api import TEXT, api_method
from synnefo.common.auth import ApiUser, authenticate_request, request_token


def pithos_api(methods):
    """API views of the object store: plain-text faults; the token is checked by the view
    (public objects and anonymous-readable containers need none); bodies up to the largest
    object (data is streamed to the block store, never held whole)."""
    return api_method(
        methods,
        token_required=False,
        style=TEXT,
        max_body=lambda: settings.PITHOS_MAX_OBJECT_SIZE,
        formats=("json", "xml", "text", "plain"),
    )


def caller(request, required: bool = True) -> ApiUser | None:
    if not request_token(request):
        _token_from_form(request)
    if request_token(request) or required:
        return authenticate_request(request)
    return None


def _token_from_form(request) -> None:
    """HTML form uploads may carry the token as the form field ``X-Auth-Token`` (a browser form
    sets no headers); it then counts as the header."""
    if request.method != "POST" or not request.META.get("CONTENT_TYPE", "").lower().startswith("multipart/form-data"):
        return
    fields, _ = parse_form(request)
    token = fields.get("X-Auth-Token", "").strip()
    if token:
        request.META["HTTP_X_AUTH_TOKEN"] = token


def parse_form(request):
    """(fields, files) of a ``multipart/form-data`` body; 400 when it is malformed."""
    from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
    from django.http.multipartparser import MultiPartParserError

    try:
        return request.POST, request.FILES
    except RequestDataTooBig:
        raise faults.RequestEntityTooLarge("Form fields too large") from None
    except (MultiPartParserError, TooManyFieldsSent, TooManyFilesSent, ValueError) as exc:
        raise faults.BadRequest(f"Malformed form upload: {exc}") from None


def listing_format(request) -> str:
    """``format`` parameter first, then Accept; plain text by default (Swift and upstream)."""
    wanted = request.GET.get("format")
    if wanted:
        return "text" if wanted == "plain" else wanted
    accept = request.META.get("HTTP_ACCEPT", "")
    if "application/json" in accept:
        return "json"
    if "application/xml" in accept or "text/xml" in accept:
        return "xml"
    return "text"


def header_value(request, name: str) -> str | None:
    """A request header as text: WSGI hands them over as Latin-1, clients send UTF-8."""
    value = request.META.get("HTTP_" + name.upper().replace("-", "_"))
    if value is None:
        return None
    return value.encode("latin-1").decode("utf-8", "replace")


def out(value: str) -> str:
    """A text value for a response header (UTF-8 bytes carried as Latin-1, as Swift does)."""
    return str(value).encode("utf-8").decode("latin-1")


def meta_from_headers(request, prefix: str) -> dict[str, str]:
    """``X-<Prefix>-Meta-Foo-Bar: v`` -> {"Foo-Bar": "v"}, with length limits enforced."""
    wsgi_prefix = "HTTP_X_" + prefix.upper().replace("-", "_") + "_META_"
    meta = {}
    for key, value in request.META.items():
        if not key.startswith(wsgi_prefix):
            continue
        name = "-".join(part.capitalize() for part in key[len(wsgi_prefix) :].split("_"))
        value = value.encode("latin-1").decode("utf-8", "replace").strip()
        if not name or len(name) > settings.PITHOS_MAX_METADATA_KEY_LENGTH:
            raise faults.BadRequest("Metadata name too long")
        if len(value) > settings.PITHOS_MAX_METADATA_VALUE_LENGTH:
            raise faults.BadRequest("Metadata value too long")
        meta[name] = value
    # Swift's way to delete one item: X-Remove-<Prefix>-Meta-Foo (an empty value deletes too).
    remove_prefix = "HTTP_X_REMOVE_" + prefix.upper().replace("-", "_") + "_META_"
    for key in request.META:
        if key.startswith(remove_prefix):
            meta["-".join(part.capitalize() for part in key[len(remove_prefix) :].split("_"))] = ""
    if len(meta) > settings.PITHOS_RESOURCE_MAX_METADATA:
        raise faults.BadRequest(f"At most {settings.PITHOS_RESOURCE_MAX_METADATA} metadata items")
    return meta


def put_meta_headers(response: HttpResponse, prefix: str, meta: dict) -> None:
    for key, value in meta.items():
        response[f"X-{prefix}-Meta-{out(key)}"] = out(value)


def http_date(timestamp: float) -> str:
    return formatdate(timestamp, usegmt=True)


def iso_date(timestamp: float) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(timestamp, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")


def parse_http_date(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError):
        return None


def check_container_name(name: str) -> str:
    name = unquote(name) if "%" in name else name
    if not name or "/" in name or "\0" in name or len(name.encode()) > settings.PITHOS_MAX_CONTAINER_NAME_LENGTH:
        raise faults.BadRequest("Invalid container name")
    return name


def check_object_name(name: str) -> str:
    if not name or "\0" in name or len(name.encode()) > settings.PITHOS_MAX_OBJECT_NAME_LENGTH:
        raise faults.BadRequest("Invalid object name")
    if any(part in (".", "..") for part in name.split("/")):
        raise faults.BadRequest("Object names may not contain '.' or '..' path segments")
    return name


def split_path(value: str) -> tuple[str, str]:
    """``/container/object`` (as in X-Copy-From, X-Source-Object) -> (container, object); 400 if bad."""
    container_name, _, name = unquote(value).lstrip("/").partition("/")
    return check_container_name(container_name), check_object_name(name)


def guess_type(name: str) -> str:
    return mimetypes.guess_type(name, strict=False)[0] or "application/octet-stream"


def content_length(request) -> int | None:
    """Content-Length as int; None for chunked transfer encoding; 411 when neither."""
    value = request.META.get("CONTENT_LENGTH")
    if value not in (None, ""):
        try:
            length = int(value)
        except ValueError:
            raise faults.BadRequest("Invalid Content-Length") from None
        if length < 0:
            raise faults.BadRequest("Invalid Content-Length")
        return length
    if "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
        return None
    raise faults.LengthRequired("Missing Content-Length header")


def body_reader(request, length: int | None):
    """``read(n)`` over the request body, streaming (never loading it whole)."""
    if length is None:
        stream = request.META["wsgi.input"]
        return stream.read
    return request.read


def body_readinto(request, length: int | None):
    """``readinto(view) -> n`` straight from the client's socket when the server is gunicorn
    and nothing of the body was read yet, else None (then use ``body_reader``).

    gunicorn hands a body over through two buffers, copying every piece several times (and
    into freshly allocated memory each time); reading the socket into the block buffer
    instead makes one copy. What gunicorn already buffered is used first; its reader is told
    what was consumed, so after the response it finds the body read and keeps the connection
    (bytes of a pipelined next request stay in its buffer)."""
    if length is None or getattr(request, "_read_started", False):
        return None
    readinto = socket_readinto(request.META.get("wsgi.input"), length)
    if readinto is not None:
        request._read_started = True  # Django must not read what went to the store
    return readinto


def socket_readinto(stream, length: int):
    """``readinto`` over the socket under gunicorn's body ``stream`` of ``length`` bytes, or None."""
    try:
        from gunicorn.http.body import Body, LengthReader
        from gunicorn.http.unreader import SocketUnreader
    except ImportError:
        return None
    reader = getattr(stream, "reader", None)
    unreader = getattr(reader, "unreader", None)
    if not (isinstance(stream, Body) and isinstance(reader, LengthReader) and isinstance(unreader, SocketUnreader)):
        return None
    if reader.length + stream.buf.tell() != length:
        return None
    held = stream.buf.getvalue()
    stream.buf = type(stream.buf)()
    ahead = unreader.buf.getvalue()
    own = ahead[: reader.length]
    unreader.buf = type(unreader.buf)()
    unreader.buf.write(ahead[len(own) :])
    reader.length -= len(own)
    pending = memoryview(held + own)
    sock = unreader.sock

    def readinto(view) -> int:
        nonlocal pending
        if pending:
            n = min(len(view), len(pending))
            view[:n] = pending[:n]
            pending = pending[n:]
            return n
        want = min(len(view), reader.length)
        if want <= 0:
            return 0
        try:
            n = sock.recv_into(view, want)
        except OSError:
            stream.failed = True  # where the next request starts is unknown now
            raise
        reader.length -= n
        return n

    return readinto


def render_listing(request, fmt: str, names: list[str], records: list[dict], root: str, item: str, **root_attrs):
    """A listing as text (one name per line), JSON (list of records) or XML. An empty text
    listing is 204, as Swift; JSON/XML are always 200 (kamaki needs 200 [])."""
    if fmt == "json":
        return HttpResponse(json.dumps(records), content_type="application/json; charset=utf-8")
    if fmt == "xml":
        body = ['<?xml version="1.0" encoding="UTF-8"?>']
        attrs = "".join(f" {k}={quoteattr(v)}" for k, v in root_attrs.items())
        body.append(f"<{root}{attrs}>")
        for record in records:
            if "subdir" in record:
                body.append(f"<subdir name={quoteattr(record['subdir'])}><name>{escape(record['subdir'])}</name></subdir>")
                continue
            fields = "".join(f"<{k}>{escape(_text(v))}</{k}>" for k, v in record.items())
            body.append(f"<{item}>{fields}</{item}>")
        body.append(f"</{root}>")
        return HttpResponse("".join(body).encode(), content_type="application/xml; charset=utf-8")
    if fmt != "text":
        raise faults.BadRequest(f"Unsupported format '{fmt}'")
    if not names:
        return HttpResponse(status=204)
    return HttpResponse(("\n".join(names) + "\n").encode(), content_type="text/plain; charset=utf-8")


def _text(value) -> str:
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return "" if value is None else str(value)


def list_limit(request) -> int:
    try:
        limit = int(request.GET.get("limit", settings.PITHOS_API_LIST_LIMIT))
    except ValueError:
        raise faults.BadRequest("Invalid limit") from None
    if limit < 0:
        raise faults.BadRequest("Invalid limit")
    return min(limit, settings.PITHOS_API_LIST_LIMIT)
