"""The content-addressed block store.

Blocks are named by the hex hash of their content with trailing NULs removed (see
``hashing.block_hash``), and stored without those NULs: a reader pads a block back to the length
the map says. A block is written once; whoever writes it again finds it there (deduplication).

``FileBlockStore`` keeps each block in a file ``<root>/<h[0:2]>/<h[2:4]>/<h>``, written to a
temporary name and renamed into place, so a reader never sees half a block and a crash leaves at
most a temporary file (which ``collect_garbage`` removes).

``RadosBlockStore`` keeps each block as a RADOS object named by the hex hash in one pool. A
``write_full`` is atomic (a reader sees no block or all of it) and is acknowledged once the
cluster has it durably, so there are no temporaries and nothing to sync. Touch and
garbage-collection deletes are guarded by the object's version, so a collection never deletes
a block that a writer touched after the collection looked at it.
"""

from __future__ import annotations

import errno
import hashlib
import mmap
import os
import secrets
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from pathlib import Path

from synnefo.pithos.backend.hashing import block_hash, strip_nuls


# O_DIRECT transfers start at and cover whole multiples of this (the page size; it also
# satisfies disks with 512-byte sectors).
DIRECT_ALIGNMENT = 4096


def aligned_buffer(size: int) -> mmap.mmap:
    """A writable page-aligned buffer of ``size`` bytes (anonymous memory), usable with O_DIRECT."""
    return mmap.mmap(-1, size)



def write_new_file(path: Path, content, sync: bool) -> None:
    """Create ``path`` (it must not exist) holding every byte of ``content``, fsynced if ``sync``."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        view = memoryview(content)
        while view:
            view = view[os.write(fd, view) :]
        if sync:
            os.fsync(fd)
    finally:
        os.close(fd)

class BlockStore(ABC):
    def __init__(self, block_size: int, algorithm: str):
        self.block_size = block_size
        self.algorithm = algorithm

    def hash(self, data: bytes) -> bytes:
        return block_hash(data, self.algorithm)  # (strips trailing NULs itself if any)

    @abstractmethod
    def put(self, data: bytes, unsynced: list | None = None, aligned=None) -> bytes:
        """Store one block (at most ``block_size`` bytes); return its hash. With ``unsynced``,
        durability is deferred: the caller collects what to ``sync`` before it commits a map
        that uses the blocks (one flush per upload instead of one per block). ``aligned``, if
        given, is a page-aligned buffer (``aligned_buffer``) that starts with ``data``: a
        backend may write from it directly."""

    def sync(self, unsynced: list) -> None:
        """Make the blocks written with ``unsynced`` durable."""

    @abstractmethod
    def get(self, digest: bytes) -> bytes:
        """The stored (NUL-stripped) content of a block; KeyError if absent."""

    @abstractmethod
    def contains(self, digest: bytes) -> bool: ...

    @abstractmethod
    def touch(self, digest: bytes) -> bool:
        """Mark a block as just used (so garbage collection spares it); False if absent."""

    def missing(self, digests: Iterable[bytes]) -> list[bytes]:
        """The digests not in the store, each once, in first-seen order. The present ones are
        touched: a map about to reference them must not lose them to a concurrent collection."""
        seen, absent = set(), []
        for digest in digests:
            if digest not in seen:
                seen.add(digest)
                if not self.touch(digest):
                    absent.append(digest)
        return absent

    def prefetch(self, digests: list[bytes]) -> None:
        """Hint that these blocks will be read soon (a backend may start reading them)."""

    def read(self, digest: bytes, length: int) -> bytes:
        """A block padded back with NULs to ``length`` bytes."""
        data = self.get(digest)
        return data + bytes(length - len(data)) if len(data) < length else data[:length]

    def read_range(self, digest: bytes, start: int, length: int) -> bytes:
        """``length`` bytes of a block from ``start`` (past its stored content: NULs)."""
        data = self.get(digest)[start : start + length]
        return data + bytes(length - len(data))

    # Garbage collection walks the store shard by shard (so it can resume), and deletes only
    # blocks nobody used since the collection's cutoff.
    @abstractmethod
    def shards(self) -> list[str]: ...

    @abstractmethod
    def iter_shard(self, shard: str) -> Iterator[tuple[bytes, float]]:
        """The digest and last-use time of every block of a shard."""

    @abstractmethod
    def delete_if_unused_since(self, digest: bytes, cutoff: float) -> bool: ...

    @abstractmethod
    def remove_stale_temporaries(self, cutoff: float) -> int: ...


class FileBlockStore(BlockStore):
    def __init__(self, root: str | Path, block_size: int, algorithm: str, fsync: bool = True, direct_io: bool = False):
        super().__init__(block_size, algorithm)
        self.root = Path(root)
        self.fsync = fsync
        self.direct_io = direct_io
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, hexdigest: str) -> Path:
        return self.root / hexdigest[:2] / hexdigest[2:4] / hexdigest

    def put(self, data: bytes, unsynced: list | None = None, aligned=None) -> bytes:
        if len(data) > self.block_size:
            raise ValueError("block larger than the block size")
        content = strip_nuls(data)
        digest = hashlib.new(self.algorithm, content).digest()
        if self.touch(digest):
            return digest
        path = self._path(digest.hex())
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.parent / f".tmp-{secrets.token_hex(8)}"
        try:
            if not self._write_direct(tmp, aligned, len(content)):
                self._write_buffered(tmp, content, sync=self.fsync and unsynced is None)
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            raise
        if self.fsync:
            if unsynced is None:
                self.sync([path])
            else:
                unsynced.append(path)
        return digest

    @staticmethod
    def _write_buffered(tmp: Path, content, sync: bool) -> None:
        write_new_file(tmp, content, sync)

    def _write_direct(self, tmp: Path, aligned, length: int) -> bool:
        """Write the first ``length`` bytes of the page-aligned buffer ``aligned`` with O_DIRECT:
        from the buffer to the disk, without a copy into the page cache (on a VM, filling fresh
        page-cache pages costs more CPU than all the hashing of an upload). O_DIRECT moves whole
        4 KiB pages, so the file is written rounded up and cut back to ``length``. False (the
        caller writes normally) when there is no such buffer, or the filesystem refuses
        O_DIRECT (tmpfs), which is then not tried again. Durability is unchanged: the file is
        still fsynced (the disk's cache flushed, the size recorded) before the commit."""
        if not (self.direct_io and aligned is not None and length) or not hasattr(os, "O_DIRECT"):
            return False
        rounded = -(-length // DIRECT_ALIGNMENT) * DIRECT_ALIGNMENT
        if rounded > len(aligned):
            return False
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_DIRECT, 0o600)
        except OSError as exc:
            if exc.errno != errno.EINVAL:
                raise
            self.direct_io = False
            return False
        try:
            view = memoryview(aligned)[:rounded]
            while view:
                view = view[os.write(fd, view) :]
            if rounded != length:
                os.ftruncate(fd, length)
        except OSError as exc:
            os.close(fd)
            os.unlink(tmp)
            if exc.errno != errno.EINVAL:
                raise
            self.direct_io = False
            return False
        os.close(fd)
        return True

    def sync(self, unsynced: list) -> None:
        if not self.fsync or not unsynced:
            return
        for path in unsynced:
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        self._fsync_dirs({path.parent for path in unsynced})

    @staticmethod
    def _fsync_dirs(directories) -> None:
        for directory in directories:
            fd = os.open(directory, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def get(self, digest: bytes) -> bytes:
        try:
            return self._path(digest.hex()).read_bytes()
        except FileNotFoundError:
            raise KeyError(digest.hex()) from None

    def contains(self, digest: bytes) -> bool:
        return self._path(digest.hex()).exists()

    def read_range(self, digest: bytes, start: int, length: int) -> bytes:
        """Only the bytes asked for (a 4 KiB read of a volume must not read 4 MiB)."""
        try:
            fd = os.open(self._path(digest.hex()), os.O_RDONLY)
        except FileNotFoundError:
            raise KeyError(digest.hex()) from None
        try:
            data = os.pread(fd, length, start)
        finally:
            os.close(fd)
        return data + bytes(length - len(data))

    def prefetch(self, digests: list[bytes]) -> None:
        """Ask the kernel to read the block files into the page cache in the background
        (blocks written with O_DIRECT are not there), so a download's next blocks arrive
        while the current one is sent."""
        if not hasattr(os, "posix_fadvise"):
            return
        for digest in digests:
            try:
                fd = os.open(self._path(digest.hex()), os.O_RDONLY)
            except FileNotFoundError:
                continue
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_WILLNEED)
            finally:
                os.close(fd)

    def touch(self, digest: bytes) -> bool:
        try:
            os.utime(self._path(digest.hex()))
            return True
        except FileNotFoundError:
            return False

    def shards(self) -> list[str]:
        """The top-level shard names, in order (garbage collection resumes by shard)."""
        return sorted(p.name for p in self.root.iterdir() if p.is_dir())

    def iter_shard(self, shard: str) -> Iterator[tuple[bytes, float]]:
        base = self.root / shard
        for second in sorted(p for p in base.iterdir() if p.is_dir()):
            for entry in os.scandir(second):
                if entry.name.startswith("."):
                    continue
                try:
                    yield bytes.fromhex(entry.name), entry.stat().st_mtime
                except (ValueError, FileNotFoundError):
                    continue

    def remove_stale_temporaries(self, cutoff: float) -> int:
        """Temporary files of writes that died (crash mid-block) older than ``cutoff``."""
        removed = 0
        for pattern in ("*/*/.tmp-*", "*/*/.gc-*"):
            for path in self.root.glob(pattern):
                try:
                    if path.stat().st_mtime < cutoff:
                        path.unlink()
                        removed += 1
                except FileNotFoundError:
                    continue
        return removed

    def delete_if_unused_since(self, digest: bytes, cutoff: float) -> bool:
        """Delete a block unless it was used (written or touched) after ``cutoff``.

        The block is first renamed away atomically, then its time is checked again: a writer
        that touched it before the rename is seen (the block is put back), and one that comes
        after finds it missing and uploads it again. So a block a new map relies on is never
        lost to a collection running at the same time."""
        path = self._path(digest.hex())
        doomed = path.with_name(".gc-" + path.name)
        try:
            os.rename(path, doomed)
        except FileNotFoundError:
            return False
        if doomed.stat().st_mtime >= cutoff:
            os.rename(doomed, path)
            return False
        doomed.unlink()
        return True


class RadosBlockStore(BlockStore):
    # The block's last use (garbage collection) is its RADOS mtime; touching writes this xattr.
    USED_XATTR = "synnefo.used"

    def __init__(self, conffile: str, pool: str, block_size: int, algorithm: str):
        from synnefo.common import radosclient

        super().__init__(block_size, algorithm)
        self.radosclient = radosclient
        self.io = radosclient.ioctx(conffile, pool)

    def put(self, data: bytes, unsynced: list | None = None, aligned=None) -> bytes:
        if len(data) > self.block_size:
            raise ValueError("block larger than the block size")
        content = strip_nuls(data)
        digest = hashlib.new(self.algorithm, content).digest()
        if not self.touch(digest):
            self.io.write_full(digest.hex(), bytes(content))
        return digest

    def get(self, digest: bytes) -> bytes:
        return self.read_range_stored(digest, 0, self.block_size)

    def read_range_stored(self, digest: bytes, start: int, length: int) -> bytes:
        try:
            return self.io.read(digest.hex(), length, start)
        except self.radosclient.rados_module().ObjectNotFound:
            raise KeyError(digest.hex()) from None

    def read_range(self, digest: bytes, start: int, length: int) -> bytes:
        data = self.read_range_stored(digest, start, length)
        return data + bytes(length - len(data))

    def _stat(self, name: str):
        """(mtime as epoch seconds, object version), or None if absent."""
        return self.radosclient.stat_version(self.io, name)

    def contains(self, digest: bytes) -> bool:
        return self._stat(digest.hex()) is not None

    def touch(self, digest: bytes) -> bool:
        name = digest.hex()
        while True:
            seen = self._stat(name)
            if seen is None:
                return False
            stamp = str(time.time()).encode()
            if self.radosclient.write_op(self.io, name, lambda op: op.set_xattr(self.USED_XATTR, stamp), seen[1]):
                return True
            # Changed under us (another toucher) or removed: look again.

    # One shard per first hex digit of the name. RADOS lists a pool whole, so each shard is a
    # filtered listing: fine for a collection that runs rarely, in the background.
    def shards(self) -> list[str]:
        return list("0123456789abcdef")

    def iter_shard(self, shard: str) -> Iterator[tuple[bytes, float]]:
        for obj in self.io.list_objects():
            if not obj.key.startswith(shard):
                continue
            seen = self._stat(obj.key)
            if seen is None:
                continue
            try:
                yield bytes.fromhex(obj.key), seen[0]
            except ValueError:
                continue

    def delete_if_unused_since(self, digest: bytes, cutoff: float) -> bool:
        seen = self._stat(digest.hex())
        # mtimes are whole seconds: a block used in the cutoff's second counts as used after it.
        if seen is None or seen[0] + 1 > cutoff:
            return False
        return self.radosclient.write_op(self.io, digest.hex(), lambda op: op.remove(), seen[1])

    def remove_stale_temporaries(self, cutoff: float) -> int:
        return 0  # write_full is atomic: a write that dies leaves nothing behind


_store: BlockStore | None = None


def get_block_store() -> BlockStore:
    """The node's block store, from the settings (one per process)."""
    global _store
    from django.conf import settings

    if _store is None:
        if settings.PITHOS_BACKEND_STORAGE == "rados":
            _store = RadosBlockStore(
                settings.PITHOS_RADOS_CEPH_CONF,
                settings.PITHOS_RADOS_POOL_BLOCKS,
                settings.PITHOS_BACKEND_BLOCK_SIZE,
                settings.PITHOS_BACKEND_HASH_ALGORITHM,
            )
            return _store
        if settings.PITHOS_BACKEND_STORAGE != "files":
            from django.core.exceptions import ImproperlyConfigured

            raise ImproperlyConfigured(f"Unknown PITHOS_BACKEND_STORAGE {settings.PITHOS_BACKEND_STORAGE!r}")
        root = settings.PITHOS_BACKEND_BLOCK_PATH or Path(settings.SYNNEFO_DATA_DIR) / "blocks"
        _store = FileBlockStore(
            root,
            settings.PITHOS_BACKEND_BLOCK_SIZE,
            settings.PITHOS_BACKEND_HASH_ALGORITHM,
            fsync=settings.PITHOS_BACKEND_FSYNC == "always",
            direct_io=settings.PITHOS_BACKEND_DIRECT_IO,
        )
    return _store


def reset_block_store() -> None:
    """Forget the cached store (tests that change the settings)."""
    global _store
    _store = None
