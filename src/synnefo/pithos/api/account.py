"""Account level: HEAD (statistics, meta, groups, quota), GET (containers), POST (meta, groups);
and the service root (``/object-store/v1/``): v1 authentication and "who shares with me"."""

from __future__ import annotations

import json

from django.conf import settings
from django.http import HttpResponse

from synnefo.common import faults
from synnefo.pithos.api.util import (
    caller,
    http_date,
    iso_date,
    list_limit,
    listing_format,
    meta_from_headers,
    out,
    pithos_api,
    put_meta_headers,
    render_listing,
)
from synnefo.pithos.backend import history, objects
from synnefo.pithos.models import Sharing, SharingMember


@pithos_api(("GET",))
def service_root(request):
    """Swift v1 auth on the Pithos URL (``X-Auth-User``/``X-Auth-Key``), else the accounts that
    share something with the caller."""
    if request.META.get("HTTP_X_AUTH_USER") or request.META.get("HTTP_X_AUTH_KEY"):
        from synnefo.pithos.api.swift import v1_auth_response

        return v1_auth_response(request, status=204)
    user = caller(request)
    names = objects.accounts_sharing_with(user.uuid)
    records = [{"name": name} for name in names]
    return render_listing(request, listing_format(request), names, records, "accounts", "account")


def _account_headers(response, account_name: str, until: float | None = None) -> None:
    account = objects.get_account(account_name)
    if until is None:
        usage = objects.account_usage(account_name)
    else:
        usage = history.account_stats_at(account_name, until)
        response["X-Account-Until-Timestamp"] = http_date(usage["until_timestamp"] or min(account.modified, until))
    response["X-Account-Container-Count"] = str(usage["containers"])
    response["X-Account-Object-Count"] = str(usage["objects"])
    response["X-Account-Bytes-Used"] = str(usage["bytes"])
    limit = objects.quotaholder_limit(account_name)
    response["X-Account-Policy-Quota"] = str(limit if limit is not None else objects.account_quota())
    response["X-Timestamp"] = f"{account.modified:.5f}"
    if account.modified:
        response["Last-Modified"] = http_date(account.modified)
    put_meta_headers(response, "Account", account.meta)
    for group, members in account.groups.items():
        response[f"X-Account-Group-{out(group)}"] = out(",".join(members))


@pithos_api(("GET", "POST", "DELETE"))
def account_view(request, account: str):
    user = caller(request)
    owner = user.uuid == account
    if "bulk-delete" in request.GET and request.method in ("POST", "DELETE"):
        if not owner:
            raise faults.Forbidden("Not allowed")
        return _bulk_delete(request, account, user.uuid)
    if request.method == "DELETE":
        raise faults.MethodNotAllowed("Accounts are not deleted through the API", headers={"Allow": "GET, HEAD, POST"})
    if request.method == "POST":
        if not owner:
            raise faults.Forbidden("Not allowed")
        groups = _groups_from_headers(request)
        replace = "update" not in request.GET
        objects.update_account(account, meta=meta_from_headers(request, "Account"), groups=groups, replace=replace)
        return HttpResponse(status=204 if getattr(request, "swift", False) else 202)
    if request.method == "HEAD" or not owner:
        if not owner:
            if request.method == "HEAD":
                raise faults.Forbidden("Not allowed")
            return _shared_containers(request, user.uuid, account)
        response = HttpResponse(status=204)
        _account_headers(response, account, history.parse_until(request.GET.get("until")))
        return response
    until = history.parse_until(request.GET.get("until"))
    limit = list_limit(request)
    marker, prefix = request.GET.get("marker"), request.GET.get("prefix", "")
    if until is None:
        containers = objects.list_containers(account, marker, limit, prefix)
    else:
        containers = history.containers_at(account, until, marker, limit, prefix)
    fmt = listing_format(request)
    records = [_container_record(c, until) for c in containers]
    response = render_listing(request, fmt, [c.name for c in containers], records, "account", "container", name=account)
    _account_headers(response, account, until)
    return response


def _container_record(container, until: float | None) -> dict:
    record = {
        "name": container.name,
        "count": container.object_count,
        "bytes": container.bytes_used,
        "last_modified": iso_date(container.modified),
        "x_container_policy": {"quota": str(container.quota), "versioning": container.versioning},
    }
    if until is not None:
        stats = history.container_stats_at(container, until)
        record.update(
            count=stats["objects"],
            bytes=stats["bytes"],
            last_modified=iso_date(stats["until_timestamp"]),
            x_container_until_timestamp=f"{stats['until_timestamp']:.6f}",
        )
    return record


def _groups_from_headers(request) -> dict | None:
    prefix = "HTTP_X_ACCOUNT_GROUP_"
    groups = {}
    for key, value in request.META.items():
        if key.startswith(prefix):
            name = key[len(prefix) :].lower().replace("_", "-")
            members = [m.strip() for m in value.split(",") if m.strip()]
            groups[name] = members
    return groups or None


def _shared_containers(request, user: str, account: str):
    """What another account shares with the caller: the containers holding shared paths."""
    members = {user, "*"}
    shared = Sharing.objects.filter(
        account=account, pk__in=SharingMember.objects.filter(member__in=members).values("sharing")
    ).values_list("path", flat=True)
    names = sorted({path.split("/", 1)[0] for path in shared})
    records = [{"name": name} for name in names]
    return render_listing(request, listing_format(request), names, records, "account", "container", name=account)


BULK_DELETE_MAX = 10000


def _bulk_delete(request, account: str, user: str):
    """Swift's bulk delete: the body lists ``/container[/object]`` paths, one per line."""
    from urllib.parse import unquote

    body = request.read(settings.SYNNEFO_MAX_REQUEST_BODY + 1)
    if len(body) > settings.SYNNEFO_MAX_REQUEST_BODY:
        raise faults.RequestEntityTooLarge("Bulk delete list too long")
    paths = [unquote(line.strip()) for line in body.decode("utf-8", "replace").splitlines() if line.strip()]
    if len(paths) > BULK_DELETE_MAX:
        raise faults.RequestEntityTooLarge(f"At most {BULK_DELETE_MAX} paths per bulk delete")
    deleted = not_found = 0
    errors = []
    # Objects first, then containers, so "c/o" and "c" in one request both succeed.
    for path in sorted(paths, key=lambda p: -p.strip("/").count("/")):
        container_name, _, name = path.strip("/").partition("/")
        try:
            container = objects.get_container(account, container_name)
            if name:
                objects.delete_object(container, name, user)
            else:
                objects.delete_container(container)
            deleted += 1
        except faults.ItemNotFound:
            not_found += 1
        except faults.Fault as fault:
            errors.append([path, f"{fault.code} {fault.title}"])
    result = {
        "Number Deleted": deleted,
        "Number Not Found": not_found,
        "Errors": errors,
        "Response Status": "400 Bad Request" if errors else "200 OK",
        "Response Body": "",
    }
    if listing_format(request) == "json" or "json" in request.META.get("HTTP_ACCEPT", ""):
        return HttpResponse(json.dumps(result), content_type="application/json; charset=utf-8")
    text = "".join(f"{k}: {v}\n" for k, v in result.items() if k != "Errors")
    return HttpResponse(text.encode(), content_type="text/plain; charset=utf-8")
