"""Views of the admin pages: thin, the rules are in ``logic.admin``.

GET pages list and show; every change is a POST form (with the CSRF token) that redirects
back to the user's page (303) on success, or answers 400/404/409 with the reason and
changes nothing.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import CharField, Q, Value
from django.db.models.functions import Cast, Concat, Replace
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from synnefo.astakos.admin_ui.access import admin_required, error_page
from synnefo.astakos.logic import admin, audit
from synnefo.astakos.models import AuditEntry, AuthProvider, User

MAX_QUERY = 254

# The user-list filter: the same states the status string tells apart, in its order.
_VERIFIED = Q(email_verified=True)
STATES = {
    "pending_verification": ("Pending email verification", Q(email_verified=False)),
    "pending_moderation": ("Pending moderation", _VERIFIED & Q(is_rejected=False, moderated=False)),
    "active": ("Active", _VERIFIED & Q(is_rejected=False, moderated=True, is_active=True)),
    "inactive": ("Inactive", _VERIFIED & Q(is_rejected=False, moderated=True, is_active=False)),
    "rejected": ("Rejected", _VERIFIED & Q(is_rejected=True)),
}
TYPES = {"ADMIN": Q(is_superuser=True), "USER": Q(is_superuser=False)}


class BadRequest(Exception):
    pass


def _param(request, name: str, choices=None) -> str:
    value = request.GET.get(name, "").strip()
    if len(value) > MAX_QUERY:
        raise BadRequest(f"'{name}' is limited to {MAX_QUERY} characters")
    if value and choices is not None and value not in choices:
        raise BadRequest(f"Unknown {name} '{value}'; one of: {', '.join(choices)}")
    return value


def _page(request, objects):
    raw = request.GET.get("page", "1")
    if not raw.isdigit() or int(raw) < 1:
        raise BadRequest(f"Bad page number '{raw[:20]}'")
    return Paginator(objects, settings.ASTAKOS_ADMIN_PAGE_SIZE).get_page(int(raw))


def _described(entries):
    entries = list(entries)
    for entry in entries:
        entry.summary = audit.describe(entry)
    return entries


def _query_without_page(request) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


def search_users(text: str):
    """Users whose email, name or uuid contains ``text`` (any case), or whose id it is."""
    users = User.objects.all()
    if not text:
        return users
    users = users.annotate(
        full_name=Concat("first_name", Value(" "), "last_name", output_field=CharField()),
        uuid_hex=Replace(Cast("uuid", CharField()), Value("-"), Value("")),
    )
    match = Q(email__icontains=text) | Q(full_name__icontains=text)
    hex_text = text.replace("-", "").lower()
    if hex_text and all(c in "0123456789abcdef" for c in hex_text):
        match |= Q(uuid_hex__icontains=hex_text)
    if text.isdigit():
        match |= Q(pk=int(text))
    return users.filter(match)


@admin_required
@require_GET
def user_list(request):
    try:
        text = _param(request, "q")
        state = _param(request, "state", STATES)
        user_type = _param(request, "type", TYPES)
        users = search_users(text)
        if state:
            users = users.filter(STATES[state][1])
        if user_type:
            users = users.filter(TYPES[user_type])
        page = _page(request, users.order_by("-date_joined", "-id"))
    except BadRequest as exc:
        return error_page(request, 400, str(exc))
    context = {
        "page": page,
        "q": text,
        "state": state,
        "type": user_type,
        "states": [(k, label, User.objects.filter(q).count()) for k, (label, q) in STATES.items()],
        "types": list(TYPES),
        "query": _query_without_page(request),
    }
    return render(request, "astakos/admin/user_list.html", context)


def _quota_rows(user: User) -> list[dict]:
    from synnefo.astakos.quotaholder.logic import ensure_user_holdings
    from synnefo.astakos.quotaholder.models import Holding
    from synnefo.astakos.quotaholder.resources import show_quantity

    uuid = str(user.uuid)
    ensure_user_holdings([uuid])
    rows = []
    holdings = Holding.objects.select_related("resource").filter(holder=f"user:{uuid}", source=f"project:{uuid}")
    for h in holdings.order_by("resource__name"):
        unit = h.resource.unit
        rows.append({
            "resource": h.resource.name,
            "description": h.resource.description,
            "limit": show_quantity(h.effective_limit(), unit),
            "is_default": h.limit is None,
            "usage": show_quantity(h.usage_max, unit),
            "pending": show_quantity(h.usage_max - h.usage_min, unit),
            "over": h.usage_max > h.effective_limit(),
        })
    return rows


@admin_required
@require_GET
def user_detail(request, user_id: int):
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        return error_page(request, 404, f"No user with id {user_id}")
    now = timezone.now()
    live = user.tokens.filter(expires__gt=now)
    context = {
        "subject": user,
        "providers": AuthProvider.objects.filter(user=user).order_by("module", "created"),
        "tokens": {"live": live.count(), "newest": live.order_by("-created").values_list("created", flat=True).first()},
        "quotas": _quota_rows(user),
        "actions": admin.available(request.user, user),
        "audit": _described(AuditEntry.objects.filter(target=user)[: settings.ASTAKOS_ADMIN_RECENT_AUDIT]),
    }
    return render(request, "astakos/admin/user_detail.html", context)


def _done(request, user: User, message: str):
    messages.success(request, message)
    return HttpResponseRedirect(reverse("astakos-admin-user", args=[user.pk]), status=303)


@admin_required
@require_POST
def user_action(request, user_id: int, slug: str):
    if slug not in admin.ACTIONS:
        return error_page(request, 404, f"No admin action '{slug}'")
    try:
        user = admin.perform(request.user, user_id, slug, request.POST.get("reason", ""))
    except User.DoesNotExist:
        return error_page(request, 404, f"No user with id {user_id}")
    except admin.ActionRefused as refused:
        return error_page(request, refused.status, refused.message, reverse("astakos-admin-user", args=[user_id]))
    return _done(request, user, f"{admin.ACTIONS[slug].label}: done. Status: {user.status}")


@admin_required
@require_POST
def user_quota(request, user_id: int):
    resource = request.POST.get("resource", "")
    try:
        user = admin.set_quota_limit(request.user, user_id, resource, request.POST.get("limit", ""))
    except User.DoesNotExist:
        return error_page(request, 404, f"No user with id {user_id}")
    except admin.ActionRefused as refused:
        return error_page(request, refused.status, refused.message, reverse("astakos-admin-user", args=[user_id]))
    return _done(request, user, f"Limit of {resource} changed")


@admin_required
@require_GET
def audit_list(request):
    try:
        actor = _param(request, "actor")
        target = _param(request, "target")
        action = _param(request, "action")
        entries = AuditEntry.objects.all()
        if actor:
            entries = entries.filter(actor_email__icontains=actor)
        if target:
            # A number is the user's id; anything else part of the email.
            match = Q(target_id=int(target)) if target.isdigit() else Q(target_repr__icontains=target)
            entries = entries.filter(match)
        if action:
            # "user.reject" is one action; "user." (or "user") every action on users.
            entries = entries.filter(Q(action=action) | Q(action__startswith=action.rstrip(".") + "."))
        page = _page(request, entries.order_by("-at", "-id"))
    except BadRequest as exc:
        return error_page(request, 400, str(exc))
    context = {
        "page": page,
        "entries": _described(page),
        "actor": actor,
        "target": target,
        "action": action,
        "query": _query_without_page(request),
    }
    return render(request, "astakos/admin/audit_list.html", context)
