"""Per-volume locks kept in the store (``<FILED_MAPS>/.locks/<volume>``), so every node sharing
the store sees them. A lock names its owner, ``<host>/<daemon>`` (the daemon is the peer that
holds it: ``blockerm`` for vlmc and the mapper), plus the pid and time for the operator.

Taking a lock is atomic: the lock's content is written to a temporary file that is then
hard-linked to the lock's name, which fails if the name exists. The owner may take it again
(idempotent); anyone else is refused until the owner releases it or an operator breaks it
(``vlmc unlock -f``).

``RadosLocks`` keeps the same locks in RADOS (``STORAGE="rados"``): the lock of a volume is the
object ``<volume>_lock`` of the maps pool holding the same record, created exclusively (a RADOS
create fails if the object exists), replaced and removed only at the version it was read at;
the mutex of map updates is a native RADOS exclusive lock on ``<volume>_mutex``, with a lease so
that a holder that died frees it.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import socket
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

DAEMON = "blockerm"
DEVICE_DAEMON = "vlmcd"  # holds the volumes it serves as block devices


def default_owner(daemon: str = DAEMON) -> str:
    """This node's owner name: $ARCHIPELAGO_HOST (else the host name) and the daemon."""
    return f"{os.environ.get('ARCHIPELAGO_HOST') or socket.gethostname()}/{daemon}"


def device_owner(owner: str) -> str:
    """The owner name of the vlmcd on the host of ``owner``."""
    return f"{owner.rpartition('/')[0]}/{DEVICE_DAEMON}"


class LockError(Exception):
    pass


@dataclass(frozen=True)
class Lock:
    owner: str
    pid: int
    since: float
    kind: str  # "open" or "lock"


def lock_record(owner: str, kind: str) -> bytes:
    return json.dumps({"owner": owner, "pid": os.getpid(), "since": time.time(), "kind": kind}).encode()


def parse_lock(data: bytes) -> Lock:
    """A lock record; one we cannot read still locks: reported with an unknown owner."""
    try:
        record = json.loads(data)
    except ValueError:
        return Lock("<unreadable>", 0, 0.0, "lock")
    return Lock(record.get("owner", "?"), record.get("pid", 0), record.get("since", 0.0), record.get("kind", "lock"))


class Locks:
    def __init__(self, maps_dir: Path):
        self.dir = maps_dir / ".locks"
        self._mutex_dir = maps_dir / ".mutex"
        self._mutex_dir_made = False  # made once per process (each request of vlmcd takes a mutex)

    def _path(self, volume: str) -> Path:
        return self.dir / volume

    @contextmanager
    def mutex(self, volume: str):
        """Serialise the map updates of one volume between the processes and threads of its
        owner (a read-modify-write of the map must not lose another's update): an exclusive
        ``flock`` on ``.mutex/<volume>``, released when the update is done (or its process dies)."""
        if not self._mutex_dir_made:
            self._mutex_dir.mkdir(exist_ok=True)
            self._mutex_dir_made = True
        fd = os.open(self._mutex_dir / volume, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def get(self, volume: str) -> Lock | None:
        try:
            return parse_lock(self._path(volume).read_bytes())
        except FileNotFoundError:
            return None
        except OSError:
            return Lock("<unreadable>", 0, 0.0, "lock")

    def version(self, volume: str):
        """Changes whenever the lock is taken, taken over or broken (a new file); None if free."""
        try:
            st = os.stat(self._path(volume))
        except FileNotFoundError:
            return None
        return st.st_ino, st.st_mtime_ns

    def names(self) -> list[str]:
        """The locked volumes."""
        if not self.dir.is_dir():
            return []
        return sorted(p.name for p in self.dir.iterdir() if not p.name.startswith("."))

    def _new(self, owner: str, kind: str) -> Path:
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = self.dir / f".tmp-{secrets.token_hex(8)}"
        tmp.write_bytes(lock_record(owner, kind))
        return tmp

    def acquire(self, volume: str, owner: str, kind: str = "open") -> bool:
        """Take the lock for ``owner``; True if taken now, False if ``owner`` already held it."""
        tmp = self._new(owner, kind)
        try:
            os.link(tmp, self._path(volume))
            return True
        except FileExistsError:
            current = self.get(volume)
            if current is not None and current.owner == owner:
                return False
            if current is None:  # released meanwhile: try once more
                return self.acquire(volume, owner, kind)
            raise LockError(f"volume {volume} is locked by {current.owner}") from None
        finally:
            tmp.unlink(missing_ok=True)

    def take_over(self, volume: str, owner: str, kind: str = "open") -> None:
        """Make a lock ``owner`` holds name this process (a restarted daemon taking back the
        locks of its previous run), atomically."""
        current = self.get(volume)
        if current is None or current.owner != owner:
            raise LockError(f"volume {volume} is not locked by {owner}")
        tmp = self._new(owner, kind)
        try:
            os.replace(tmp, self._path(volume))
        finally:
            tmp.unlink(missing_ok=True)

    def check(self, volume: str, owner: str, also: tuple[str, ...] = ()) -> None:
        """Refuse if someone other than ``owner`` (or one of ``also``) holds the lock."""
        current = self.get(volume)
        if current is not None and current.owner != owner and current.owner not in also:
            raise LockError(f"volume {volume} is locked by {current.owner}")

    def release(self, volume: str, owner: str, force: bool = False) -> Lock:
        current = self.get(volume)
        if current is None:
            raise LockError(f"volume {volume} is not locked")
        if current.owner != owner and not force:
            raise LockError(f"volume {volume} is locked by {current.owner}, not by {owner}; use -f to break the lock")
        self._path(volume).unlink(missing_ok=True)
        return current


class RadosLocks(Locks):
    """The locks of a RADOS store (see the module's docstring); the rules (``check``, who may
    release) are ``Locks``'s."""

    MUTEX_LEASE = 60  # seconds: a mutex holder that died frees the mutex after this

    def __init__(self, io):
        from synnefo.common import radosclient

        self.io, self.radosclient, self.rados = io, radosclient, radosclient.rados_module()

    @staticmethod
    def object_name(volume: str) -> str:
        return f"{volume}_lock"  # volume names have no "_": never a map's name

    @contextmanager
    def mutex(self, volume: str):
        name, cookie = f"{volume}_mutex", secrets.token_hex(8)
        delay = 0.001
        while True:
            try:
                self.io.lock_exclusive(name, "mutex", cookie, desc="archipelago map update", duration=self.MUTEX_LEASE)
                break
            except (self.rados.ObjectBusy, self.rados.ObjectExists):
                time.sleep(delay)
                delay = min(delay * 2, 0.05)
        try:
            yield
        finally:
            try:
                self.io.unlock(name, "mutex", cookie)
            except self.rados.ObjectNotFound:
                pass  # the lease ran out and someone else holds it now

    def _read(self, volume: str):
        """(the lock, its object's version), or None."""
        name = self.object_name(volume)
        try:
            data = self.io.read(name, 65536)
        except self.rados.ObjectNotFound:
            return None
        return parse_lock(data), self.io.get_last_version()

    def get(self, volume: str) -> Lock | None:
        found = self._read(volume)
        return found and found[0]

    def version(self, volume: str):
        seen = self.radosclient.stat_version(self.io, self.object_name(volume))
        return seen and seen[1]

    def names(self) -> list[str]:
        return sorted(obj.key[: -len("_lock")] for obj in self.io.list_objects() if obj.key.endswith("_lock"))

    def acquire(self, volume: str, owner: str, kind: str = "open") -> bool:
        record = lock_record(owner, kind)

        def create(op):
            op.new(self.rados.LIBRADOS_CREATE_EXCLUSIVE)
            op.write_full(record)

        while True:
            if self.radosclient.write_op(self.io, self.object_name(volume), create):
                return True
            current = self.get(volume)
            if current is None:
                continue  # released meanwhile: try again
            if current.owner == owner:
                return False
            raise LockError(f"volume {volume} is locked by {current.owner}")

    def take_over(self, volume: str, owner: str, kind: str = "open") -> None:
        found = self._read(volume)
        if found is None or found[0].owner != owner:
            raise LockError(f"volume {volume} is not locked by {owner}")
        record = lock_record(owner, kind)
        if not self.radosclient.write_op(self.io, self.object_name(volume), lambda op: op.write_full(record), found[1]):
            raise LockError(f"the lock of volume {volume} changed meanwhile")

    def release(self, volume: str, owner: str, force: bool = False) -> Lock:
        while True:
            found = self._read(volume)
            if found is None:
                raise LockError(f"volume {volume} is not locked")
            current, version = found
            if current.owner != owner and not force:
                raise LockError(f"volume {volume} is locked by {current.owner}, not by {owner}; use -f to break the lock")
            if self.radosclient.write_op(self.io, self.object_name(volume), lambda op: op.remove(), version):
                return current
            # Replaced or removed since we read it: decide again on what is there now.
