"""Where a volume store keeps what it holds, on directories (``STORAGE="files"``) or in RADOS
pools (``STORAGE="rados"``). ``VolumeStore`` (store.py) does every volume operation through this
interface, so copy-on-write, snapshots and locking are written once, over either storage:

* maps: of volumes and snapshots, and the read-only maps of Pithos objects exported for clones
  (``exported=True``); created exclusively, replaced atomically, each with a version that
  changes whenever the map is replaced (a daemon holding a map in memory sees another's update);
* the volumes' writable objects (one block each, written whole or patched in place; an open
  volume patches them through the storage's ``object_writer``, synced at the client's flush);
* the per-volume locks and map-update mutexes (``locks.Locks``, ``locks.RadosLocks``);
* the ExtStorage provider's records (which volume a Ganeti disk is);
* the content-addressed blocks, shared with Pithos (``pithos.backend.blocks``).

Layout on directories: ``FILED_MAPS/<name>`` (and ``.locks/``, ``.mutex/``, ``.extstorage/``),
``FILED_IMAGES/<object>``, ``PITHOSMAPS/<name>``, ``PITHOS`` (the Pithos block directory).

Layout in RADOS: the maps pool (``RADOS_POOL_MAPS``) holds the maps (objects named like the
volume; volume names have no ``_``), the locks ``<volume>_lock`` and mutexes ``<volume>_mutex``;
its namespaces ``pithosmaps`` and ``extstorage`` hold the exported maps and the records. The
blocks pool (``RADOS_POOL_BLOCKS``, Pithos's ``PITHOS_RADOS_POOL_BLOCKS``) holds the
content-addressed blocks, named by their hex digest, and, in its namespace ``archip``, the
volumes' writable objects: Pithos's garbage collection lists only the default namespace, so it
never sees them. RADOS writes are durable when acknowledged and ``write_full`` is atomic: no
temporary objects and nothing to sync.
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

from synnefo.archipelago import mapfile
from synnefo.archipelago.locks import Locks, RadosLocks
from synnefo.archipelago.objectfiles import ObjectFiles

ALGORITHM = "sha256"
TMP = re.compile(r"\.tmp-(?P<name>.+)-[0-9a-f]+")  # what an interrupted atomic write leaves
EXPORTED_NAMESPACE, RECORDS_NAMESPACE, OBJECTS_NAMESPACE = "pithosmaps", "extstorage", "archip"
SEALED = "sealed"  # omap key of a RADOS writable object: "1" once a snapshot is reading it


class StorageError(Exception):
    """The storage is not there or not usable (not mounted, no such pool)."""


def _valid(name: str) -> bool:
    return bool(name) and not name.startswith(".") and "/" not in name


class FileStorage:
    lockless_writes = False  # an in-place write of an open volume needs the mutex (no seals)

    def __init__(self, config, create_dirs: bool = False):
        self.maps_dir, self.objects_dir, self.pithos_maps_dir = config.maps, config.images, config.pithos_maps
        for directory in (self.maps_dir, self.objects_dir, self.pithos_maps_dir, config.pithos):
            if create_dirs:
                directory.mkdir(parents=True, exist_ok=True)
            elif not directory.is_dir():
                raise StorageError(f"{directory} does not exist (is the store mounted? see {config.source})")
        from synnefo.pithos.backend.blocks import FileBlockStore

        self.fsync = config.fsync
        self.blocks = FileBlockStore(config.pithos, config.block_size, ALGORITHM, fsync=config.fsync)
        self.locks = Locks(self.maps_dir)
        self.records_dir = self.maps_dir / ".extstorage"

    def describe(self, name: str) -> str:
        """Where a writable object is, for messages."""
        return str(self.objects_dir / name)

    # Maps -----------------------------------------------------------------------------------

    def _map_path(self, name: str, exported: bool = False) -> Path:
        return (self.pithos_maps_dir if exported else self.maps_dir) / name

    def read_map(self, name: str, exported: bool = False) -> bytes | None:
        if not _valid(name):
            return None
        try:
            return self._map_path(name, exported).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None

    def map_exists(self, name: str, exported: bool = False) -> bool:
        return _valid(name) and self._map_path(name, exported).is_file()

    def map_names(self, exported: bool = False) -> list[str]:
        directory = self.pithos_maps_dir if exported else self.maps_dir
        return sorted(p.name for p in directory.iterdir() if _valid(p.name) and p.is_file())

    def create_map(self, name: str, data: bytes, exported: bool = False) -> bool:
        """Write a new map under a name nobody else may take meanwhile; False if it exists.
        (A hard link of a complete temporary file: it fails if the name exists.)"""
        path = self._map_path(name, exported)
        tmp = path.parent / f".tmp-{name}-{secrets.token_hex(6)}"
        mapfile.write_atomic(tmp, data, self.fsync)
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        finally:
            tmp.unlink(missing_ok=True)
        if self.fsync:
            mapfile.fsync_path(path.parent)
        return True

    def replace_map(self, name: str, data: bytes) -> None:
        mapfile.write_atomic(self._map_path(name), data, self.fsync)

    def update_map_entries(self, name: str, volume_map: mapfile.Map, indices) -> int:
        """Changed entries: the whole map replaced (a rename is what makes a file's update
        atomic). Returns the bytes written."""
        data = volume_map.encode()
        self.replace_map(name, data)
        return len(data)

    def remove_map(self, name: str) -> None:
        self._map_path(name).unlink(missing_ok=True)
        if self.fsync:
            mapfile.fsync_path(self.maps_dir)

    def map_version(self, name: str):
        """Changes whenever the map is replaced (a new file: inode, mtime, size); None if absent."""
        try:
            st = os.stat(self._map_path(name))
        except FileNotFoundError:
            return None
        return st.st_ino, st.st_mtime_ns, st.st_size

    # Writable objects -----------------------------------------------------------------------

    def read_object(self, name: str, offset: int, length: int) -> bytes:
        """Up to ``length`` bytes at ``offset`` (short at the object's end)."""
        fd = os.open(self.objects_dir / name, os.O_RDONLY)
        try:
            return os.pread(fd, length, offset)
        finally:
            os.close(fd)

    def write_object(self, name: str, data: bytes) -> None:
        """A whole object, atomically (a crash leaves the old one or none)."""
        mapfile.write_atomic(self.objects_dir / name, data, self.fsync)

    def patch_object(self, name: str, offset: int, data) -> None:
        """One in-place write, durable at once with FSYNC=yes (an open volume's go through its
        ``object_writer``, synced at the client's flush)."""
        once = ObjectFiles(self.objects_dir)
        try:
            once.pwrite(name, offset, data)
            if self.fsync:
                once.sync()
        finally:
            once.forget()

    def object_exists(self, name: str) -> bool:
        return (self.objects_dir / name).is_file()

    def remove_object(self, name: str) -> None:
        (self.objects_dir / name).unlink(missing_ok=True)

    def objects(self):
        """(name, mtime) of every writable object (crash leftovers too, not temporaries)."""
        with os.scandir(self.objects_dir) as entries:
            for entry in entries:
                if not entry.name.startswith(".") and entry.is_file(follow_symlinks=False):
                    yield entry.name, entry.stat().st_mtime

    def remove_objects(self, pattern: re.Pattern) -> int:
        """Delete the objects (and temporary files of them) whose names match ``pattern``."""
        removed = 0
        with os.scandir(self.objects_dir) as entries:
            for entry in entries:
                if pattern.fullmatch(entry.name):
                    os.unlink(entry.path)
                    removed += 1
        return removed

    def object_writer(self, limit: int) -> ObjectFiles:
        """For an open volume's in-place writes: up to ``limit`` objects kept open, synced at
        the client's flush."""
        return ObjectFiles(self.objects_dir, limit)

    def seal_object(self, name: str) -> None:
        pass  # a snapshot holds the mutex, which every in-place write of files takes

    def sync_map(self, name: str) -> None:
        """Make the map and the names of new objects durable (FSYNC=no, at a client's flush)."""
        for path in (self._map_path(name), self.objects_dir, self.maps_dir):
            mapfile.fsync_path(path)

    def remove_temporaries(self, cutoff: float) -> list[str]:
        """Delete ``.tmp-*`` files older than ``cutoff`` (interrupted atomic writes): their paths."""
        removed = []
        for directory in (self.objects_dir, self.maps_dir, self.locks.dir, self.pithos_maps_dir, self.records_dir):
            if not directory.is_dir():
                continue
            with os.scandir(directory) as entries:
                for entry in entries:
                    if TMP.fullmatch(entry.name) and entry.is_file(follow_symlinks=False) \
                            and entry.stat().st_mtime < cutoff:
                        os.unlink(entry.path)
                        removed.append(entry.path)
        return removed

    # ExtStorage records ---------------------------------------------------------------------

    def read_record(self, name: str) -> bytes | None:
        try:
            return (self.records_dir / name).read_bytes()
        except FileNotFoundError:
            return None

    def write_record(self, name: str, data: bytes) -> None:
        self.records_dir.mkdir(exist_ok=True)
        mapfile.write_atomic(self.records_dir / name, data, self.fsync)

    def remove_record(self, name: str) -> None:
        (self.records_dir / name).unlink(missing_ok=True)

    def record_names(self) -> list[str]:
        if not self.records_dir.is_dir():
            return []
        return sorted(p.name for p in self.records_dir.iterdir() if _valid(p.name))


class RadosObjectWriter:
    """An open volume's in-place writes into RADOS objects: durable when acknowledged (nothing
    to sync), and, without the volume's mutex, only into objects no snapshot has sealed."""

    def __init__(self, storage: RadosStorage):
        self.storage = storage
        self.unsynced: set[str] = set()

    def pwrite(self, name: str, offset: int, data) -> None:
        self.storage.patch_object(name, offset, data)

    def pwrite_unsealed(self, name: str, offset: int, data) -> bool:
        """Write unless the object is sealed (or gone, or from before seals): one operation."""
        storage = self.storage
        unsealed = (SEALED, "0", storage.rados.LIBRADOS_CMPXATTR_OP_EQ)
        return storage.radosclient.write_op(storage.objects_io, name,
                                            lambda op: (op.omap_cmp(*unsealed), op.write(bytes(data), offset)))

    def sync(self) -> bool:
        self.unsynced.clear()
        return False

    def forget(self) -> None:
        pass


class RadosStorage:
    lockless_writes = True  # see RadosObjectWriter and VolumeStore.snapshot's seals

    def __init__(self, config):
        from synnefo.common import radosclient
        from synnefo.pithos.backend.blocks import RadosBlockStore

        self.radosclient, self.rados = radosclient, radosclient.rados_module()
        self.pools = config.rados_pool_maps, config.rados_pool_blocks
        try:
            self.maps_io = radosclient.ThreadIoctx(config.ceph_conf, config.rados_pool_maps)
            self.exported_io = radosclient.ThreadIoctx(config.ceph_conf, config.rados_pool_maps, EXPORTED_NAMESPACE)
            self.records_io = radosclient.ThreadIoctx(config.ceph_conf, config.rados_pool_maps, RECORDS_NAMESPACE)
            self.objects_io = radosclient.ThreadIoctx(config.ceph_conf, config.rados_pool_blocks, OBJECTS_NAMESPACE)
            self.blocks = RadosBlockStore(config.ceph_conf, config.rados_pool_blocks, config.block_size, ALGORITHM)
        except (radosclient.RadosUnavailable, self.rados.Error) as exc:
            raise StorageError(f"RADOS ({config.ceph_conf}): {exc} (see {config.source})") from None
        self.locks = RadosLocks(self.maps_io)

    def describe(self, name: str) -> str:
        return f"rados:{self.pools[1]}/{OBJECTS_NAMESPACE}/{name}"

    def _remove(self, io, name: str) -> None:
        """Remove an object; one already gone is fine."""
        try:
            io.remove_object(name)
        except self.rados.ObjectNotFound:
            pass

    def _read_whole(self, io, name: str) -> bytes | None:
        try:
            size, _ = io.stat(name)
            return io.read(name, size) if size else b""
        except self.rados.ObjectNotFound:
            return None

    # Maps -----------------------------------------------------------------------------------

    def _maps(self, exported: bool):
        return self.exported_io if exported else self.maps_io

    def read_map(self, name: str, exported: bool = False) -> bytes | None:
        if not _valid(name):
            return None
        return self._read_whole(self._maps(exported), name)

    def map_exists(self, name: str, exported: bool = False) -> bool:
        return _valid(name) and self.radosclient.stat_version(self._maps(exported), name) is not None

    def map_names(self, exported: bool = False) -> list[str]:
        # The maps pool's default namespace also holds <volume>_lock and <volume>_mutex.
        return sorted(obj.key for obj in self._maps(exported).list_objects() if "_" not in obj.key)

    def create_map(self, name: str, data: bytes, exported: bool = False) -> bool:
        def create(op):
            op.new(self.rados.LIBRADOS_CREATE_EXCLUSIVE)
            op.write_full(data)

        return self.radosclient.write_op(self._maps(exported), name, create)

    def replace_map(self, name: str, data: bytes) -> None:
        self.maps_io.write_full(name, data)

    def update_map_entries(self, name: str, volume_map: mapfile.Map, indices) -> int:
        """Only the changed entries, written in place in one operation (atomic on the OSD: a
        reader sees all of them or none), so a first write into a 100 GiB volume costs 128
        bytes of map, not its 3.2 MB. Returns the bytes written."""
        pieces = [(mapfile.encode_entry(volume_map.entries[i]), mapfile.entry_offset(i)) for i in indices]
        header = volume_map.encode_header()

        def build(op):
            op.cmpext(header, 0)  # still this map (size, flags, epoch), and still there
            for data, offset in pieces:
                op.write(data, offset)

        if not self.radosclient.write_op(self.maps_io, name, build):
            raise StorageError(f"the map of {name} changed or went meanwhile: not written")
        return sum(len(data) for data, _ in pieces)

    def remove_map(self, name: str) -> None:
        self._remove(self.maps_io, name)

    def map_version(self, name: str):
        seen = self.radosclient.stat_version(self.maps_io, name)
        return seen and seen[1]

    # Writable objects -----------------------------------------------------------------------

    def read_object(self, name: str, offset: int, length: int) -> bytes:
        try:
            return self.objects_io.read(name, length, offset)
        except self.rados.ObjectNotFound:
            raise FileNotFoundError(self.describe(name)) from None

    def write_object(self, name: str, data: bytes) -> None:
        """The whole object and its seal ``"0"`` (open for in-place writes), in one operation."""
        def build(op):
            op.write_full(bytes(data))
            self.objects_io.set_omap(op, (SEALED,), (b"0",))

        self.radosclient.write_op(self.objects_io, name, build)

    def seal_object(self, name: str) -> None:
        """No in-place write without the mutex lands in the object from now on (a snapshot is
        about to read it). Absent: nothing to seal."""
        while True:
            seen = self.radosclient.stat_version(self.objects_io, name)
            if seen is None:
                return
            # At the version seen: a write op would create an object that is gone.
            if self.radosclient.write_op(self.objects_io, name, lambda op: self.objects_io.set_omap(op, (SEALED,), (b"1",)),
                                         seen[1]):
                return

    def patch_object(self, name: str, offset: int, data) -> None:
        self.objects_io.write(name, bytes(data), offset)

    def object_exists(self, name: str) -> bool:
        return self.radosclient.stat_version(self.objects_io, name) is not None

    def remove_object(self, name: str) -> None:
        self._remove(self.objects_io, name)

    def objects(self):
        for obj in self.objects_io.list_objects():
            seen = self.radosclient.stat_version(self.objects_io, obj.key)
            if seen is not None:
                yield obj.key, seen[0]

    def remove_objects(self, pattern: re.Pattern) -> int:
        names = [obj.key for obj in self.objects_io.list_objects() if pattern.fullmatch(obj.key)]
        for name in names:
            self.remove_object(name)
        return len(names)

    def object_writer(self, limit: int) -> RadosObjectWriter:
        return RadosObjectWriter(self)

    def sync_map(self, name: str) -> None:
        pass  # acknowledged RADOS writes are durable

    def remove_temporaries(self, cutoff: float) -> list[str]:
        return []  # write_full is atomic: nothing temporary is ever written

    # ExtStorage records ---------------------------------------------------------------------

    def read_record(self, name: str) -> bytes | None:
        return self._read_whole(self.records_io, name)

    def write_record(self, name: str, data: bytes) -> None:
        self.records_io.write_full(name, data)

    def remove_record(self, name: str) -> None:
        self._remove(self.records_io, name)

    def record_names(self) -> list[str]:
        return sorted(obj.key for obj in self.records_io.list_objects())


def open_storage(config, create_dirs: bool = False):
    """The storage ``config`` names (``create_dirs``: make a files store's missing directories)."""
    if config.storage == "rados":
        return RadosStorage(config)
    return FileStorage(config, create_dirs)
