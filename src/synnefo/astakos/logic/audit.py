"""The audit trail of administrative actions: every writer goes through ``record``.

An entry says who acted (an administrator, or ``snf-manage`` with the operating-system user
in ``detail``), what was done (``action``, e.g. ``user.reject``), to whom and when, plus a
free-form ``detail`` (reason, old and new values). It is written in the caller's transaction,
so an action that fails leaves no entry, and an entry never describes a change that did not
happen. Each entry is also logged to ``synnefo.astakos.audit`` for log shippers.
"""

from __future__ import annotations

import getpass
import json
import logging
import os

from django.core.serializers.json import DjangoJSONEncoder

from synnefo.astakos.models import AuditEntry, User

log = logging.getLogger("synnefo.astakos.audit")

# The actor name of changes made from the command line.
COMMAND_ACTOR = "snf-manage"


def record(actor: User | str | None, action: str, target: User | None = None, **detail) -> AuditEntry:
    """Write one audit entry. ``actor`` is the acting administrator, or a name (such as
    ``snf-manage``) when no account acted; ``detail`` values must be JSON-like (dates and
    uuids are turned into strings)."""
    if isinstance(actor, User):
        actor_user, actor_email = actor, actor.email
    else:
        actor_user, actor_email = None, actor or ""
    detail = json.loads(json.dumps(detail, cls=DjangoJSONEncoder))
    entry = AuditEntry.objects.create(
        actor=actor_user,
        actor_email=actor_email,
        action=action,
        target=target,
        target_repr=target.email if target is not None else "",
        detail=detail,
    )
    log.info(
        "audit: %s by %s on %s %s",
        action,
        actor_email or "-",
        entry.target_repr or "-",
        json.dumps(detail, sort_keys=True),
    )
    return entry


def os_user() -> str:
    """The operating-system user running this process (its uid when it has no name)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())


def record_command(action: str, target: User | None = None, **detail) -> AuditEntry:
    """An entry for a change made with ``snf-manage``: actor ``snf-manage``, with the
    operating-system user in ``detail["os_user"]``."""
    return record(COMMAND_ACTOR, action, target, os_user=os_user(), **detail)


def describe(entry: AuditEntry) -> str:
    """``entry.detail`` for people: ``reason: spam; status: Pending moderation → Rejected (spam)``
    (only what changed of old and new), without the operating-system user (shown with the actor)."""
    detail = dict(entry.detail or {})
    detail.pop("os_user", None)
    old, new = detail.pop("old", None), detail.pop("new", None)
    parts = [f"{key}: {value}" for key, value in detail.items()]
    if isinstance(old, dict) and isinstance(new, dict):
        parts += [f"{key}: {old.get(key)} → {new.get(key)}" for key in new if old.get(key) != new.get(key)]
    elif old is not None or new is not None:
        parts.append(f"{old} → {new}")
    return "; ".join(parts)
