"""Volumes over the block store: create, clone, read, write, resize, snapshot, remove, locks.

Everything lives in the store (directories or RADOS pools, ``storage.py``), nothing in a
database, so any node that reaches the store can open a volume:

* the map of each volume or snapshot (``mapfile``), and its lock;
* the volume's writable objects ``<volume>_<epoch>_<index>`` (one block each);
* the content-addressed blocks, shared with Pithos (read-only here, except that a snapshot
  stores the volume's writable objects there as content-addressed blocks);
* the read-only maps of Pithos objects (images) exported for cloning.

Order of writes: data objects first (durable), then the map (replaced atomically). A crash in
between leaves the old map, which names only objects that existed before; the new object is
unreferenced and is overwritten by the next write of that block or deleted with the volume.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, field

from synnefo.archipelago import mapfile
from synnefo.archipelago.config import Config
from synnefo.archipelago.locks import Lock, LockError, default_owner, device_owner
from synnefo.archipelago.mapfile import Map, MapError, block_count
from synnefo.archipelago.storage import ALGORITHM, StorageError, open_storage

EMPTY_BLOCK = hashlib.new(ALGORITHM, b"").digest()  # an all-zero block, as Pithos names it


class VolumeError(Exception):
    """A refused operation (clear message; nothing was changed)."""


@dataclass
class Stats:
    """What this store wrote (tests assert costs with it, never times)."""

    map_writes: int = 0
    object_writes: int = 0
    bytes_written: int = 0
    written_maps: list[str] = field(default_factory=list)


def serialized(method):
    """Run a map update of the volume named by the first argument under the volume's mutex."""

    @functools.wraps(method)
    def wrapper(self, name, *args, **kwargs):
        if name.startswith(".") or "/" in name:
            raise VolumeError(f"no such volume or snapshot: {name}")
        with self.locks.mutex(name):
            return method(self, name, *args, **kwargs)

    return wrapper


class VolumeStore:
    def __init__(self, config: Config, owner: str | None = None, create_dirs: bool = False):
        """``create_dirs``: make missing store directories (an all-in-one node's own store);
        otherwise a missing one is refused: a shared store that is not mounted must not be
        replaced by empty local directories. A RADOS store's pools must exist."""
        self.config = config
        self.block_size = config.block_size
        self.owner = owner or default_owner()
        try:
            self.storage = open_storage(config, create_dirs)
        except StorageError as exc:
            raise VolumeError(str(exc)) from None
        self.blocks, self.locks = self.storage.blocks, self.storage.locks
        self.stats = Stats()

    # Maps ---------------------------------------------------------------------------------

    def _load(self, name: str, exported: bool = False) -> Map:
        data = self.storage.read_map(name, exported)
        if data is None:
            raise VolumeError(f"no such volume or snapshot: {name}")
        return Map.decode(data, name)

    def _save(self, name: str, volume_map: Map, new: bool = False, exported: bool = False,
              changed: list[int] | None = None) -> None:
        """Write a new map, or replace one; ``changed``: only these entries changed (the storage
        may write just them, atomically: RADOS does, files replace the whole map)."""
        if changed is not None and not new:
            written = self.storage.update_map_entries(name, volume_map, changed)
        else:
            data = volume_map.encode()
            if not new:
                self.storage.replace_map(name, data)
            elif not self.storage.create_map(name, data, exported):
                raise VolumeError(f"{name} already exists")
            written = len(data)
        self.stats.map_writes += 1
        self.stats.bytes_written += written
        self.stats.written_maps.append(name)

    def exists(self, name: str) -> bool:
        return self.storage.map_exists(name)

    def map_of(self, name: str) -> Map:
        return self._load(name)

    def names(self) -> list[str]:
        """The volumes and snapshots, sorted (without reading their maps)."""
        return self.storage.map_names()

    def list(self) -> list[tuple[str, Map]]:
        return [(name, self._load(name)) for name in self.names()]

    def info(self, name: str) -> dict:
        volume_map = self._load(name)
        lock = self.locks.get(name)
        counts = {"zero": 0, "shared": 0, "writable": 0}
        for entry in volume_map.entries:
            counts["zero" if entry is None else "shared" if isinstance(entry, bytes) else "writable"] += 1
        return {
            "name": name,
            "type": "snapshot" if volume_map.readonly else "volume",
            "size": volume_map.size,
            "block_size": volume_map.block_size,
            "epoch": volume_map.epoch,
            "blocks": len(volume_map.entries),
            **counts,
            "locked_by": lock.owner if lock else None,
        }

    # Creation -----------------------------------------------------------------------------

    def _check_new(self, name: str, size: int) -> None:
        try:
            mapfile.check_name(name)
        except MapError as exc:
            raise VolumeError(str(exc)) from None
        if size <= 0:
            raise VolumeError(f"size must be positive, got {size}")
        if self.exists(name):
            raise VolumeError(f"{name} already exists")

    def create(self, name: str, size: int) -> Map:
        """An empty volume (all blocks zero)."""
        self._check_new(name, size)
        volume_map = Map(size, self.block_size, 1, 0, [None] * block_count(size, self.block_size))
        self._save(name, volume_map, new=True)
        return volume_map

    def origin(self, name: str) -> Map:
        """A snapshot of this store, or an exported Pithos map, by name."""
        if self.exists(name):
            origin = self._load(name)
            if not origin.readonly:
                raise VolumeError(f"{name} is a volume, not a snapshot: snapshot it and clone the snapshot")
            return origin
        if self.storage.map_exists(name, exported=True):
            return self._load(name, exported=True)
        raise VolumeError(f"unknown snapshot or image: {name}")

    def clone(self, name: str, origin_name: str, size: int | None = None) -> Map:
        """A thin clone: a new map naming the origin's blocks (one map write, whatever the size)."""
        return self.clone_map(name, self.origin(origin_name), origin_name, size)

    def clone_map(self, name: str, origin: Map, origin_name: str, size: int | None = None) -> Map:
        """A thin clone of a read-only map held by the caller (e.g. a Pithos object's)."""
        size = origin.size if size is None else size
        self._check_new(name, size)
        if size < origin.size:
            raise VolumeError(f"size {size} is smaller than {origin_name} ({origin.size} bytes)")
        if origin.block_size != self.block_size:
            raise VolumeError(f"{origin_name} has block size {origin.block_size}, this store {self.block_size}")
        entries = [None if entry == EMPTY_BLOCK else entry for entry in origin.entries]
        # The blocks must exist; touching them also keeps a concurrent garbage collection off them.
        missing = self.blocks.missing(entry for entry in entries if entry is not None)
        if missing:
            raise VolumeError(
                f"{origin_name} names {len(missing)} blocks missing from the store, e.g. {missing[0].hex()}"
                " (an image deleted from Pithos and collected?)"
            )
        entries += [None] * (block_count(size, self.block_size) - len(entries))
        volume_map = Map(size, self.block_size, 1, 0, entries)
        self._save(name, volume_map, new=True)
        return volume_map

    def export_pithos_map(self, name: str, digests: list[bytes], size: int) -> str:
        """Store the map of a Pithos object under PITHOSMAPS (once), so volumes can clone it."""
        if self.storage.map_exists(name, exported=True):
            return name
        if len(digests) != block_count(size, self.block_size):
            raise VolumeError(f"{name}: {len(digests)} blocks do not cover {size} bytes of {self.block_size}-byte blocks")
        volume_map = Map(size, self.block_size, 0, mapfile.MAP_READONLY, list(digests))
        try:
            self._save(name, volume_map, new=True, exported=True)
        except VolumeError:
            pass  # exported meanwhile by someone else: the same content
        return name

    # Data ---------------------------------------------------------------------------------

    def _span(self, volume_map: Map, offset: int, length: int, what: str) -> range:
        if offset < 0 or length < 0:
            raise VolumeError(f"{what}: negative offset or length")
        if offset + length > volume_map.size:
            raise VolumeError(
                f"{what} of {length} bytes at {offset} goes beyond the end of the volume ({volume_map.size} bytes)"
            )
        if length == 0:
            return range(0)
        return range(offset // self.block_size, (offset + length - 1) // self.block_size + 1)

    def _pieces(self, volume_map: Map, offset: int, length: int, what: str) -> list[tuple[int, int, int, int]]:
        """For each block a request covers: (its index, the offset within the block, the start
        and end within the request). Beyond the end: refused (VolumeError)."""
        pieces = []
        for index in self._span(volume_map, offset, length, what):
            block_start = index * self.block_size
            lo, hi = max(offset, block_start), min(offset + length, block_start + self.block_size)
            pieces.append((index, lo - block_start, lo - offset, hi - offset))
        return pieces

    def _block_length(self, volume_map: Map, index: int) -> int:
        return min(self.block_size, volume_map.size - index * self.block_size)

    def _read_block(self, volume_map: Map, index: int, start: int = 0, length: int | None = None) -> bytes:
        """Bytes ``start`` to ``start + length`` of block ``index`` (default: the whole block)."""
        if length is None:
            length = self._block_length(volume_map, index) - start
        entry = volume_map.entries[index]
        if entry is None:
            return bytes(length)
        if isinstance(entry, bytes):
            try:
                return self.blocks.read_range(entry, start, length)
            except KeyError:
                raise VolumeError(f"block {entry.hex()} (block {index}) is missing from the store") from None
        data = self.storage.read_object(entry, start, length)
        return data + bytes(length - len(data))

    def read(self, name: str, offset: int, length: int) -> bytes:
        return self._read_map(self._load(name), offset, length)

    def _read_map(self, volume_map: Map, offset: int, length: int) -> bytes:
        return b"".join(self._read_block(volume_map, index, within, end - start)
                        for index, within, start, end in self._pieces(volume_map, offset, length, "read"))

    def _hold(self, name: str) -> None:
        """Writers hold the volume's lock (taken implicitly, as the mapper does on first write)."""
        current = self.locks.get(name)
        if current is None:
            self.locks.acquire(name, self.owner, "open")
        elif current.owner != self.owner:
            raise LockError(f"volume {name} is locked by {current.owner}")

    @serialized
    def write(self, name: str, offset: int, data: bytes) -> None:
        volume_map = self._load(name)
        if volume_map.readonly:
            raise VolumeError(f"{name} is a snapshot (read-only)")
        self._span(volume_map, offset, len(data), "write")
        self._hold(name)
        changed = self._write_map(name, volume_map, offset, data)
        if changed:
            self._save(name, volume_map, changed=changed)

    def _write_map(self, name: str, volume_map: Map, offset: int, data, writer=None) -> list[int]:
        """Write ``data`` into the blocks of ``volume_map`` (in memory): in place into the
        volume's objects (through ``writer``, an open volume's, if given), or by
        copy-up / allocation into new objects whose names replace the entries. Returns the
        indices of the entries that changed: the caller then saves the map (the objects are
        durable first). Beyond the end: refused before anything is written."""
        changed = []
        view = memoryview(data)
        for index, within, start, end in self._pieces(volume_map, offset, len(data), "write"):
            piece = view[start:end]
            entry = volume_map.entries[index]
            if isinstance(entry, str):
                self._patch_object(entry, within, piece, writer)
                continue
            # Copy-up (shared block) or allocation (zero block): a new object of this epoch.
            content = bytearray(self._read_block(volume_map, index))
            content[within : within + len(piece)] = piece
            new_name = mapfile.object_name(name, volume_map.epoch, index)
            self._write_object(new_name, content)
            volume_map.entries[index] = new_name
            changed.append(index)
        return changed

    def _write_object(self, object_name: str, content) -> None:
        self.storage.write_object(object_name, bytes(content))
        self.stats.object_writes += 1
        self.stats.bytes_written += len(content)

    def _patch_object(self, object_name: str, offset: int, piece, writer=None, unless_sealed: bool = False) -> bool:
        """An in-place write. Through ``writer``, an open volume's (``storage.object_writer``):
        unsynced, the open volume syncs it at the client's flush (NBD's promise); with
        ``unless_sealed`` only if a snapshot has not sealed the object (False then). Without:
        durable at once with FSYNC=yes."""
        if writer is None:
            self.storage.patch_object(object_name, offset, piece)
        elif unless_sealed:
            if not writer.pwrite_unsealed(object_name, offset, piece):
                return False
        else:
            writer.pwrite(object_name, offset, piece)
        self.stats.object_writes += 1
        self.stats.bytes_written += len(piece)
        return True

    @serialized
    def resize(self, name: str, size: int) -> Map:
        """Grow a volume (new blocks read as zeros). Shrinking is refused. Allowed while this
        host's vlmcd serves the volume (it reads the map again when it changed, as for snapshots;
        a mapped device keeps its size until it is mapped again)."""
        volume_map = self._load(name)
        if volume_map.readonly:
            raise VolumeError(f"{name} is a snapshot (read-only)")
        if size < volume_map.size:
            raise VolumeError(f"cannot shrink {name} from {volume_map.size} to {size} bytes (only growing)")
        # As for snapshot: this host's vlmcd may serve it (new connections see the new size).
        self.locks.check(name, self.owner, also=(device_owner(self.owner),))
        if size == volume_map.size:
            return volume_map
        volume_map.entries += [None] * (block_count(size, self.block_size) - len(volume_map.entries))
        volume_map.size = size
        self._save(name, volume_map)
        return volume_map

    # Snapshots and removal ----------------------------------------------------------------

    @serialized
    def snapshot(self, name: str, snapshot: str) -> Map:
        """Freeze ``name`` as the read-only map ``snapshot``.

        The volume's writable objects are stored as content-addressed blocks (so a Pithos map can
        name them), both maps then name the same blocks, and the volume's epoch is bumped: its next
        write to any block copies up into a new object. Order: blocks, snapshot map, volume map,
        then the old objects are deleted; a crash at any step leaves both maps valid."""
        volume_map = self._load(name)
        if volume_map.readonly:
            raise VolumeError(f"{name} is a snapshot; clone it to get a volume")
        # This host's vlmcd may hold it (mapped): it re-reads the map under the same mutex
        # before each locked write (OpenVolume), so it sees the new epoch before writing; its
        # writes without the mutex (RADOS) are kept out of each object by sealing it first.
        self.locks.check(name, self.owner, also=(device_owner(self.owner),))
        self._check_new(snapshot, volume_map.size)
        unsynced: list = []
        frozen, old_objects = list(volume_map.entries), []
        for index, entry in enumerate(frozen):
            if isinstance(entry, str):
                self.storage.seal_object(entry)  # no write into it from now on (OpenVolume)
                content = self._read_block(volume_map, index)
                frozen[index] = self.blocks.put(content, unsynced)
                self.stats.bytes_written += len(content)
                old_objects.append(entry)
        self.blocks.sync(unsynced)
        snapshot_map = Map(volume_map.size, self.block_size, 0, mapfile.MAP_READONLY, frozen)
        self._save(snapshot, snapshot_map, new=True)
        volume_map.entries = list(frozen)
        volume_map.epoch += 1
        self._save(name, volume_map)
        for object_name in old_objects:
            self.storage.remove_object(object_name)
        return snapshot_map

    @serialized
    def remove(self, name: str) -> None:
        """Remove a volume or snapshot: its map, then every object it owns (its lock must be free).
        Shared blocks stay until no map references them (``snf-manage pithos-gc``)."""
        self._load(name)
        lock = self.locks.get(name)
        if lock is not None:
            raise LockError(f"volume {name} is open or locked by {lock.owner}; close or unlock it first")
        self.storage.remove_map(name)
        self.remove_objects(name)

    def remove_objects(self, name: str) -> int:
        """Delete the writable objects of ``name`` (also leftovers of crashed writes)."""
        return self.storage.remove_objects(mapfile.object_pattern(name))

    # Locks --------------------------------------------------------------------------------

    def open(self, name: str) -> bool:
        """Take the volume's lock for this owner (True), or find it already ours (False)."""
        self._load(name)
        return self.locks.acquire(name, self.owner, "open")

    def close(self, name: str) -> Lock:
        self._load(name)
        current = self.locks.get(name)
        if current is None:
            raise LockError(f"volume {name} is not open")
        return self.locks.release(name, self.owner)

    def lock(self, name: str) -> bool:
        self._load(name)
        return self.locks.acquire(name, self.owner, "lock")

    def unlock(self, name: str, force: bool = False) -> Lock:
        self._load(name)
        return self.locks.release(name, self.owner, force)

    def referenced_digests(self, keep_exported=lambda name: True) -> list[bytes]:
        """Every content-addressed block named by a map of this store (the GC's references); an
        exported Pithos map counts only if ``keep_exported(name)``."""
        found: set[bytes] = set()
        for exported in (False, True):
            for name in self.storage.map_names(exported):
                if exported and not keep_exported(name):
                    continue
                data = self.storage.read_map(name, exported)
                if data is not None:  # else removed meanwhile
                    found.update(entry for entry in Map.decode(data, name).entries if isinstance(entry, bytes))
        return list(found)


class OpenVolume:
    """A volume held open by one daemon (vlmcd serving it as a block device): its lock is taken
    for the store's owner, its map kept in memory and written only when an entry changes
    (copy-up, allocation), so a small in-place write costs no map read or write.

    Another process may still replace the map: ``VolumeStore.snapshot`` (allowed while this
    host's vlmcd holds the lock) freezes the blocks and bumps the epoch. So every write takes
    the volume's mutex, as the snapshot does, and checks that the map file is still the one it
    read (its version, ``storage.map_version``); if not it reads it again: it never writes in
    place into an object a snapshot has frozen. Reads check the version too but take no mutex
    (see ``read``); on RADOS, neither do writes into objects the volume already has (see
    ``_write_in_place``). Snapshots (read-only maps) are served read-only and take no lock.

    Durability is NBD's: a write is durable once a ``flush`` (the client's FLUSH, or the FUA
    flag of the write) completed after it. In-place writes go through the storage's object
    writer (on files: descriptors kept open, ``ObjectFiles``; RADOS writes are durable when
    acknowledged) and are synced at the flush. With FSYNC=yes a write that changes the map
    (copy-up, allocation) makes its new object and then the map durable before it returns, so a
    crash never leaves a map naming an object that is not on disk; with FSYNC=no these wait for
    the flush too."""

    MAX_OPEN_OBJECTS = 64  # object descriptors kept open (4 MiB blocks: a 256 MiB working set)

    def __init__(self, store: VolumeStore, name: str):
        self.store, self.name = store, name
        volume_map = store._load(name)
        self.readonly = volume_map.readonly
        if not self.readonly and not store.locks.acquire(name, store.owner, "open"):
            store.locks.take_over(name, store.owner)  # ours from a previous run of the daemon
        self._lock_id = None if self.readonly else store.locks.version(name)
        self._map, self._stamp = volume_map, self._stat()
        self._writer = store.storage.object_writer(self.MAX_OPEN_OBJECTS)
        self._map_unsynced = False  # FSYNC=no: the map (and new objects' names) written since the last flush

    @property
    def size(self) -> int:
        return self._map.size

    def _stat(self):
        return self.store.storage.map_version(self.name)

    def _check_lock(self) -> None:
        """Refuse to write once our lock was broken (``vlmc unlock -f``): another host may own
        the volume now (a lock taken again has a new version)."""
        if self.store.locks.version(self.name) != self._lock_id:
            raise PermissionError(f"the lock of {self.name} was broken or taken by someone else: not writing")

    def _current(self) -> Map:
        """The map (under the mutex), read again if another process replaced it."""
        stamp = self._stat()
        if stamp != self._stamp:
            self._writer.forget()  # a snapshot may have deleted objects we hold open
            self._map, self._stamp = self.store._load(self.name), stamp
        return self._map

    READ_ATTEMPTS = 3

    def read(self, offset: int, length: int) -> bytes:
        """Without the mutex while the stored map is still the version in memory (on RADOS the
        mutex is two of a 4 KiB read's four round trips; when the map changed, it is read again
        under the mutex, as for a write). Objects are written before a map names them, and a
        snapshot leaves an object's bytes as they were (frozen into a block) until it deletes
        the object; so a read finds either the right bytes or no object, when a snapshot
        deleted it meanwhile: then it reads again with the stored map, which names the block."""
        if self._stat() == self._stamp:
            volume_map = self._map
        else:
            with self.store.locks.mutex(self.name):
                volume_map = self._current()
        for attempt in range(self.READ_ATTEMPTS):
            try:
                return self.store._read_map(volume_map, offset, length)
            except FileNotFoundError:
                if attempt == self.READ_ATTEMPTS - 1:
                    raise
                volume_map = self.store._load(self.name)

    def write(self, offset: int, data) -> None:
        if self.readonly:
            raise VolumeError(f"{self.name} is a snapshot (read-only)")
        if self.store.storage.lockless_writes and self._write_in_place(offset, data):
            return
        with self.store.locks.mutex(self.name):
            self._check_lock()
            volume_map = self._current()
            try:
                changed = self.store._write_map(self.name, volume_map, offset, data, self._writer)
                if changed:
                    self.store._save(self.name, volume_map, changed=changed)
                    self._stamp = self._stat()
            except BaseException:
                self._stamp = None  # entries may have changed in memory only: read the map again
                raise
            if changed and not self.store.config.fsync:
                self._note_unsynced_map(volume_map, offset, len(data))

    def _write_in_place(self, offset: int, data) -> bool:
        """RADOS: a write that falls wholly into objects the map in memory names takes neither
        the mutex nor the map check (three of its five round trips). Each piece is written
        only if its object is not sealed, in one atomic operation, and a snapshot seals every
        object before it reads it to freeze it: so a piece lands before the snapshot reads its
        object (and is in the snapshot), or is refused, and then the caller writes the whole
        write the locked way, which reads the new map and copies up. False: not done (pieces
        already written are written again then: the same bytes)."""
        volume_map = self._map
        if self._stamp is None or offset < 0 or offset + len(data) > volume_map.size:
            return False  # to read the map again, or to refuse a write beyond the end
        pieces = self.store._pieces(volume_map, offset, len(data), "write")
        entries = [volume_map.entries[index] for index, *_ in pieces]
        if not all(isinstance(entry, str) for entry in entries):
            return False  # a copy-up or allocation changes the map: under the mutex
        self._check_lock()
        view = memoryview(data)
        for (_, within, start, end), entry in zip(pieces, entries):
            if not self.store._patch_object(entry, within, view[start:end], self._writer, unless_sealed=True):
                return False
        return True

    def write_zeroes(self, offset: int, length: int) -> None:
        """Zero a range: blocks that are zero entries already are left alone (no allocation)."""
        if self.readonly:
            raise VolumeError(f"{self.name} is a snapshot (read-only)")
        with self.store.locks.mutex(self.name):
            pieces = self.store._pieces(self._current(), offset, length, "write")
        for index, _, start, end in pieces:
            with self.store.locks.mutex(self.name):
                if self._current().entries[index] is None:
                    continue
            self.write(offset + start, bytes(end - start))

    def _note_unsynced_map(self, volume_map: Map, offset: int, length: int) -> None:
        """FSYNC=no: the new objects of a copy-up or allocation, and the map, are synced at the
        next flush."""
        for index in self.store._span(volume_map, offset, length, "write"):
            self._writer.unsynced.add(volume_map.entries[index])
        self._map_unsynced = True

    def flush(self) -> None:
        """Make every completed write durable: fdatasync the objects written since the last
        flush (nothing else with FSYNC=yes: maps are durable when written); with FSYNC=no also
        the map and the directories naming new objects. Nothing to sync (RADOS: writes are
        durable when acknowledged), nothing to wait for: a completed write noted what it left
        to sync before it completed."""
        if not self._writer.unsynced and not self._map_unsynced:
            return
        with self.store.locks.mutex(self.name):
            self._writer.sync()
            if self._map_unsynced:
                self.store.storage.sync_map(self.name)
                self._map_unsynced = False

    def close(self) -> None:
        """Flush, close the objects, and release the lock (if we still hold it)."""
        try:
            self.flush()
        finally:
            self._writer.forget()
        if not self.readonly:
            current = self.store.locks.get(self.name)
            if current is not None and current.owner == self.store.owner:
                self.store.locks.release(self.name, self.store.owner)
