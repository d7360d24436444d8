"""The saved state of a simulated cluster: one JSON file, rewritten on every change.

Why a writer thread ("group commit"): a whole-state write with fsync costs ~20 ms on an
ordinary disk. Done under the cluster's lock on every change, it stalled every RAPI answer
(job polling included) behind the disk and capped submissions at a few dozen per second. Here
a change only bumps a version number under the lock; the writer thread takes a snapshot (under
the lock: a JSON string, a few ms) and writes it outside the lock (temporary file, fsync,
rename: a crash leaves the old file or the new one, never half of one). Changes made while it
writes go into the next write, so a burst costs one fsync.

Who waits: ``submit`` waits until the write that holds its job is on disk before answering the
job id, so an id a client was given is never forgotten. The job thread does not wait (it must
not stall the other jobs): if the process is killed right after a job ended, the state on disk
still has it pending, and the next start fails it (see ``SimulatedCluster._load``). A clean stop
writes everything.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path
from typing import Callable

log = logging.getLogger(__name__)


class StateFile:
    def __init__(self, path: Path, snapshot: Callable[[], dict], lock: threading.RLock):
        self.path = Path(path)
        self._snapshot = snapshot  # called with ``lock`` held
        self._lock = lock
        self._dirty = threading.Condition(lock)
        self._saved = threading.Condition(lock)
        self._version = self._written = 0
        self._closing = False
        self._thread: threading.Thread | None = None

    def read(self) -> dict | None:
        return json.loads(self.path.read_text()) if self.path.exists() else None

    def start(self) -> None:
        """Write the current state now, then keep writing changes from a thread."""
        with self._lock:
            data = json.dumps(self._snapshot(), separators=(",", ":"))
        self._write(data)
        self._thread = threading.Thread(target=self._run, name=f"simulated-ganeti-state-{self.path.name}", daemon=True)
        self._thread.start()

    def changed(self) -> int:
        """Note a change (call with the lock held); returns its version for :meth:`wait`."""
        self._version += 1
        self._dirty.notify()
        return self._version

    def wait(self, version: int, timeout: float = 30.0) -> None:
        with self._lock:
            if not self._saved.wait_for(lambda: self._written >= version or self._thread is None, timeout):
                log.error("simulated cluster state: version %d not written after %.0f s", version, timeout)

    def close(self) -> None:
        """Write what is pending and stop the thread."""
        with self._lock:
            self._closing = True
            self._dirty.notify()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _run(self) -> None:
        while True:
            with self._lock:
                self._dirty.wait_for(lambda: self._version > self._written or self._closing)
                if self._version == self._written:  # closing, and nothing left to write
                    return
                version = self._version
                data = json.dumps(self._snapshot(), separators=(",", ":"))
            try:
                self._write(data)
            except OSError:  # disk full, permissions: say so, go on; the next change retries
                log.exception("simulated cluster state: cannot write %s", self.path)
            with self._lock:
                self._written = version
                self._saved.notify_all()

    def _write(self, data: str) -> None:
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
