"""``vlmcd``: the volume server. Serves the volumes of the store over NBD on the Unix socket
``<RUN_DIR>/vlmcd.sock`` (nowhere else), the export name being the volume's name.

While a client has a volume open, vlmcd holds the volume's lock as ``<host>/vlmcd`` (a volume
locked by anyone else is refused with an NBD "policy" error naming the holder) and keeps its
map in memory and its object files open (``store.OpenVolume``); writes are durable at the
client's FLUSH or FUA, as NBD defines; the last client to disconnect closes it (flush, release).
Snapshots are served read-only, without a lock. SIGTERM/SIGINT: stop accepting, let each
connection finish the request it is executing (a connection still busy after ``STOP_GRACE``
seconds is closed), close the volumes (flush, release the locks).

Run by ``archipelago start`` (see docs/volumes.md), or by hand: ``python -m
synnefo.archipelago.peers vlmcd -c /etc/default/archipelago --log -``.
"""

from __future__ import annotations

import logging
import os
import resource
import socket
import socketserver
import threading
from pathlib import Path

from synnefo.archipelago import nbd
from synnefo.archipelago.locks import DEVICE_DAEMON, LockError, default_owner
from synnefo.archipelago.store import OpenVolume, VolumeError, VolumeStore

log = logging.getLogger("synnefo.archipelago.vlmcd")

STOP_GRACE = 10.0  # seconds a connection may take to finish its request when vlmcd stops


def socket_path(config) -> Path:
    return config.run_dir / f"{DEVICE_DAEMON}.sock"


class Exports:
    """The open volumes, shared by the connections that use them (counted)."""

    def __init__(self, store: VolumeStore):
        self.store = store
        self.lock = threading.Lock()
        self.open: dict[str, tuple[OpenVolume, int]] = {}

    def names(self) -> list[str]:
        return self.store.names()

    def acquire(self, name: str) -> OpenVolume:
        if not self.store.exists(name):
            raise LookupError(f"no such volume or snapshot: {name}")
        with self.lock:
            if name in self.open:
                volume, count = self.open[name]
                self.open[name] = (volume, count + 1)
                return volume
            try:
                volume = OpenVolume(self.store, name)
            except LockError as exc:
                raise PermissionError(str(exc)) from None
            except VolumeError as exc:
                raise LookupError(str(exc)) from None
            self.open[name] = (volume, 1)
            log.info("opened %s (%d bytes%s)", name, volume.size, ", read-only" if volume.readonly else "")
            return volume

    def release(self, volume: OpenVolume) -> None:
        with self.lock:
            _, count = self.open[volume.name]
            if count > 1:
                self.open[volume.name] = (volume, count - 1)
                return
            del self.open[volume.name]
            volume.close()
        log.info("closed %s", volume.name)

    def close_all(self) -> None:
        with self.lock:
            volumes = [volume for volume, _ in self.open.values()]
            self.open.clear()
        for volume in volumes:
            volume.close()
            log.info("closed %s", volume.name)


class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = False  # stop() joins them: in-flight requests finish
    block_on_close = True

    def __init__(self, path: Path, exports: Exports):
        self.exports = exports
        # The open connections, from their accept (not from their thread's start: one accepted
        # just before stop() must be ended too) to their close.
        self.connections: set[socket.socket] = set()
        self.idle = threading.Condition()
        super().__init__(str(path), Handler)
        os.chmod(path, 0o600)

    def process_request(self, request, client_address):
        with self.idle:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        super().shutdown_request(request)
        with self.idle:
            self.connections.discard(request)
            self.idle.notify_all()

    def _shut(self, how: int) -> None:
        for sock in self.connections:
            try:
                sock.shutdown(how)
            except OSError:
                pass

    def stop(self, grace: float | None = None) -> None:
        """Stop accepting, end each connection after its current request (closing those still
        busy after ``grace`` seconds), close the volumes."""
        grace = STOP_GRACE if grace is None else grace
        self.shutdown()
        with self.idle:
            self._shut(socket.SHUT_RD)  # its next read ends the connection
            if not self.idle.wait_for(lambda: not self.connections, timeout=grace):
                log.warning("%d connections still busy after %.0f s: closing them", len(self.connections), grace)
                self._shut(socket.SHUT_RDWR)
        self.server_close()  # joins the connection threads
        self.exports.close_all()


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        server: Server = self.server
        try:
            nbd.Connection(self.request, server.exports.acquire, server.exports.release, server.exports.names).serve()
        except OSError as exc:
            log.debug("connection ended: %s", exc)


def listen(config, store: VolumeStore | None = None) -> Server:
    """Bind the socket (replacing a stale one; refusing if a vlmcd answers on it)."""
    path = socket_path(config)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(str(path))
            raise RuntimeError(f"a vlmcd already serves {path}")
        except (ConnectionRefusedError, FileNotFoundError):
            path.unlink(missing_ok=True)
        finally:
            probe.close()
    store = store or VolumeStore(config, default_owner(DEVICE_DAEMON))
    return Server(path, Exports(store))


def raise_open_files_limit() -> None:
    """Each open volume keeps up to ``OpenVolume.MAX_OPEN_OBJECTS`` object files open: lift the
    soft limit on descriptors (1024 on many systems) to the hard one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == hard:
        return
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError) as exc:  # e.g. an unlimited hard limit above the kernel's nr_open
        log.warning("keeping the limit of %d open files (%s)", soft, exc)


def serve(config, stopping: threading.Event) -> None:
    """The peer's work (see ``peers.run``): serve until ``stopping`` is set."""
    raise_open_files_limit()
    server = listen(config)
    log.info("serving volumes on %s as %s", socket_path(config), server.exports.store.owner)
    thread = threading.Thread(target=server.serve_forever, name="vlmcd-accept")
    thread.start()
    try:
        stopping.wait()
    finally:
        server.stop()
        thread.join()
        socket_path(config).unlink(missing_ok=True)
        log.info("stopped")

