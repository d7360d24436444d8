"""Pithos metadata: accounts, containers, object versions, sharing, public links.

Object data is not here: a version holds its *map*, the concatenated raw digests of its
blocks, which live in the block store. Listings are keyset-paginated over the index
(container, cluster, name), so they stay fast at millions of objects in a container.
"""

from __future__ import annotations

import uuid

from django.db import models


class Account(models.Model):
    """Per-account metadata and groups. Created on first write; the name is the user's uuid."""

    name = models.CharField(max_length=64, unique=True)
    meta = models.JSONField(default=dict)
    groups = models.JSONField(default=dict)  # group name -> [member uuid, ...]
    modified = models.FloatField(default=0)


class Container(models.Model):
    account = models.CharField(max_length=64)
    name = models.CharField(max_length=256)
    created = models.FloatField()
    modified = models.FloatField()
    versioning = models.CharField(max_length=8, default="auto")
    quota = models.BigIntegerField(default=0)  # bytes, 0 = unlimited
    meta = models.JSONField(default=dict)
    # Swift container ACLs as given (X-Container-Read / -Write), mapped onto Pithos sharing.
    read_acl = models.TextField(blank=True)
    write_acl = models.TextField(blank=True)
    # Statistics of the current versions, kept in the same transaction as every change.
    object_count = models.BigIntegerField(default=0)
    bytes_used = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "name"], name="pithos_container_unique")]


class ObjectVersion(models.Model):
    CURRENT, HISTORY, DELETED = 0, 1, 2

    container = models.ForeignKey(Container, on_delete=models.CASCADE, related_name="versions")
    name = models.CharField(max_length=1024)
    cluster = models.SmallIntegerField(default=CURRENT)
    uuid = models.UUIDField(default=uuid.uuid4)
    size = models.BigIntegerField(default=0)
    hashmap = models.BinaryField(default=b"")  # concatenated raw block digests
    checksum = models.CharField(max_length=64, blank=True)  # MD5 hex of the content
    merkle = models.CharField(max_length=128, blank=True, db_index=True)  # X-Object-Hash, hex
    content_type = models.CharField(max_length=256, default="application/octet-stream")
    content_encoding = models.CharField(max_length=256, blank=True)
    content_disposition = models.CharField(max_length=256, blank=True)
    manifest = models.CharField(max_length=1024, blank=True)  # X-Object-Manifest (dynamic large object)
    slo = models.JSONField(null=True, blank=True)  # static large object: its segment list
    meta = models.JSONField(default=dict)
    mtime = models.FloatField()
    modified_by = models.CharField(max_length=64, blank=True)
    delete_at = models.FloatField(null=True, blank=True)  # Swift's X-Delete-At (expiring objects)

    class Meta:
        indexes = [
            models.Index(fields=["container", "cluster", "name"], name="pithos_version_listing"),
            models.Index(fields=["uuid", "cluster"], name="pithos_version_uuid"),
            # Time travel (``until``): the newest version of a name at or before a moment.
            models.Index(fields=["container", "name", "mtime"], name="pithos_version_history"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["container", "name"],
                condition=models.Q(cluster=0),
                name="pithos_one_current_version",
            )
        ]


class Sharing(models.Model):
    """Who may read or write a path (``container/object``; a directory's path covers what is
    below it). Members are user uuids, ``owner:group`` or ``*`` (everyone)."""

    account = models.CharField(max_length=64)
    path = models.CharField(max_length=1300)
    read = models.JSONField(default=list)
    write = models.JSONField(default=list)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "path"], name="pithos_sharing_unique")]


class SharingMember(models.Model):
    """Reverse index of ``Sharing`` for "shared with me" listings."""

    sharing = models.ForeignKey(Sharing, on_delete=models.CASCADE, related_name="members")
    member = models.CharField(max_length=130, db_index=True)


class PublicLink(models.Model):
    public_id = models.CharField(max_length=64, unique=True)
    account = models.CharField(max_length=64)
    path = models.CharField(max_length=1300)
    created = models.FloatField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "path"], name="pithos_public_unique")]


class DomainAttributes(models.Model):
    """Metadata of an object kept by another service under its own domain (``plankton`` for
    images), apart from the user's ``X-Object-Meta-*``. Keyed by the object's uuid, so it
    follows the object through new versions, moves and renames, and is ignored while the
    object does not exist (deleted objects keep it for their history)."""

    object_uuid = models.UUIDField()
    domain = models.CharField(max_length=64)
    data = models.JSONField(default=dict)
    modified = models.FloatField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["domain", "object_uuid"], name="pithos_domain_object_unique")]
