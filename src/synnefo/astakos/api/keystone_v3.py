"""The Keystone v3 subset the OpenStack clients need (openstack CLI, openstacksdk, swift).

Every user has one project, their default project, whose id is the user's uuid and whose name
is the user's email; both live in the ``Default`` domain. A project scope may name it by id,
by name (the email) or by the uuid. The password method accepts the user's token as password.
"""

from __future__ import annotations

import base64
from datetime import timezone as tz

from django.conf import settings

from synnefo.astakos.logic import catalog, tokens
from synnefo.astakos.logic.credentials import check_password_login, find_user
from synnefo.astakos.models import AuthToken, User
from synnefo.common import faults
from synnefo.common.api import KEYSTONE, api_method, get_dict, get_string, json_body, render

DOMAIN = {"id": "default", "name": "Default"}
MAX_FIELD = 1024
SUBJECT_TOKEN = "X-Subject-Token"


def v3_api(methods=("GET",), token_required=True):
    return api_method(methods, token_required=token_required, style=KEYSTONE)


def _time(moment) -> str:
    return moment.astimezone(tz.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _user_doc(user: User) -> dict:
    return {"id": str(user.uuid), "name": user.email, "domain": DOMAIN, "password_expires_at": None}


def _project_doc(user: User) -> dict:
    return {"id": str(user.uuid), "name": user.email, "domain": DOMAIN}


def token_document(request, token: AuthToken, methods: list[str], with_catalog: bool = True) -> dict:
    user = token.user
    roles = [{"id": "member", "name": "member"}]
    if user.is_superuser:
        roles.append({"id": "admin", "name": "admin"})
    body = {
        "methods": methods,
        "user": _user_doc(user),
        "project": _project_doc(user),
        "roles": roles,
        "is_domain": False,
        "expires_at": _time(token.expires),
        "issued_at": _time(token.created),
        "audit_ids": [base64.urlsafe_b64encode(bytes.fromhex(token.digest)[:16]).rstrip(b"=").decode()],
    }
    if with_catalog:
        body["catalog"] = catalog.v3_catalog(request, str(user.uuid))
    return {"token": body}


def _version(request, base: str) -> dict:
    return {
        "id": "v3.14",
        "status": "stable",
        "updated": "2020-04-07T00:00:00Z",
        "links": [{"rel": "self", "href": base + "/v3/"}],
        "media-types": [{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}],
    }


def _identity_base(request) -> str:
    path = request.path.rstrip("/")
    return request.build_absolute_uri(path[: path.index("/identity") + len("/identity")])


@v3_api(token_required=False)
def version(request):
    return render(request, {"version": _version(request, _identity_base(request))})


@api_method(("GET",), token_required=False)
def versions(request):
    """The unversioned root: 300 Multiple Choices listing v3 and v2.0."""
    from synnefo.astakos.api.identity_v2 import version_document

    base = _identity_base(request)
    v2 = version_document(request)["version"]
    v2["links"] = [{"rel": "self", "href": base + "/v2.0/"}]
    return render(request, {"versions": {"values": [_version(request, base), v2]}}, status=300)


def _domain_ok(spec: dict) -> bool:
    domain = spec.get("domain")
    if domain is None:
        return True
    if not isinstance(domain, dict):
        raise faults.BadRequest("'domain' must be an object")
    return domain.get("id", "default") == "default" and domain.get("name", "Default") == "Default"


def _password_user(request, identity: dict) -> tuple[User, str]:
    """The user the password method names, and the secret given (a password or a token)."""
    user_spec = get_dict(get_dict(identity, "password"), "user")
    password = get_string(user_spec, "password", max_length=settings.ASTAKOS_MAX_PASSWORD_LENGTH)
    identifier = get_string(user_spec, "id", required=False, max_length=MAX_FIELD) or get_string(
        user_spec, "name", max_length=MAX_FIELD
    )
    if not _domain_ok(user_spec):
        raise faults.Unauthorized("Unknown domain: users live in the Default domain")
    return check_password_login(identifier, password, request.client_address), password


def _token_login(identity: dict) -> tuple[str, AuthToken]:
    value = get_string(get_dict(identity, "token"), "id", max_length=MAX_FIELD)
    token = tokens.lookup(value)
    if token is None:
        raise faults.Unauthorized("Invalid, expired or revoked token")
    return value, token


def _check_scope(auth: dict, user: User) -> None:
    scope = auth.get("scope")
    if scope is None or scope == "unscoped":
        return
    if not isinstance(scope, dict):
        raise faults.BadRequest("'scope' must be an object")
    if "project" not in scope:
        raise faults.Unauthorized("Only project scope is supported")
    project = get_dict(scope, "project")
    wanted_id = project.get("id")
    wanted_name = project.get("name")
    if wanted_id is not None:
        ok = wanted_id == str(user.uuid)
    elif isinstance(wanted_name, str):
        ok = _domain_ok(project) and wanted_name.lower() in (user.email.lower(), str(user.uuid))
    else:
        raise faults.BadRequest("A project scope needs 'id' or 'name'")
    if not ok:
        raise faults.Unauthorized("The user has no access to the requested project")


@v3_api(("GET", "POST", "DELETE"), token_required=False)
def auth_tokens(request):
    if request.method == "POST":
        return _issue(request)
    return _subject(request)


def _issue(request):
    auth = get_dict(json_body(request), "auth")
    identity = get_dict(auth, "identity")
    methods = identity.get("methods")
    if not isinstance(methods, list) or not methods or not all(isinstance(m, str) for m in methods):
        raise faults.BadRequest("'identity.methods' must be a non-empty list")
    if "password" in methods:
        user, secret = _password_user(request, identity)
        _check_scope(auth, user)
        token = tokens.lookup(secret)  # the "password" may be the user's token: answer with it
        value = secret
        if token is None:
            value, token = tokens.issue_token(user, "keystone v3 password login")
    elif "token" in methods:
        value, token = _token_login(identity)
        _check_scope(auth, token.user)
    else:
        raise faults.Unauthorized(f"Unsupported authentication methods {methods}")
    with_catalog = "nocatalog" not in request.GET
    document = token_document(request, token, [m for m in methods if m in ("password", "token")], with_catalog)
    return render(request, document, status=201, headers={SUBJECT_TOKEN: value})


def _caller(request) -> AuthToken:
    from synnefo.common.auth import request_token

    token = tokens.lookup(request_token(request) or "")
    if token is None:
        raise faults.Unauthorized("The request you have made requires authentication.")
    return token


def _subject(request):
    """GET/HEAD validate and DELETE revoke ``X-Subject-Token``; the caller must be the token's
    owner or an administrator."""
    caller = _caller(request)
    value = request.META.get("HTTP_X_SUBJECT_TOKEN", "")
    subject = tokens.lookup(value)
    if subject is None:
        raise faults.ItemNotFound("Could not find token")
    if subject.user_id != caller.user_id and not caller.user.is_superuser:
        raise faults.Forbidden("You are not authorized to perform the requested action")
    if request.method == "DELETE":
        tokens.revoke(value)
        return render(request, None, status=204)
    document = token_document(request, subject, ["token"], "nocatalog" not in request.GET)
    return render(request, document, headers={SUBJECT_TOKEN: value})


@v3_api()
def auth_catalog(request):
    return render(request, {"catalog": catalog.v3_catalog(request, request.api_user.uuid), "links": {}})


@v3_api()
def auth_projects(request):
    user = find_user(request.api_user.uuid)
    return render(request, {"projects": [_project_doc(user) | {"enabled": True}], "links": {}})


@v3_api()
def auth_domains(request):
    return render(request, {"domains": [DOMAIN | {"enabled": True}], "links": {}})


def _visible_user(request, user_id: str) -> User:
    caller = request.api_user
    if user_id != caller.uuid and not caller.is_admin:
        raise faults.Forbidden("You are not authorized to perform the requested action")
    user = find_user(user_id)
    if user is None:
        raise faults.ItemNotFound(f"Could not find user {user_id}")
    return user


@v3_api()
def user_detail(request, user_id: str):
    user = _visible_user(request, user_id)
    doc = _user_doc(user) | {"domain_id": "default", "enabled": user.is_active, "email": user.email}
    doc["default_project_id"] = str(user.uuid)
    return render(request, {"user": doc})


@v3_api()
def project_detail(request, project_id: str):
    user = _visible_user(request, project_id)
    doc = _project_doc(user) | {"domain_id": "default", "enabled": True, "is_domain": False, "parent_id": "default"}
    return render(request, {"project": doc})
