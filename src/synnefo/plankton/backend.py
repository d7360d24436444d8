"""The image records, over the object store.

An image is a Pithos object (its id is the object's uuid, its size and checksum the object's)
plus metadata in the ``plankton`` domain (name, formats, status, properties, ...). Who may see
it is Pithos sharing on the object: public = readable by ``*``, members = the other users with
read access. Unregistering drops the metadata and keeps the file; deleting the file makes the
image disappear (its metadata stays in the object's history).
"""

from __future__ import annotations

import re
import time
import uuid as uuidlib
from dataclasses import dataclass, field
from datetime import datetime, timezone

from django.db import transaction

from synnefo.common import faults
from synnefo.pithos.api.util import check_container_name, check_object_name
from synnefo.pithos.backend import domains, objects
from synnefo.pithos.models import ObjectVersion

DOMAIN = "plankton"
_UNREAD = object()  # "the sharing rule has not been read yet"
DISK_FORMATS = ("diskdump", "extdump", "ntfsdump", "raw", "qcow2", "vmdk", "vdi", "iso", "vhd", "vhdx", "ami", "ari", "aki")
CONTAINER_FORMATS = ("bare", "aki", "ari", "ami", "ovf", "ova", "docker")
STATUSES = ("QUEUED", "SAVING", "AVAILABLE", "ERROR")
MAX_NAME = 255
MAX_PROPERTIES = 128
MAX_PROPERTY_KEY = 128
MAX_PROPERTY_VALUE = 1024
_LOCATION = re.compile(r"^pithos://(?P<account>[^/]+)/(?P<container>[^/]+)/(?P<path>.+)$")


def iso(ts: float) -> str:
    """Synnefo's timestamps (image API v1.0): ISO 8601 with the offset."""
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def zulu(ts: float) -> str:
    """OpenStack's timestamps (compute, Glance v2): ISO 8601 in UTC with ``Z``."""
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def property_key(key: str) -> str:
    """Property names are case-insensitive, punctuation folded to ``_`` (as upstream)."""
    key = re.sub(r"[^A-Za-z0-9_]", "_", key.strip()).lower()
    if not key or len(key) > MAX_PROPERTY_KEY:
        raise faults.BadRequest(f"Invalid property name '{key[:40]}'")
    return key


@dataclass
class Image:
    version: ObjectVersion
    owner: str
    container: str
    path: str
    meta: dict
    read: list[str]
    write: list[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        return str(self.version.uuid)

    @property
    def name(self) -> str:
        return self.meta.get("name", "")

    @property
    def status(self) -> str:
        return self.meta.get("status", "AVAILABLE")

    @property
    def disk_format(self) -> str:
        return self.meta.get("disk_format", "diskdump")

    @property
    def container_format(self) -> str:
        return self.meta.get("container_format", "bare")

    @property
    def properties(self) -> dict:
        return self.meta.get("properties", {})

    @property
    def tags(self) -> list[str]:
        return self.meta.get("tags", [])

    @property
    def description(self) -> str:
        return self.meta.get("description", "")

    @property
    def size(self) -> int:
        return self.version.size

    @property
    def checksum(self) -> str:
        """Upstream's checksum: the object's Merkle hash (X-Object-Hash)."""
        return objects.object_hash(self.version)

    @property
    def md5(self) -> str:
        return self.version.checksum

    @property
    def location(self) -> str:
        return f"pithos://{self.owner}/{self.container}/{self.path}"

    @property
    def is_public(self) -> bool:
        return "*" in self.read

    @property
    def members(self) -> list[str]:
        return [m for m in self.read if m != "*"]

    @property
    def is_snapshot(self) -> bool:
        return bool(self.meta.get("is_snapshot", False))

    @property
    def created_at(self) -> float:
        return self.meta.get("created_at", self.version.mtime)

    @property
    def updated_at(self) -> float:
        return max(self.meta.get("updated_at", 0), self.version.mtime)


def parse_location(location: str) -> tuple[str, str, str]:
    match = _LOCATION.match(location.strip())
    if not match:
        raise faults.BadRequest("Invalid location: expected pithos://<account>/<container>/<path>")
    return match["account"], match["container"], match["path"]


def _sharing(owner: str, container: str, path: str) -> tuple[list[str], list[str]]:
    return _rule_lists(objects.effective_sharing(owner, f"{container}/{path}"))


def _rule_lists(sharing) -> tuple[list[str], list[str]]:
    return (list(sharing.read), list(sharing.write)) if sharing is not None else ([], [])


def _image(version: ObjectVersion, meta: dict, sharing=_UNREAD) -> Image:
    """The image of ``version``; ``sharing`` is its effective rule when the caller read it already."""
    container = version.container
    if sharing is _UNREAD:
        sharing = objects.effective_sharing(container.account, f"{container.name}/{version.name}")
    read, write = _rule_lists(sharing)
    return Image(version=version, owner=container.account, container=container.name, path=version.name, meta=meta,
                 read=read, write=write)


def _current(object_uuid) -> ObjectVersion | None:
    return (
        ObjectVersion.objects.filter(uuid=object_uuid, cluster=objects.CURRENT)
        .exclude(delete_at__lte=objects.now())
        .select_related("container")
        .first()
    )


def _visible(image: Image, user: str, names: dict | None = None) -> bool:
    """Whether ``user`` may read the image (its rule is already on it: read or write access reads).
    ``names`` caches the user's sharing names per owner across a listing."""
    if image.owner == user:
        return True
    if not (image.read or image.write):
        return False
    names = {} if names is None else names
    if image.owner not in names:
        names[image.owner] = objects.member_names(user, image.owner)
    return bool(names[image.owner] & set(image.read + image.write))


def any_image(image_id: str) -> Image:
    """The image, whoever owns it (administrators' view); 404 if there is none."""
    try:
        object_uuid = uuidlib.UUID(str(image_id))
    except ValueError:
        raise faults.ItemNotFound(f"Image {image_id} not found") from None
    meta = domains.get(DOMAIN, object_uuid)
    version = _current(object_uuid) if meta is not None else None
    if version is None:
        raise faults.ItemNotFound(f"Image {image_id} not found")
    return _image(version, meta)


def get_image(user: str, image_id: str) -> Image:
    """The image, if it exists and ``user`` may read it; else 404 (never 403: ids do not leak)."""
    image = any_image(image_id)
    if not _visible(image, user):
        raise faults.ItemNotFound(f"Image {image_id} not found")
    return image


def owned_image(user: str, image_id: str) -> Image:
    image = get_image(user, image_id)
    if image.owner != user:
        raise faults.Forbidden("Only the image's owner may change it")
    return image


def list_all_images(owner: str | None = None) -> list[Image]:
    """Every image whose file exists (of ``owner`` only, if given), oldest first."""
    records = dict(domains.all_in(DOMAIN))
    versions = (
        ObjectVersion.objects.filter(uuid__in=list(records), cluster=objects.CURRENT)
        .exclude(delete_at__lte=objects.now())
        .select_related("container")
        .defer("hashmap", "slo")
    )
    if owner is not None:
        versions = versions.filter(container__account=owner)
    versions = list(versions)
    rules = objects.effective_sharings([(v.container.account, f"{v.container.name}/{v.name}") for v in versions])
    images = [_image(v, records[v.uuid], rules[(v.container.account, f"{v.container.name}/{v.name}")]) for v in versions]
    return sorted(images, key=lambda i: (i.created_at, i.id))


def list_images(user: str) -> list[Image]:
    """Every image ``user`` may see: their own, public ones and ones shared with them."""
    names: dict[str, set[str]] = {}
    return [image for image in list_all_images() if _visible(image, user, names)]


def _checked_meta(fields: dict) -> dict:
    """Validate the metadata fields a client may set; returns them normalised."""
    meta = {}
    if "name" in fields:
        name = str(fields["name"]).strip()
        if not name or len(name) > MAX_NAME:
            raise faults.BadRequest(f"An image name must have 1 to {MAX_NAME} characters")
        meta["name"] = name
    if "disk_format" in fields:
        if fields["disk_format"] not in DISK_FORMATS:
            raise faults.BadRequest(f"Invalid disk format '{fields['disk_format']}'; one of {', '.join(DISK_FORMATS)}")
        meta["disk_format"] = fields["disk_format"]
    if "container_format" in fields:
        if fields["container_format"] not in CONTAINER_FORMATS:
            raise faults.BadRequest(f"Invalid container format '{fields['container_format']}'; one of {', '.join(CONTAINER_FORMATS)}")
        meta["container_format"] = fields["container_format"]
    if "status" in fields:
        if fields["status"] not in STATUSES:
            raise faults.BadRequest(f"Invalid status '{fields['status']}'")
        meta["status"] = fields["status"]
    if "description" in fields:
        meta["description"] = str(fields["description"])[:MAX_PROPERTY_VALUE]
    if "properties" in fields:
        properties = {}
        for key, value in fields["properties"].items():
            value = "" if value is None else str(value)
            if len(value) > MAX_PROPERTY_VALUE:
                raise faults.BadRequest(f"Property '{key[:40]}' longer than {MAX_PROPERTY_VALUE} characters")
            properties[property_key(key)] = value
        if len(properties) > MAX_PROPERTIES:
            raise faults.BadRequest(f"At most {MAX_PROPERTIES} properties")
        meta["properties"] = properties
    if "is_snapshot" in fields:
        meta["is_snapshot"] = bool(fields["is_snapshot"])
    if "tags" in fields:
        tags = fields["tags"]
        if not isinstance(tags, list) or len(tags) > MAX_PROPERTIES or not all(isinstance(t, str) and 0 < len(t) <= MAX_NAME for t in tags):
            raise faults.BadRequest(f"Tags must be a list of at most {MAX_PROPERTIES} strings of 1 to {MAX_NAME} characters")
        meta["tags"] = sorted(set(tags))
    return meta


def _set_public(image_or_path: tuple[str, str, str], public: bool) -> None:
    owner, container, path = image_or_path
    read, write = _sharing(owner, container, path)
    read = [m for m in read if m != "*"] + (["*"] if public else [])
    objects.set_sharing(owner, f"{container}/{path}", {objects.SHARE_READ: read, objects.SHARE_WRITE: write})


@transaction.atomic
def register(user: str, location: str, fields: dict, *, is_public: bool | None = None,
             size: int | None = None, checksum: str | None = None) -> Image:
    """Register (or re-register, resetting all metadata) the Pithos file at ``location``."""
    owner, container_name, path = parse_location(location)
    if owner != user:
        raise faults.Forbidden("You can only register your own files as images")
    if "name" not in fields:
        raise faults.BadRequest("An image needs a name")
    container = objects.get_container(owner, container_name)
    version = objects.get_version(container, path)
    if size is not None and size != version.size:
        raise faults.BadRequest(f"Size {size} does not match the file's {version.size} bytes")
    if checksum and checksum.lower() not in (objects.object_hash(version), version.checksum):
        raise faults.BadRequest("Checksum does not match the file's")
    meta = {"disk_format": "diskdump", "container_format": "bare", "status": "AVAILABLE", "properties": {}}
    meta.update(_checked_meta(fields))
    meta["created_at"] = meta["updated_at"] = time.time()
    domains.put(DOMAIN, version.uuid, meta)
    if is_public is not None:
        _set_public((owner, container_name, path), is_public)
    return get_image(user, str(version.uuid))


@transaction.atomic
def update(user: str, image_id: str, fields: dict, *, is_public: bool | None = None,
           merge_properties: bool = True, remove_properties: tuple[str, ...] = ()) -> Image:
    """Change only the given fields (properties merged unless ``merge_properties`` is False)."""
    image = owned_image(user, image_id)
    meta = dict(image.meta)
    changes = _checked_meta(fields)
    if "properties" in changes and merge_properties:
        changes["properties"] = {**meta.get("properties", {}), **changes["properties"]}
    meta.update(changes)
    if remove_properties:
        meta["properties"] = {k: v for k, v in meta.get("properties", {}).items() if k not in {property_key(r) for r in remove_properties}}
    meta["updated_at"] = time.time()
    domains.put(DOMAIN, image.version.uuid, meta)
    if is_public is not None:
        _set_public((image.owner, image.container, image.path), is_public)
    return get_image(user, image_id)


def unregister(user: str, image_id: str) -> None:
    image = owned_image(user, image_id)
    domains.delete(DOMAIN, image.version.uuid)


@transaction.atomic
def set_members(user: str, image_id: str, members: list[str]) -> None:
    """Replace who may read the image (besides ``*`` if it is public)."""
    image = owned_image(user, image_id)
    for member in members:
        try:
            uuidlib.UUID(member)
        except (ValueError, TypeError, AttributeError):
            raise faults.BadRequest(f"Invalid member '{member}': members are user uuids") from None
    read, write = _sharing(image.owner, image.container, image.path)
    read = (["*"] if "*" in read else []) + sorted(set(members) - {image.owner})
    objects.set_sharing(image.owner, f"{image.container}/{image.path}", {objects.SHARE_READ: read, objects.SHARE_WRITE: write})


def add_member(user: str, image_id: str, member: str) -> None:
    set_members(user, image_id, owned_image(user, image_id).members + [member])


def remove_member(user: str, image_id: str, member: str) -> None:
    image = owned_image(user, image_id)
    if member not in image.members:
        raise faults.ItemNotFound(f"{member} is not a member of image {image_id}")
    set_members(user, image_id, [m for m in image.members if m != member])


def shared_with(user: str, member: str) -> list[Image]:
    """The caller's images that ``member`` may read (all images shared with the caller when
    ``member`` is the caller)."""
    images = list_images(user)
    if member == user:
        return [i for i in images if i.owner != user and user in i.members]
    return [i for i in images if i.owner == user and member in i.members]


@transaction.atomic
def create_file_image(user: str, fields: dict, *, object_path: str | None = None, image_id: str | None = None,
                      is_public: bool | None = None) -> Image:
    """Glance v2's create: an image before its data. An empty object is made in the owner's
    ``images`` container (or at ``object_path``, ``container/path``) and registered QUEUED;
    ``upload`` fills it."""
    if "name" not in fields:
        fields = {**fields, "name": image_id or "image"}
    _checked_meta(fields)  # refuse bad metadata before anything is created
    object_uuid = None
    if image_id is not None:
        try:
            object_uuid = uuidlib.UUID(str(image_id))
        except ValueError:
            raise faults.BadRequest("An image id must be a UUID") from None
        if domains.get(DOMAIN, object_uuid) is not None or ObjectVersion.objects.filter(uuid=object_uuid).exists():
            raise faults.Conflict(f"Image id {image_id} is in use")
    container_name, _, path = (object_path or "").strip("/").partition("/")
    if not container_name or not path:
        container_name, path = "images", _free_name(user, "images", _checked_meta({"name": fields["name"]})["name"])
    check_container_name(container_name)
    check_object_name(path)
    objects.create_container(user, container_name)
    container = objects.get_container(user, container_name)
    empty = objects.store_stream(lambda n: b"", 0)
    version = objects.commit_version(container, path, hashmap=empty[0], size=0, checksum=empty[2],
                                     content_type="application/octet-stream", user=user, object_uuid=object_uuid)
    return register(user, f"pithos://{user}/{container_name}/{path}", {**fields, "status": "QUEUED"}, is_public=is_public)


def _free_name(user: str, container_name: str, name: str) -> str:
    name = name.replace("/", "_")
    try:
        container = objects.get_container(user, container_name)
    except faults.ItemNotFound:
        return name
    if not container.versions.filter(name=name, cluster=objects.CURRENT).exists():
        return name
    return f"{name}-{uuidlib.uuid4().hex[:8]}"


def upload(user: str, image_id: str, read, length: int | None) -> Image:
    """Glance v2's data upload: the body becomes the image's file (a new version of its object;
    same id), and the image AVAILABLE. Only a QUEUED image takes data."""
    image = owned_image(user, image_id)
    if image.status != "QUEUED":
        raise faults.Conflict(f"Image {image_id} already has data (status {image.status})")
    hashmap, size, checksum = objects.store_stream(read, length)
    container = objects.get_container(image.owner, image.container)
    objects.commit_version(container, image.path, hashmap=hashmap, size=size, checksum=checksum,
                           content_type="application/octet-stream", user=user, keep_meta=True)
    return update(user, image_id, {"status": "AVAILABLE"})
