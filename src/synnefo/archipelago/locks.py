"""Per-volume locks kept in the store (``<FILED_MAPS>/.locks/<volume>``), so every node sharing
the store sees them. A lock names its owner, ``<host>/<daemon>`` (the daemon is the peer that
holds it: ``blockerm`` for vlmc and the mapper), plus the pid and time for the operator.

Taking a lock is atomic: the lock's content is written to a temporary file that is then
hard-linked to the lock's name, which fails if the name exists. The owner may take it again
(idempotent); anyone else is refused until the owner releases it or an operator breaks it
(``vlmc unlock -f``).
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


class Locks:
    def __init__(self, maps_dir: Path):
        self.dir = maps_dir / ".locks"

    def _path(self, volume: str) -> Path:
        return self.dir / volume

    @contextmanager
    def mutex(self, volume: str):
        """Serialise the map updates of one volume between the processes and threads of its
        owner (a read-modify-write of the map must not lose another's update): an exclusive
        ``flock`` on ``.mutex/<volume>``, released when the update is done (or its process dies)."""
        directory = self.dir.parent / ".mutex"
        directory.mkdir(exist_ok=True)
        fd = os.open(directory / volume, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def get(self, volume: str) -> Lock | None:
        try:
            data = json.loads(self._path(volume).read_text())
        except FileNotFoundError:
            return None
        except (ValueError, OSError):
            # A lock file we cannot read still locks: report it with an unknown owner.
            return Lock("<unreadable>", 0, 0.0, "lock")
        return Lock(data.get("owner", "?"), data.get("pid", 0), data.get("since", 0.0), data.get("kind", "lock"))

    def acquire(self, volume: str, owner: str, kind: str = "open") -> bool:
        """Take the lock for ``owner``; True if taken now, False if ``owner`` already held it."""
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = self.dir / f".tmp-{secrets.token_hex(8)}"
        tmp.write_text(json.dumps({"owner": owner, "pid": os.getpid(), "since": time.time(), "kind": kind}))
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
