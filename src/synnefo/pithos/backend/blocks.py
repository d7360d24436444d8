"""The content-addressed block store.

Blocks are named by the hex hash of their content with trailing NULs removed (see
``hashing.block_hash``), and stored without those NULs: a reader pads a block back to the length
the map says. A block is written once; whoever writes it again finds it there (deduplication).

``FileBlockStore`` keeps each block in a file ``<root>/<h[0:2]>/<h[2:4]>/<h>``, written to a
temporary name and renamed into place, so a reader never sees half a block and a crash leaves at
most a temporary file (which ``collect_garbage`` removes). Another backend (e.g. RADOS) only has
to implement ``BlockStore``.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from pathlib import Path

from synnefo.pithos.backend.hashing import block_hash, strip_nuls


class BlockStore(ABC):
    def __init__(self, block_size: int, algorithm: str):
        self.block_size = block_size
        self.algorithm = algorithm

    def hash(self, data: bytes) -> bytes:
        return block_hash(data, self.algorithm)  # (strips trailing NULs itself if any)

    @abstractmethod
    def put(self, data: bytes, unsynced: list | None = None) -> bytes:
        """Store one block (at most ``block_size`` bytes); return its hash. With ``unsynced``,
        durability is deferred: the caller collects what to ``sync`` before it commits a map
        that uses the blocks (one flush per upload instead of one per block)."""

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

    def read(self, digest: bytes, length: int) -> bytes:
        """A block padded back with NULs to ``length`` bytes."""
        data = self.get(digest)
        return data + bytes(length - len(data)) if len(data) < length else data[:length]

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
    def __init__(self, root: str | Path, block_size: int, algorithm: str, fsync: bool = True):
        super().__init__(block_size, algorithm)
        self.root = Path(root)
        self.fsync = fsync
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, hexdigest: str) -> Path:
        return self.root / hexdigest[:2] / hexdigest[2:4] / hexdigest

    def put(self, data: bytes, unsynced: list | None = None) -> bytes:
        if len(data) > self.block_size:
            raise ValueError("block larger than the block size")
        content = strip_nuls(data)
        digest = hashlib.new(self.algorithm, content).digest()
        if self.touch(digest):
            return digest
        path = self._path(digest.hex())
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
        try:
            try:
                view = memoryview(content)
                while view:
                    view = view[os.write(fd, view) :]
                if self.fsync and unsynced is None:
                    os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            raise
        if self.fsync:
            if unsynced is None:
                self._fsync_dirs({path.parent})
            else:
                unsynced.append(path)
        return digest

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


_store: BlockStore | None = None


def get_block_store() -> BlockStore:
    """The node's block store, from the settings (one per process)."""
    global _store
    from django.conf import settings

    if _store is None:
        if settings.PITHOS_BACKEND_STORAGE != "files":
            from django.core.exceptions import ImproperlyConfigured

            raise ImproperlyConfigured(f"Unknown PITHOS_BACKEND_STORAGE {settings.PITHOS_BACKEND_STORAGE!r}")
        root = settings.PITHOS_BACKEND_BLOCK_PATH or Path(settings.SYNNEFO_DATA_DIR) / "blocks"
        _store = FileBlockStore(
            root,
            settings.PITHOS_BACKEND_BLOCK_SIZE,
            settings.PITHOS_BACKEND_HASH_ALGORITHM,
            fsync=settings.PITHOS_BACKEND_FSYNC == "always",
        )
    return _store


def reset_block_store() -> None:
    """Forget the cached store (tests that change the settings)."""
    global _store
    _store = None
