"""The object files of one open volume (``store.OpenVolume``), kept open between requests.

Opening and closing an object for every 4 KiB write, and syncing it at once, is what made a
served volume's small writes slower than qemu-nbd's: qemu-nbd keeps its image open and syncs at
the client's ``FLUSH`` (or a write's FUA), which is all NBD promises. So an open volume writes in
place through descriptors kept here (the least recently used beyond ``limit`` are closed) and
remembers which objects it wrote; ``sync`` makes them durable (``fdatasync``: an in-place write
changes no size, and a new object's size and blocks are what fdatasync writes out with it).

An object no longer in the volume's map (a snapshot froze and deleted it) must not be held open
(its space would stay allocated) nor written: ``forget`` closes every descriptor when the map
changed under the volume. Objects written and not yet synced stay remembered by name; syncing
one that is gone is skipped (the snapshot that deleted it stored its bytes, synced, as a block).
Not thread safe: the open volume calls it under the volume's mutex.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path

class ObjectFiles:
    def __init__(self, directory: Path, limit: int = 1):
        self.directory, self.limit = directory, limit
        self._fds: OrderedDict[str, int] = OrderedDict()  # object name -> descriptor, LRU first
        self.unsynced: set[str] = set()  # objects written since their last sync

    def _fd(self, name: str) -> int:
        fd = self._fds.get(name)
        if fd is not None:
            self._fds.move_to_end(name)
            return fd
        fd = os.open(self.directory / name, os.O_RDWR)
        self._fds[name] = fd
        while len(self._fds) > self.limit:
            # Closing an unsynced descriptor loses nothing: sync() opens the object again, and
            # fdatasync writes out the file's dirty pages whoever wrote them.
            os.close(self._fds.popitem(last=False)[1])
        return fd

    def pwrite(self, name: str, offset: int, data) -> None:
        """Write all of ``data`` at ``offset`` into object ``name`` (which exists), unsynced."""
        fd, view, written = self._fd(name), memoryview(data), 0
        self.unsynced.add(name)
        while written < len(view):
            written += os.pwrite(fd, view[written:], offset + written)

    def sync(self) -> bool:
        """fdatasync every object written since its last sync (True if there were any). On a
        failure the objects not synced yet (the failing one too) stay to sync."""
        synced = bool(self.unsynced)
        while self.unsynced:
            name = next(iter(self.unsynced))
            fd = self._fds.get(name)
            if fd is not None:
                os.fdatasync(fd)
            else:
                try:
                    fd = os.open(self.directory / name, os.O_RDONLY)
                except FileNotFoundError:
                    pass  # frozen and deleted by a snapshot, which synced its bytes as a block
                else:
                    try:
                        os.fdatasync(fd)
                    finally:
                        os.close(fd)
            self.unsynced.discard(name)
        return synced

    def forget(self) -> None:
        """Close every descriptor (the map changed: objects may have been deleted); what was
        written stays to sync, by name."""
        while self._fds:
            os.close(self._fds.popitem()[1])

    @property
    def open_count(self) -> int:
        return len(self._fds)
