"""The rules of the object store: accounts, containers, objects, versions, quotas, sharing.

The HTTP layer (``synnefo.pithos.api``) maps requests onto these functions; everything that
must hold whatever the client (quota, statistics, versioning, permissions) is decided here.
Data is written to the block store *before* the version that references it is committed, so a
crash mid-upload leaves at most unreferenced blocks (collected later), never a partial object.
"""

from __future__ import annotations

import logging
import secrets
import string
import time
import uuid
from dataclasses import dataclass
from functools import cache, wraps

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Sum

from synnefo.common import faults, rows
from synnefo.pithos.backend.data import (  # noqa: F401 (the API layer uses them through this module)
    SourceData,
    digests,
    md5_of_blocks,
    patched_map,
    read_range,
    split_map,
    store_blocks,
    store_stream,
)
from synnefo.pithos.backend.hashing import merkle
from synnefo.pithos.backend.history import versions_at
from synnefo.pithos.models import Account, Container, ObjectVersion, PublicLink, Sharing, SharingMember

logger = logging.getLogger("synnefo.pithos")

CURRENT, HISTORY, DELETED = ObjectVersion.CURRENT, ObjectVersion.HISTORY, ObjectVersion.DELETED
DIRECTORY_TYPES = ("application/directory", "application/folder")


def now() -> float:
    return time.time()


def retry_on_conflict(function):
    """Run ``function`` in a transaction, again if a concurrent writer of the same object won."""

    @wraps(function)
    def wrapper(*args, **kwargs):
        for attempt in range(5):
            try:
                with transaction.atomic():
                    return function(*args, **kwargs)
            except IntegrityError:
                if attempt == 4:
                    raise faults.Conflict("Concurrent update of the same object; retry") from None
                time.sleep(0.01 * (attempt + 1))

    return wrapper


# ---------------------------------------------------------------------------------- accounts


def get_account(name: str) -> Account:
    account = Account.objects.filter(name=name).first()
    return account or Account(name=name)


def account_quota() -> int:
    """The local cap on an account's bytes (besides the quotaholder's limit); 0 = none."""
    return settings.PITHOS_DEFAULT_ACCOUNT_QUOTA


def quotaholder_limit(account: str) -> int | None:
    """The account's ``pithos.diskspace`` limit in its base project, or None (quotaholder off
    or unreachable: the header is then left out rather than the request failed)."""
    if not settings.PITHOS_USE_QUOTAHOLDER:
        return None
    from synnefo.astakos.quotaholder.client import QuotaError, get_client

    try:
        quotas = get_client("pithos").service_quotas(user=account)
    except (QuotaError, ValueError):
        return None
    entry = quotas.get(account, {}).get(account, {}).get("pithos.diskspace")
    return entry["limit"] if entry else None


def account_usage(name: str) -> dict:
    totals = Container.objects.filter(account=name).aggregate(
        containers=Count("id"), objects=Sum("object_count"), bytes=Sum("bytes_used")
    )
    return {k: v or 0 for k, v in totals.items()}


@transaction.atomic
def update_account(name: str, meta: dict | None = None, groups: dict | None = None, replace: bool = False) -> None:
    account, _ = Account.objects.select_for_update().get_or_create(name=name)
    if meta is not None:
        account.meta = _merge(account.meta, meta, replace)
        _check_meta_count(account.meta)
    if groups is not None:
        merged = _merge(account.groups, groups, replace)
        if len(merged) > settings.PITHOS_ACC_MAX_GROUPS:
            raise faults.BadRequest(f"At most {settings.PITHOS_ACC_MAX_GROUPS} groups")
        if any(len(members) > settings.PITHOS_ACC_MAX_GROUP_MEMBERS for members in merged.values()):
            raise faults.BadRequest(f"At most {settings.PITHOS_ACC_MAX_GROUP_MEMBERS} members per group")
        account.groups = merged
    account.modified = now()
    account.save()


def _merge(current: dict, changes: dict, replace: bool) -> dict:
    """Metadata update: ``replace`` sets exactly ``changes``; else merge, empty values delete."""
    merged = {} if replace else dict(current)
    for key, value in changes.items():
        if value in ("", [], None):
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def _check_meta_count(meta: dict) -> None:
    if len(meta) > settings.PITHOS_RESOURCE_MAX_METADATA:
        raise faults.BadRequest(f"At most {settings.PITHOS_RESOURCE_MAX_METADATA} metadata items")


# -------------------------------------------------------------------------------- containers


# The lookups of every object request (container, current version, sharing rule, public link)
# are hand-written SQL built once (synnefo.common.rows): compiling their ORM queries cost about
# two thirds of a small GET.
_CONTAINER = rows.Columns(Container, alias="c")
_VERSION = rows.Columns(ObjectVersion, alias="v")
_SHARING = rows.Columns(Sharing, alias="s")


@cache
def _container_sql() -> str:
    q = rows.quote
    return f"SELECT {_CONTAINER.sql()} FROM {q(Container._meta.db_table)} c WHERE c.{q('account')} = %s AND c.{q('name')} = %s"


@cache
def _locked_container_sql() -> str:
    q = rows.quote
    lock = " FOR UPDATE" if rows.connection().features.has_select_for_update else ""
    return f"SELECT {_CONTAINER.sql()} FROM {q(Container._meta.db_table)} c WHERE c.{q('id')} = %s{lock}"


@cache
def _current_version_sql(expired_too: bool) -> str:
    q = rows.quote
    alive = "" if expired_too else f" AND (v.{q('delete_at')} IS NULL OR v.{q('delete_at')} > %s)"
    return (
        f"SELECT {_VERSION.sql()} FROM {q(ObjectVersion._meta.db_table)} v WHERE v.{q('container_id')} = %s "
        f"AND v.{q('name')} = %s AND v.{q('cluster')} = {CURRENT}{alive}"
    )


@cache
def _container_stats_sql() -> str:
    q = rows.quote
    return (
        f"UPDATE {q(Container._meta.db_table)} SET {q('object_count')} = {q('object_count')} + %s, "
        f"{q('bytes_used')} = {q('bytes_used')} + %s, {q('modified')} = %s WHERE {q('id')} = %s"
    )


def _current_version(container_pk: int, name: str, expired_too: bool = False) -> ObjectVersion | None:
    """The current version of a name (by default not one past its X-Delete-At)."""
    params = [container_pk, name] if expired_too else [container_pk, name, now()]
    row = rows.fetch_one(_current_version_sql(expired_too), params)
    return _VERSION.instance(row) if row else None


@cache
def _sharing_sql(paths: int) -> str:
    q = rows.quote
    return (
        f"SELECT {_SHARING.sql()} FROM {q(Sharing._meta.db_table)} s WHERE s.{q('account')} = %s "
        f"AND s.{q('path')} IN ({', '.join(['%s'] * paths)})"
    )


@cache
def _public_id_sql() -> str:
    q = rows.quote
    return (
        f"SELECT {q('public_id')} FROM {q(PublicLink._meta.db_table)} "
        f"WHERE {q('account')} = %s AND {q('path')} = %s"
    )


def get_container(account: str, name: str) -> Container:
    row = rows.fetch_one(_container_sql(), [account, name])
    container = _CONTAINER.instance(row) if row else None
    if container is None:
        raise faults.ItemNotFound("Container does not exist")
    return container


def list_containers(account: str, marker: str | None, limit: int, prefix: str = "") -> list[Container]:
    query = Container.objects.filter(account=account)
    if prefix:
        query = query.filter(name__startswith=prefix)
    if marker:
        query = query.filter(name__gt=marker)
    return list(query.order_by("name")[:limit])


def create_container(account: str, name: str, *, versioning=None, quota=None, meta=None) -> bool:
    """Create a container, or update the policy/meta of an existing one. True if created."""
    ts = now()
    with transaction.atomic():
        Account.objects.get_or_create(name=account)
        container, created = Container.objects.select_for_update().get_or_create(
            account=account,
            name=name,
            defaults=dict(
                created=ts,
                modified=ts,
                versioning=settings.PITHOS_DEFAULT_CONTAINER_VERSIONING,
                quota=settings.PITHOS_DEFAULT_CONTAINER_QUOTA,
            ),
        )
        update_container(container, versioning=versioning, quota=quota, meta=meta, replace=False)
    return created


def update_container(container: Container, *, versioning=None, quota=None, meta=None, replace=False, acls=None):
    if versioning is not None:
        if versioning not in ("auto", "none"):
            raise faults.BadRequest("Container versioning policy must be 'auto' or 'none'")
        container.versioning = versioning
    if quota is not None:
        if quota < 0:
            raise faults.BadRequest("Container quota must not be negative")
        container.quota = quota
    if meta is not None:
        container.meta = _merge(container.meta, meta, replace)
        _check_meta_count(container.meta)
    if acls is not None:
        read, write = acls
        if read is not None:
            container.read_acl = read
        if write is not None:
            container.write_acl = write
    container.modified = now()
    container.save()


def delete_container(container: Container) -> None:
    if container.object_count:
        raise faults.Conflict("Container is not empty")
    with transaction.atomic():
        Sharing.objects.filter(account=container.account, path__startswith=container.name + "/").delete()
        PublicLink.objects.filter(account=container.account, path__startswith=container.name + "/").delete()
        container.delete()


def purge_history(container: Container, until: float) -> int:
    """Forget old versions (history and deletion markers) older than ``until``."""
    deleted, _ = container.versions.filter(cluster__in=(HISTORY, DELETED), mtime__lte=until).delete()
    return deleted


def purge_object_history(container: Container, name: str, until: float) -> int:
    """Forget the old versions of one object older than ``until`` (the current one stays)."""
    deleted, _ = container.versions.filter(name=name, cluster__in=(HISTORY, DELETED), mtime__lte=until).delete()
    return deleted


# ----------------------------------------------------------------------------------- listing


@dataclass
class Subdir:
    name: str


def list_objects(
    container: Container,
    *,
    prefix: str = "",
    delimiter: str | None = None,
    marker: str | None = None,
    end_marker: str | None = None,
    limit: int,
    reverse: bool = False,
    visible=None,
    until: float | None = None,
) -> list[ObjectVersion | Subdir]:
    """Current objects in name order after ``marker`` (before it, with ``reverse``); with
    ``delimiter``, names that continue past the delimiter after ``prefix`` fold into one
    ``Subdir`` each (virtual directories). Keyset pagination: each page is index range scans,
    whatever the container's size. With ``until``, the objects as they were then."""
    results: list[ObjectVersion | Subdir] = []
    cursor, inclusive = marker or "", False
    if until is None:
        base = container.versions.filter(cluster=CURRENT).exclude(delete_at__lte=now())
    else:
        base = versions_at(container, until)
    base = base.defer("hashmap", "slo")
    if prefix:
        base = base.filter(name__startswith=prefix)
    if end_marker:
        base = base.filter(name__gt=end_marker) if reverse else base.filter(name__lt=end_marker)
    while len(results) < limit:
        if reverse:
            page = base.filter(name__lt=cursor) if cursor else base
            batch = list(page.order_by("-name")[: limit - len(results)])
        else:
            page = base.filter(name__gte=cursor) if inclusive else base.filter(name__gt=cursor)
            batch = list(page.order_by("name")[: limit - len(results)])
        if not batch:
            break
        for version in batch:
            cursor, inclusive = version.name, False
            cut = version.name.find(delimiter, len(prefix)) if delimiter else -1
            if cut >= 0:
                subdir = version.name[: cut + len(delimiter)]
                if not marker or (subdir < marker if reverse else subdir > marker):
                    results.append(Subdir(subdir))
                # Continue past every name below this subdir.
                if reverse:
                    cursor = subdir
                else:
                    cursor, inclusive = subdir[:-1] + chr(ord(subdir[-1]) + 1), True
                break
            if visible is None or visible(version):
                results.append(version)
    return results


# ----------------------------------------------------------------------------------- objects


def get_version(container: Container, name: str, version_id: int | None = None) -> ObjectVersion:
    if version_id is None:
        version = _current_version(container.pk, name)
    else:
        version = container.versions.filter(name=name, pk=version_id).exclude(cluster=DELETED).first()
    if version is None:
        raise faults.ItemNotFound("Object does not exist" if version_id is None else "Version does not exist")
    return version


def version_at(container: Container, name: str, until: float) -> ObjectVersion:
    """The version that was current at time ``until`` (404 if none was, or it was deleted)."""
    version = container.versions.filter(name=name, mtime__lte=until).order_by("-mtime", "-pk").first()
    if version is None or version.cluster == DELETED:
        raise faults.ItemNotFound("Object did not exist at that time")
    return version


def list_versions(container: Container, name: str) -> list[ObjectVersion]:
    return list(container.versions.filter(name=name).exclude(cluster=DELETED).order_by("pk"))


def map_hash(hashmap: bytes) -> str:
    """The Merkle hash (``X-Object-Hash``) of a map, hex."""
    return merkle(split_map(hashmap), settings.PITHOS_BACKEND_HASH_ALGORITHM).hex()


def object_hash(version: ObjectVersion) -> str:
    return version.merkle or map_hash(bytes(version.hashmap))


def known_checksum(hashmap: bytes, size: int) -> str | None:
    """The MD5 of content already stored under the same map, if any: re-uploading a file by
    hashmap then costs no read of its blocks."""
    return (
        ObjectVersion.objects.filter(merkle=map_hash(hashmap), size=size)
        .exclude(checksum="")
        .values_list("checksum", flat=True)
        .first()
    )


def has_local_quota(container: Container) -> bool:
    return bool(container.quota or account_quota())


def check_quota(container: Container, delta: int) -> None:
    """413 if growing ``container`` by ``delta`` bytes would exceed its or its account's quota."""
    if delta <= 0:
        return
    if container.quota and container.bytes_used + delta > container.quota:
        raise faults.RequestEntityTooLarge("Container quota exceeded")
    quota = account_quota()
    if quota and account_usage(container.account)["bytes"] + delta > quota:
        raise faults.RequestEntityTooLarge("Account quota exceeded")


def charge(account: str, delta: int, what: str) -> None:
    """Charge ``delta`` bytes of ``pithos.diskspace`` to the account's user in the quotaholder,
    in the caller's transaction (resolved when it commits; see quotaholder.commissions). Over
    quota: 413 and the caller's transaction, with everything it wrote, rolls back."""
    if not delta or not settings.PITHOS_USE_QUOTAHOLDER:
        return
    from synnefo.astakos.quotaholder import commissions
    from synnefo.astakos.quotaholder.client import LocalClient, QuotaholderUnavailable, get_client, member_and_project
    from synnefo.astakos.quotaholder.logic import NoCapacityError, NoQuantityError, QuotaError

    provisions = member_and_project(account, {"pithos.diskspace": delta})
    client = get_client("pithos")
    try:
        if isinstance(client, LocalClient):
            # Same database: issued and accepted in the write's own transaction, so it commits
            # or rolls back with it; no second transaction, nothing to reconcile.
            client.issue_commission(provisions, name=what[:255], force=delta < 0, auto_accept=True)
        else:
            commissions.issue("pithos", provisions, name=what[:255], force=delta < 0, client=client)
    except NoQuantityError:
        if delta < 0:
            # Releasing more than the quotaholder counted (data from before quotas were on):
            # never refuse a delete over bookkeeping; the usage is left for reconciliation.
            logger.warning("pithos.diskspace of %s: cannot release %d bytes; usage left as is", account, -delta)
            return
        raise faults.RequestEntityTooLarge("Quota exceeded (pithos.diskspace)") from None
    except NoCapacityError:
        raise faults.RequestEntityTooLarge("Quota exceeded (pithos.diskspace)") from None
    except QuotaholderUnavailable:
        raise faults.ServiceUnavailable("The quota service is unavailable; try again later") from None
    except QuotaError as exc:
        raise faults.BadRequest(f"Quota error: {exc}") from None


@retry_on_conflict
def commit_version(
    container: Container,
    name: str,
    *,
    hashmap: bytes,
    size: int,
    checksum: str,
    content_type: str,
    user: str,
    meta: dict | None = None,
    keep_meta: bool = False,
    content_encoding: str = "",
    content_disposition: str = "",
    manifest: str = "",
    slo=None,
    object_uuid=None,
    delete_at: float | None = None,
) -> ObjectVersion:
    """Make a new current version of ``container/name`` whose blocks are already stored."""
    row = rows.fetch_one(_locked_container_sql(), [container.pk])
    if row is None:
        raise faults.ItemNotFound("Container does not exist")
    locked = _CONTAINER.instance(row)
    previous = _current_version(locked.pk, name, expired_too=True)
    delta = size - (previous.size if previous else 0)
    check_quota(locked, delta)
    charge(locked.account, delta, f"pithos: write {locked.name}/{name}")
    if previous is not None:
        if locked.versioning == "none":
            previous.delete()
        else:
            ObjectVersion.objects.filter(pk=previous.pk).update(cluster=HISTORY)
    if keep_meta and previous is not None and meta is None:
        meta = previous.meta
    meta = meta or {}
    _check_meta_count(meta)
    version = ObjectVersion.objects.create(
        container=locked,
        name=name,
        uuid=object_uuid or (previous.uuid if previous else uuid.uuid4()),
        size=size,
        hashmap=hashmap,
        merkle=map_hash(hashmap),
        checksum=checksum,
        content_type=content_type,
        content_encoding=content_encoding,
        content_disposition=content_disposition,
        manifest=manifest,
        slo=slo,
        meta=meta,
        mtime=now(),
        modified_by=user,
        delete_at=delete_at,
    )
    rows.execute(_container_stats_sql(), [0 if previous else 1, delta, version.mtime, locked.pk])
    return version


@transaction.atomic
def delete_object(container: Container, name: str, user: str) -> None:
    locked = Container.objects.select_for_update().get(pk=container.pk)
    version = locked.versions.filter(name=name, cluster=CURRENT).first()  # expired ones too
    if version is None:
        raise faults.ItemNotFound("Object does not exist")
    charge(locked.account, -version.size, f"pithos: delete {locked.name}/{name}")
    if locked.versioning == "none":
        locked.versions.filter(name=name).delete()
    else:
        # The version goes to the history and a deletion marker records when it stopped being
        # current (time travel with ``until`` needs both).
        ObjectVersion.objects.filter(pk=version.pk).update(cluster=HISTORY)
        ObjectVersion.objects.create(
            container=locked, name=name, cluster=DELETED, uuid=version.uuid, size=0, hashmap=b"",
            merkle="", checksum="", content_type=version.content_type, mtime=now(), modified_by=user,
        )
    Container.objects.filter(pk=locked.pk).update(
        object_count=F("object_count") - 1, bytes_used=F("bytes_used") - version.size, modified=now()
    )
    path = f"{container.name}/{name}"
    Sharing.objects.filter(account=container.account, path=path).delete()
    PublicLink.objects.filter(account=container.account, path=path).delete()


def delete_object_tree(container: Container, name: str, user: str, recursive: bool = False) -> None:
    """Delete an object; with ``recursive`` also everything below ``name/`` (upstream's
    ``delimiter`` on DELETE)."""
    if recursive:
        below = container.versions.filter(cluster=CURRENT, name__startswith=name.rstrip("/") + "/")
        for child in list(below.values_list("name", flat=True)):
            delete_object(container, child, user)
        if not container.versions.filter(cluster=CURRENT, name=name).exists():
            return
    delete_object(container, name, user)


def expire_objects(user: str = "") -> int:
    """Delete the current versions whose X-Delete-At has passed (they are already hidden)."""
    expired = ObjectVersion.objects.filter(cluster=CURRENT, delete_at__lte=now()).select_related("container")
    count = 0
    for version in list(expired):
        try:
            delete_object(version.container, version.name, user or version.modified_by)
            count += 1
        except faults.ItemNotFound:
            continue
    return count


@transaction.atomic
def set_delete_at(version: ObjectVersion, delete_at: float | None) -> None:
    ObjectVersion.objects.filter(pk=version.pk).update(delete_at=delete_at)
    version.delete_at = delete_at


@transaction.atomic
def update_content_type(version: ObjectVersion, content_type: str) -> None:
    ObjectVersion.objects.filter(pk=version.pk).update(content_type=content_type[:256])
    version.content_type = content_type[:256]


@transaction.atomic
def update_object_meta(version: ObjectVersion, meta: dict, replace: bool) -> None:
    merged = _merge(version.meta, meta, replace)
    _check_meta_count(merged)
    ObjectVersion.objects.filter(pk=version.pk).update(meta=merged)
    version.meta = merged


# ---------------------------------------------------------------------------------- sharing

SHARE_READ, SHARE_WRITE = "read", "write"


def parse_sharing(value: str) -> dict[str, list[str]]:
    """``read=a,b;write=c`` -> {"read": [...], "write": [...]}; BadRequest on bad syntax."""
    result: dict[str, list[str]] = {SHARE_READ: [], SHARE_WRITE: []}
    value = value.strip()
    if not value:
        return result
    for part in value.split(";"):
        key, sep, members = part.partition("=")
        key = key.strip().lower()
        if not sep or key not in result:
            raise faults.BadRequest("Bad X-Object-Sharing header")
        names = [m.strip() for m in members.split(",") if m.strip()]
        if not names or any(len(m) > 130 for m in names):
            raise faults.BadRequest("Bad X-Object-Sharing header")
        result[key] += names
    return result


def format_sharing(sharing: Sharing | None) -> str:
    if sharing is None:
        return ""
    parts = []
    if sharing.read:
        parts.append("read=" + ",".join(sharing.read))
    if sharing.write:
        parts.append("write=" + ",".join(sharing.write))
    return ";".join(parts)


@transaction.atomic
def set_sharing(account: str, path: str, rules: dict[str, list[str]] | None) -> None:
    Sharing.objects.filter(account=account, path=path).delete()
    if not rules or not (rules[SHARE_READ] or rules[SHARE_WRITE]):
        return
    sharing = Sharing.objects.create(account=account, path=path, read=rules[SHARE_READ], write=rules[SHARE_WRITE])
    members = set(rules[SHARE_READ]) | set(rules[SHARE_WRITE])
    SharingMember.objects.bulk_create([SharingMember(sharing=sharing, member=m) for m in members])


def _ancestors(path: str) -> list[str]:
    parts = path.split("/")
    return ["/".join(parts[:i]) for i in range(len(parts), 1, -1)]


def effective_sharing(account: str, path: str) -> Sharing | None:
    """The sharing rule that applies to ``path``: its own, else the closest directory's."""
    ancestors = _ancestors(path)
    if not ancestors:
        return None
    found = map(_SHARING.instance, rows.fetch_all(_sharing_sql(len(ancestors)), [account, *ancestors]))
    return _closest({(account, rule.path): rule for rule in found}, account, ancestors)


def _closest(rules: dict, account: str, ancestors: list[str]) -> Sharing | None:
    """The rule of the closest of ``ancestors`` (nearest first) that has one in ``rules``."""
    return next((rules[(account, p)] for p in ancestors if (account, p) in rules), None)


def effective_sharings(places: list[tuple[str, str]]) -> dict[tuple[str, str], Sharing | None]:
    """``effective_sharing`` of many (account, path) places with one query (listings)."""
    candidates = {place: _ancestors(place[1]) for place in places}
    accounts = {account for account, _ in places}
    paths = {p for ancestors in candidates.values() for p in ancestors}
    rules = {(s.account, s.path): s for s in Sharing.objects.filter(account__in=accounts, path__in=paths)} if places else {}
    return {(account, path): _closest(rules, account, ancestors) for (account, path), ancestors in candidates.items()}


def member_names(user: str, account: str) -> set[str]:
    """The names under which ``account``'s sharing rules may list ``user`` (its groups too)."""
    return _member_names(user, account)


def _member_names(user: str, account: str) -> set[str]:
    groups = get_account(account).groups
    return {user, "*"} | {f"{account}:{name}" for name, members in groups.items() if user in members}


def allowed(user: str | None, account: str, path: str, access: str) -> bool:
    """Whether ``user`` may ``access`` (read/write) ``account``'s ``container/object``."""
    if user == account:
        return True
    if user is None:
        return False
    sharing = effective_sharing(account, path)
    if sharing is None:
        return False
    names = _member_names(user, account)
    if access == SHARE_READ and names & set(sharing.read + sharing.write):
        return True
    return access == SHARE_WRITE and bool(names & set(sharing.write))


def accounts_sharing_with(user: str) -> list[str]:
    members = SharingMember.objects.filter(member__in=[user, "*"]).values_list("sharing__account", flat=True)
    return sorted(set(members) - {user})


# ----------------------------------------------------------------------------------- public

PUBLIC_ALPHABET = string.digits + string.ascii_letters


@transaction.atomic
def set_public(account: str, path: str, public: bool) -> str | None:
    link = PublicLink.objects.filter(account=account, path=path).first()
    if not public:
        if link:
            link.delete()
        return None
    if link:
        return link.public_id
    public_id = "".join(secrets.choice(PUBLIC_ALPHABET) for _ in range(settings.PITHOS_PUBLIC_URL_SECURITY))
    PublicLink.objects.create(public_id=public_id, account=account, path=path, created=now())
    return public_id


def public_id(account: str, path: str) -> str | None:
    row = rows.fetch_one(_public_id_sql(), [account, path])
    return row[0] if row else None


def resolve_public(public_id: str) -> tuple[Container, str]:
    link = PublicLink.objects.filter(public_id=public_id).first()
    if link is None:
        raise faults.ItemNotFound("Not found")
    container_name, _, name = link.path.partition("/")
    return get_container(link.account, container_name), name
