"""Administrators' actions on accounts, as the admin pages offer them.

Each action checks that it applies to the account's present state (so a stale page cannot,
say, reject an account that was accepted meanwhile), changes the account through
``logic.users`` or the quotaholder, and records an audit entry, all in one transaction: a
refused or failed action changes nothing and records nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction

from synnefo.astakos.logic import activation, audit, users
from synnefo.astakos.models import User


class ActionRefused(Exception):
    """The action cannot be done: ``status`` 400 (bad input) or 409 (not in this state)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def _conflict(message: str):
    raise ActionRefused(409, message)


def _not_self(actor: User, user: User, what: str) -> None:
    # An administrator locking themselves out could leave the cloud with no administrator.
    if actor.pk == user.pk:
        _conflict(f"You cannot {what} your own account; ask another administrator")


def _check_activate(actor, user):
    if user.is_active:
        _conflict("The account is already active")
    if not user.email_verified:
        _conflict("The email address is not verified yet")
    if user.is_rejected or not user.moderated:
        _conflict("The account is not accepted (see moderation)")


def _check_deactivate(actor, user):
    _not_self(actor, user, "deactivate")
    if not user.is_active:
        _conflict("The account is already inactive")


def _check_accept(actor, user):
    if user.moderated and not user.is_rejected:
        _conflict("The account is already accepted")


def _check_reject(actor, user):
    _not_self(actor, user, "reject")
    if user.is_rejected:
        _conflict("The account is already rejected")
    if user.moderated:
        _conflict("The account is already accepted; deactivate it instead")


def _check_verify(actor, user):
    if user.email_verified:
        _conflict("The email address is already verified")


def _check_set_admin(actor, user):
    if user.is_superuser:
        _conflict("The user is already of type ADMIN")


def _check_unset_admin(actor, user):
    _not_self(actor, user, "demote")
    if not user.is_superuser:
        _conflict("The user is already of type USER")


def _check_resend(actor, user):
    if user.email_verified:
        _conflict("The email address is already verified")


def _resend(user, reason):
    try:
        activation.send_verification(user)
    except ValueError as exc:  # the sender's refusal (e.g. sent too recently)
        _conflict(str(exc))


@dataclass(frozen=True)
class Action:
    slug: str  # in the URL: /admin/users/<id>/<slug>
    audit: str  # the audit entry's action
    label: str
    check: Callable[[User, User], None]
    run: Callable[[User, str], object]
    needs_reason: bool = False
    danger: bool = False


ACTIONS = {
    a.slug: a
    for a in [
        Action("activate", "user.activate", "Activate", _check_activate, lambda u, r: users.activate(u)),
        Action("deactivate", "user.deactivate", "Deactivate", _check_deactivate, users.deactivate, True, True),
        # Through the activation flow, so the user gets the welcome or rejection mail.
        Action("accept", "user.accept", "Accept", _check_accept, lambda u, r: activation.accept(u)),
        Action("reject", "user.reject", "Reject", _check_reject, activation.reject, True, True),
        Action("verify", "user.verify_email", "Mark email verified", _check_verify, lambda u, r: activation.verify(u)),
        Action("resend-activation", "user.resend_activation", "Resend activation email", _check_resend, _resend),
        Action("set-admin", "user.set_admin", "Make ADMIN", _check_set_admin, lambda u, r: users.set_admin(u, True)),
        Action("unset-admin", "user.unset_admin", "Make USER", _check_unset_admin,
               lambda u, r: users.set_admin(u, False), danger=True),
    ]
}


def available(actor: User, user: User) -> list[tuple[Action, str | None]]:
    """Every action with None when it applies to ``user`` now, else why it does not."""
    result = []
    for action in ACTIONS.values():
        try:
            action.check(actor, user)
        except ActionRefused as refused:
            result.append((action, refused.message))
        else:
            result.append((action, None))
    return result


def _clean_reason(reason: str, required: bool) -> str:
    reason = (reason or "").strip()
    if required and not reason:
        raise ActionRefused(400, "A reason is required")
    limit = settings.ASTAKOS_ADMIN_MAX_REASON_LENGTH
    if len(reason) > limit:
        raise ActionRefused(400, f"The reason is limited to {limit} characters")
    return reason


def _state(user: User) -> dict:
    return {"status": user.status, "type": user.user_type}


@transaction.atomic
def perform(actor: User, user_id: int, slug: str, reason: str = "") -> User:
    """Do action ``slug`` on user ``user_id`` as ``actor``; raises User.DoesNotExist, KeyError
    (no such action) or ActionRefused."""
    action = ACTIONS[slug]
    user = User.objects.select_for_update().get(pk=user_id)
    reason = _clean_reason(reason, action.needs_reason)
    action.check(actor, user)
    before = _state(user)
    action.run(user, reason)
    user.refresh_from_db()
    detail = {"old": before, "new": _state(user)}
    if action.needs_reason:
        detail["reason"] = reason
    audit.record(actor, action.audit, user, **detail)
    return user


@transaction.atomic
def change_base_limit(actor: User | str, user: User, resource, limit: int | None, **detail) -> None:
    """Set ``user``'s base-project limit of ``resource`` (None: the system default again) and
    record it with the old and new limits (shared by the admin pages and ``quota-modify``)."""
    from synnefo.astakos.quotaholder.logic import ensure_user_holdings, set_base_limit
    from synnefo.astakos.quotaholder.models import Holding
    from synnefo.astakos.quotaholder.resources import show_quantity

    uuid = str(user.uuid)
    ensure_user_holdings([uuid], [resource])
    old = Holding.objects.get(holder=f"user:{uuid}", source=f"project:{uuid}", resource=resource).limit
    set_base_limit(uuid, resource, limit)

    def shown(value):
        return "default" if value is None else show_quantity(value, resource.unit)

    audit.record(actor, "quota.set_limit", user, resource=resource.name, old=shown(old), new=shown(limit), **detail)


@transaction.atomic
def set_quota_limit(actor: User, user_id: int, resource_name: str, limit_text: str) -> User:
    """The admin pages' form: ``limit_text`` as operators write it (10, 10G, inf) or
    ``default``; an unknown resource or a bad quantity is refused (400)."""
    from synnefo.astakos.quotaholder.models import Resource
    from synnefo.astakos.quotaholder.resources import parse_quantity

    user = User.objects.select_for_update().get(pk=user_id)
    resource = Resource.objects.filter(name=(resource_name or "").strip()).first()
    if resource is None:
        raise ActionRefused(400, f"No resource '{resource_name}'")
    limit_text = (limit_text or "").strip()
    if not limit_text:
        raise ActionRefused(400, "A limit is required (e.g. 10, 10G, inf, or default)")
    if limit_text.lower() == "default":
        limit = None
    else:
        try:
            limit = parse_quantity(limit_text)
        except ValueError as exc:
            raise ActionRefused(400, str(exc)) from None
    change_base_limit(actor, user, resource, limit)
    return user
