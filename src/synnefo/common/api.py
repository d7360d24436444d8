"""The request/response layer every API view goes through.

``api_method`` checks the method, the body size and the token, parses nothing it was not asked
to, and turns every ``Fault`` (and every unexpected error) into a response in the API's own
shape. A view returns plain data through ``render`` and raises faults for anything else.
"""

from __future__ import annotations

import json
import logging
from functools import wraps

from django.conf import settings
from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt

from synnefo.common import faults
from synnefo.common.auth import authenticate_request
from synnefo.common.serialization import to_json, to_xml

logger = logging.getLogger("synnefo.api")

JSON = "application/json"
XML = "application/xml"

# Fault body shapes: Synnefo/OpenStack {"badRequest": {...}}, Keystone v3 {"error": {...}},
# and plain text (Pithos, as upstream and Swift).
OPENSTACK = "openstack"
KEYSTONE = "keystone"
TEXT = "text"


def choose_format(request, formats: tuple[str, ...]) -> str:
    """``json`` or ``xml``, from ``?format=`` first, then the Accept header (upstream's order)."""
    wanted = request.GET.get("format")
    if wanted:
        if wanted not in formats:
            raise faults.BadRequest(f"Unsupported format '{wanted}'")
        return wanted
    accept = request.META.get("HTTP_ACCEPT", "")
    if "xml" in formats and XML in accept and JSON not in accept:
        return "xml"
    return "json"


def render(request, data, status: int = 200, headers: dict | None = None) -> HttpResponse:
    fmt = getattr(request, "serialization", "json")
    if status == 204:
        response = HttpResponse(status=204)
    elif fmt == "xml":
        response = HttpResponse(to_xml(data), status=status, content_type=f"{XML}; charset=UTF-8")
    else:
        response = HttpResponse(to_json(data), status=status, content_type=f"{JSON}; charset=UTF-8")
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def render_fault(request, fault: faults.Fault, style: str) -> HttpResponse:
    if style == TEXT:
        response = HttpResponse(fault.message.encode() + b"\n", status=fault.code, content_type="text/plain; charset=UTF-8")
        for name, value in fault.headers.items():
            response[name] = value
        return response
    if style == KEYSTONE:
        data = {"error": {"code": fault.code, "title": fault.title, "message": fault.message}}
    else:
        data = {fault.name: {"code": fault.code, "message": fault.message, "details": fault.details}}
    return render(request, data, status=fault.code, headers=fault.headers)


def _check_body_size(request, limit: int) -> None:
    length = request.META.get("CONTENT_LENGTH") or "0"
    try:
        length = int(length)
    except ValueError:
        raise faults.BadRequest("Invalid Content-Length") from None
    if length > limit:
        raise faults.RequestEntityTooLarge(f"Request body larger than {limit} bytes")


def api_method(
    methods: tuple[str, ...] = ("GET",),
    *,
    token_required: bool = True,
    formats: tuple[str, ...] = ("json",),
    style: str = OPENSTACK,
    max_body=None,
):
    """Wrap an API view. The caller, when a token is required, is ``request.api_user``.
    ``max_body`` (bytes, or a callable giving them) overrides SYNNEFO_MAX_REQUEST_BODY."""
    allowed = set(methods) | ({"HEAD"} if "GET" in methods else set())

    def decorator(view):
        @csrf_exempt
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            request.serialization = "json"
            try:
                if request.method not in allowed:
                    raise faults.MethodNotAllowed(
                        f"Method {request.method} not allowed", headers={"Allow": ", ".join(sorted(allowed))}
                    )
                request.serialization = choose_format(request, formats)
                limit = max_body() if callable(max_body) else max_body
                _check_body_size(request, limit or settings.SYNNEFO_MAX_REQUEST_BODY)
                if token_required:
                    request.api_user = authenticate_request(request)
                response = view(request, *args, **kwargs)
            except faults.Fault as fault:
                if fault.code >= 500:
                    logger.error("%s %s: %s", request.method, request.path, fault.message)
                response = render_fault(request, fault, style)
            except Exception:
                logger.exception("Unexpected error serving %s %s", request.method, request.path)
                response = render_fault(request, faults.InternalServerError("Internal server error"), style)
            if request.method == "HEAD" and not response.streaming:
                if not response.has_header("Content-Length"):
                    response["Content-Length"] = str(len(response.content))
                response.content = b""
            return response

        return wrapper

    return decorator


def json_body(request) -> dict:
    """The request body as a JSON object, or a 4xx fault (415 for a non-JSON content type)."""
    content_type = request.META.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
    if content_type and content_type != JSON and not content_type.endswith("+json"):
        raise faults.BadMediaType(f"Expected {JSON}, got '{content_type}'")
    try:
        data = json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError):
        raise faults.BadRequest("Malformed JSON request body") from None
    if not isinstance(data, dict):
        raise faults.BadRequest("The request body must be a JSON object")
    return data


def action_body(request) -> tuple[str, object]:
    """``(action, arguments)`` of a ``POST .../action`` body, which has exactly one key."""
    body = json_body(request)
    if len(body) != 1:
        raise faults.BadRequest("An action body has exactly one key, the action")
    (action, args), = body.items()
    return action, args


def get_dict(data: dict, key: str, *, required: bool = True) -> dict:
    value = data.get(key)
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise faults.BadRequest(f"'{key}' must be an object")
    return value


def get_string(data: dict, key: str, *, required: bool = True, max_length: int = 1024) -> str | None:
    value = data.get(key)
    if value is None:
        if required:
            raise faults.BadRequest(f"Missing '{key}'")
        return None
    if not isinstance(value, str):
        raise faults.BadRequest(f"'{key}' must be a string")
    if len(value) > max_length:
        raise faults.BadRequest(f"'{key}' is longer than {max_length} characters")
    return value
