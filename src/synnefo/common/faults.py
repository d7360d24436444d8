"""API faults, with the names and codes upstream Synnefo (and OpenStack) clients expect.

Raise one anywhere under a view wrapped by ``synnefo.common.api.api_method``; it is rendered in
the shape of the API it belongs to (OpenStack/Synnefo, Keystone v3, or plain text).
"""

from __future__ import annotations


class Fault(Exception):
    code = 500
    name = "internalServerError"
    title = "Internal Server Error"

    def __init__(self, message: str = "", details: str = "", headers: dict | None = None):
        super().__init__(message)
        self.message = message or self.title
        self.details = details
        self.headers = headers or {}


def _fault(class_name: str, code: int, name: str, title: str) -> type[Fault]:
    return type(class_name, (Fault,), {"code": code, "name": name, "title": title})


BadRequest = _fault("BadRequest", 400, "badRequest", "Bad Request")
Unauthorized = _fault("Unauthorized", 401, "unauthorized", "Unauthorized")
Forbidden = _fault("Forbidden", 403, "forbidden", "Forbidden")
ItemNotFound = _fault("ItemNotFound", 404, "itemNotFound", "Not Found")
MethodNotAllowed = _fault("MethodNotAllowed", 405, "methodNotAllowed", "Method Not Allowed")
NotAcceptable = _fault("NotAcceptable", 406, "notAcceptable", "Not Acceptable")
Conflict = _fault("Conflict", 409, "conflict", "Conflict")
BuildInProgress = _fault("BuildInProgress", 409, "buildInProgress", "Build In Progress")
ResizeNotAllowed = _fault("ResizeNotAllowed", 403, "resizeNotAllowed", "Resize Not Allowed")
PreconditionFailed = _fault("PreconditionFailed", 412, "preconditionFailed", "Precondition Failed")
LengthRequired = _fault("LengthRequired", 411, "lengthRequired", "Length Required")
NetworkInUse = _fault("NetworkInUse", 421, "networkInUse", "Network In Use")
UnprocessableEntity = _fault("UnprocessableEntity", 422, "unprocessableEntity", "Unprocessable Entity")
RangeNotSatisfiable = _fault("RangeNotSatisfiable", 416, "rangeNotSatisfiable", "Requested Range Not Satisfiable")
RequestEntityTooLarge = _fault("RequestEntityTooLarge", 413, "overLimit", "Request Entity Too Large")
BadMediaType = _fault("BadMediaType", 415, "badMediaType", "Unsupported Media Type")
TooManyRequests = _fault("TooManyRequests", 429, "overLimit", "Too Many Requests")
InternalServerError = _fault("InternalServerError", 500, "internalServerError", "Internal Server Error")
NotImplementedFault = _fault("NotImplementedFault", 501, "notImplemented", "Not Implemented")
ServiceUnavailable = _fault("ServiceUnavailable", 503, "serviceUnavailable", "Service Unavailable")
