"""Time travel: containers and objects as they were at a past moment (``until=<timestamp>``).

A version row records when it became current (``mtime``); it stopped being current when the
next row of the same name was made (a newer version, or a deletion marker). So "the object at
time T" is the newest row of that name with ``mtime <= T``, unless that row is a deletion
marker or its X-Delete-At had passed by T. Listings, counts and bytes as of T all use that one
rule, and listings keep their keyset paging (the rule is a filter on the same name-ordered
scan). What is not recorded cannot be travelled to: history purged with ``DELETE ?until``,
versions dropped under ``versioning=none``, deleted containers, and metadata/sharing changes
(those are shown as they are now).
"""

from __future__ import annotations

from django.db.models import Count, Max, OuterRef, Subquery, Sum

from synnefo.pithos.models import Container, ObjectVersion

DELETED = ObjectVersion.DELETED


def versions_at(container: Container, until: float):
    """The versions of ``container`` that were current at ``until``, as a queryset."""
    newest = (
        ObjectVersion.objects.filter(container=container, name=OuterRef("name"), mtime__lte=until)
        .order_by("-mtime", "-pk")
        .values("pk")[:1]
    )
    return (
        container.versions.filter(mtime__lte=until, pk=Subquery(newest))
        .exclude(cluster=DELETED)
        .exclude(delete_at__lte=until)
    )


def container_stats_at(container: Container, until: float) -> dict:
    """Object count, bytes and the time of the last change at or before ``until``."""
    totals = versions_at(container, until).aggregate(objects=Count("pk"), bytes=Sum("size"))
    last = container.versions.filter(mtime__lte=until).aggregate(last=Max("mtime"))["last"]
    return {
        "objects": totals["objects"] or 0,
        "bytes": totals["bytes"] or 0,
        "until_timestamp": max(last or 0.0, min(container.created, until)),
    }


def containers_at(account: str, until: float, marker: str | None = None, limit: int | None = None, prefix: str = ""):
    """The account's containers that existed at ``until`` (and still exist), by name."""
    query = Container.objects.filter(account=account, created__lte=until)
    if prefix:
        query = query.filter(name__startswith=prefix)
    if marker:
        query = query.filter(name__gt=marker)
    query = query.order_by("name")
    return list(query if limit is None else query[:limit])


def account_stats_at(account: str, until: float) -> dict:
    """Container count, object count, bytes and the last change, as of ``until``."""
    result = {"containers": 0, "objects": 0, "bytes": 0, "until_timestamp": 0.0}
    for container in containers_at(account, until):
        stats = container_stats_at(container, until)
        result["containers"] += 1
        result["objects"] += stats["objects"]
        result["bytes"] += stats["bytes"]
        result["until_timestamp"] = max(result["until_timestamp"], stats["until_timestamp"])
    return result


def parse_until(value: str | None) -> float | None:
    """The ``until`` parameter as a Unix timestamp (None when absent); BadRequest when not a number."""
    from synnefo.common import faults

    if value is None or value == "":
        return None
    try:
        until = float(value)
    except ValueError:
        raise faults.BadRequest("Invalid until: expected a Unix timestamp") from None
    if until != until or until in (float("inf"), float("-inf")):
        raise faults.BadRequest("Invalid until: expected a Unix timestamp")
    return until

