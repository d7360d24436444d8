"""Swift compatibility at the host root: v1 authentication (``/auth/v1.0``) and ``/info``.

``X-Auth-User`` may be the user's email, uuid, or tempauth's ``<account>:<user>`` form
(account = uuid); ``X-Auth-Key`` the password or a token. The answer names the Swift-style
storage URL (``/v1/<uuid>``) and a token."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpResponse

from synnefo.astakos.logic import tokens
from synnefo.astakos.logic.credentials import check_password_login
from synnefo.common import faults
from synnefo.common.api import api_method, render
from synnefo.pithos.api.util import pithos_api


def v1_auth_response(request, status: int = 200) -> HttpResponse:
    user_name = request.META.get("HTTP_X_AUTH_USER", "").strip()
    key = request.META.get("HTTP_X_AUTH_KEY", "")
    if not user_name or not key:
        raise faults.Unauthorized("X-Auth-User and X-Auth-Key are required")
    if ":" in user_name:
        account, _, user_name = user_name.partition(":")
        if user_name != account and not user_name:
            user_name = account
    user = check_password_login(user_name, key, request.client_address)
    token = tokens.lookup(key)
    value = key if token is not None and token.user_id == user.pk else tokens.issue_token(user, "swift v1 auth")[0]
    expires = tokens.lookup(value).expires
    response = HttpResponse(status=status)
    response["X-Auth-Token"] = value
    response["X-Storage-Token"] = value
    response["X-Storage-Url"] = request.build_absolute_uri(f"/v1/{user.uuid}")
    response["X-Auth-Token-Expires"] = str(int(expires.timestamp() - __import__("time").time()))
    return response


@pithos_api(("GET",))
def auth_v1(request):
    return v1_auth_response(request)


@api_method(("GET",), token_required=False)
def info(request):
    """Cluster capabilities, as Swift's ``/info``: clients read limits and features here."""
    return render(
        request,
        {
            "swift": {
                "version": "2.0.0-synnefo",
                "max_file_size": settings.PITHOS_MAX_OBJECT_SIZE,
                "max_meta_name_length": settings.PITHOS_MAX_METADATA_KEY_LENGTH,
                "max_meta_value_length": settings.PITHOS_MAX_METADATA_VALUE_LENGTH,
                "max_meta_count": settings.PITHOS_RESOURCE_MAX_METADATA,
                "max_meta_overall_size": settings.PITHOS_RESOURCE_MAX_METADATA
                * (settings.PITHOS_MAX_METADATA_KEY_LENGTH + settings.PITHOS_MAX_METADATA_VALUE_LENGTH),
                "max_object_name_length": settings.PITHOS_MAX_OBJECT_NAME_LENGTH,
                "max_container_name_length": settings.PITHOS_MAX_CONTAINER_NAME_LENGTH,
                "container_listing_limit": settings.PITHOS_API_LIST_LIMIT,
                "account_listing_limit": settings.PITHOS_API_LIST_LIMIT,
                "max_account_name_length": 64,
                "extra_header_count": 0,
                "policies": [{"name": "default", "default": True}],
                "strict_cors_mode": True,
            },
            "slo": {"max_manifest_segments": 1000, "max_manifest_size": 8 * 1024 * 1024, "min_segment_size": 1},
            "pithos": {
                "block_size": settings.PITHOS_BACKEND_BLOCK_SIZE,
                "block_hash": settings.PITHOS_BACKEND_HASH_ALGORITHM,
            },
        },
    )
