"""Astakos identity API v2.0 (what kamaki and every Synnefo service call).

``POST tokens`` authenticates with a token or with ``passwordCredentials`` (the password may
be the user's token, as upstream) and answers the ``access`` document with the catalog; an
empty body answers the catalog alone. ``GET tokens/<token>`` validates a token.
"""

from __future__ import annotations

from datetime import timezone as tz

from django.conf import settings

from synnefo.astakos.logic import catalog, tokens
from synnefo.astakos.logic.credentials import check_password_login
from synnefo.astakos.models import AuthToken
from synnefo.common import faults
from synnefo.common.api import api_method, get_dict, get_string, json_body, render

MAX_FIELD = 1024


def _expires(token: AuthToken) -> str:
    return token.expires.astimezone(tz.utc).isoformat()


def access_document(token_value: str, token: AuthToken, service_catalog: list | None) -> dict:
    user = token.user
    roles = [{"id": 1, "name": "default"}]
    if user.is_superuser:
        roles.append({"id": 2, "name": "admin"})
    access = {
        "token": {
            "id": token_value,
            "expires": _expires(token),
            "tenant": {"id": str(user.uuid), "name": user.realname},
        },
        "user": {"id": str(user.uuid), "name": user.realname, "roles": roles, "roles_links": []},
    }
    if service_catalog is not None:
        access["serviceCatalog"] = service_catalog
    return {"access": access}


def version_document(request) -> dict:
    return {
        "version": {
            "id": "v2.0",
            "status": "stable",
            "updated": "2014-04-17T00:00:00Z",
            "links": [{"rel": "self", "href": request.build_absolute_uri(request.path.rstrip("/") + "/")}],
            "media-types": [{"base": "application/json", "type": "application/vnd.openstack.identity-v2.0+json"}],
        }
    }


@api_method(("GET",), token_required=False, formats=("json", "xml"))
def version(request):
    return render(request, version_document(request))


@api_method(("POST",), token_required=False, formats=("json", "xml"))
def authenticate(request):
    if not request.body.strip():
        return render(request, {"access": {"serviceCatalog": catalog.v2_catalog(request)}})
    auth = get_dict(json_body(request), "auth")
    tenant = get_string(auth, "tenantName", required=False, max_length=MAX_FIELD)

    def check_tenant(user):
        if tenant is not None and tenant != str(user.uuid):
            raise faults.BadRequest("tenantName does not match the authenticated user")

    if "token" in auth:
        value = get_string(get_dict(auth, "token"), "id", max_length=MAX_FIELD)
        token = tokens.lookup(value)
        if token is None:
            raise faults.Unauthorized("Invalid, expired or revoked token")
        check_tenant(token.user)
    elif "passwordCredentials" in auth:
        creds = get_dict(auth, "passwordCredentials")
        username = get_string(creds, "username", max_length=MAX_FIELD)
        password = get_string(creds, "password", max_length=settings.ASTAKOS_MAX_PASSWORD_LENGTH)
        user = check_password_login(username, password, request.client_address)
        check_tenant(user)
        token = tokens.lookup(password)
        if token is not None:  # the "password" was the user's token: answer with that token
            value = password
        else:
            value, token = tokens.issue_token(user, "identity v2.0 password login")
    else:
        raise faults.BadRequest("Expected 'token' or 'passwordCredentials' in 'auth'")
    return render(request, access_document(value, token, catalog.v2_catalog(request)))


@api_method(("GET",), token_required=False, formats=("json", "xml"))
def validate(request, token_id: str):
    """The token in the URL is the credential: whoever holds it may learn whose it is."""
    token = tokens.lookup(token_id)
    belongs_to = request.GET.get("belongsTo")
    if token is None or (belongs_to and belongs_to != str(token.user.uuid)):
        raise faults.ItemNotFound("Token not found")
    return render(request, access_document(token_id, token, None))
