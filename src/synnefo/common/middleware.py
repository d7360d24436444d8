"""Request context: a request id for every request, an access log line, the client address."""

from __future__ import annotations

import logging
import time
import uuid

from django.conf import settings

from synnefo.common.logging import request_id_var

access_log = logging.getLogger("synnefo.access")

REQUEST_ID_HEADER = "X-Openstack-Request-Id"


def client_address(request) -> str:
    if settings.SYNNEFO_TRUST_FORWARDED_HEADERS:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded:
            return forwarded.split(",")[0].strip()
    return request.META.get("REMOTE_ADDR", "")


class RequestContextMiddleware:
    """Tags the request (and every log record made while serving it) with an id, and writes
    one access-log line per request. Query strings are logged through the redacting record
    factory, so a token passed as ``?X-Auth-Token=`` never reaches the log."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = "req-" + str(uuid.uuid4())
        request.request_id = request_id
        request.client_address = client_address(request)
        token = request_id_var.set(request_id)
        started = time.monotonic()
        try:
            response = self.get_response(request)
            response[REQUEST_ID_HEADER] = request_id
            if access_log.isEnabledFor(logging.INFO):
                access_log.info(
                    "%s %s %s %d %.1fms",
                    request.client_address,
                    request.method,
                    request.get_full_path(),
                    response.status_code,
                    (time.monotonic() - started) * 1000,
                )
            return response
        finally:
            request_id_var.reset(token)
