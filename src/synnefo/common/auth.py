"""Token authentication of API requests, shared by every service.

A request carries its token in the ``X-Auth-Token`` header or the ``X-Auth-Token`` query
parameter (as upstream). Services see the caller as an ``ApiUser``: a plain record, not the
identity service's database row, so a service node may resolve tokens without the identity
database (remote validation can drop in here).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from synnefo.common.faults import Unauthorized


@dataclass(frozen=True)
class ApiUser:
    uuid: str
    email: str
    display_name: str
    is_admin: bool
    token_expires: datetime
    project: str

    @property
    def name(self) -> str:
        return self.display_name


def request_token(request) -> str | None:
    token = request.META.get("HTTP_X_AUTH_TOKEN") or request.GET.get("X-Auth-Token")
    return token.strip() or None if token else None


def authenticate_request(request) -> ApiUser:
    """The caller of an API request, or ``Unauthorized``."""
    from synnefo.astakos.logic.tokens import api_user_for_token

    token = request_token(request)
    if not token:
        raise Unauthorized("No authentication token given (X-Auth-Token)")
    user = api_user_for_token(token)
    if user is None:
        raise Unauthorized("Invalid, expired or revoked token")
    return user
