"""``vlmcd``: the volume server. Serves the volumes of the store over NBD on the Unix socket
``<RUN_DIR>/vlmcd.sock`` (nowhere else), the export name being the volume's name.

While a client has a volume open, vlmcd holds the volume's lock as ``<host>/vlmcd`` (a volume
locked by anyone else is refused with an NBD "policy" error naming the holder) and keeps its
map in memory (``store.OpenVolume``); the last client to disconnect closes it (flush, release).
Snapshots are served read-only, without a lock. SIGTERM/SIGINT: stop accepting, let each
connection finish the request it is executing, close the volumes (flush, release the locks).

Run by ``archipelago start`` (see docs/volumes.md), or by hand: ``python -m
synnefo.archipelago.peers vlmcd -c /etc/default/archipelago --log -``.
"""

from __future__ import annotations

import logging
import os
import socket
import socketserver
import threading
from pathlib import Path

from synnefo.archipelago import nbd
from synnefo.archipelago.locks import DEVICE_DAEMON, LockError, default_owner
from synnefo.archipelago.store import OpenVolume, VolumeError, VolumeStore

log = logging.getLogger("synnefo.archipelago.vlmcd")


def socket_path(config) -> Path:
    return config.run_dir / f"{DEVICE_DAEMON}.sock"


class Exports:
    """The open volumes, shared by the connections that use them (counted)."""

    def __init__(self, store: VolumeStore):
        self.store = store
        self.lock = threading.Lock()
        self.open: dict[str, tuple[OpenVolume, int]] = {}

    def names(self) -> list[str]:
        return [name for name, _ in self.store.list()]

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
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(str(path), Handler)
        os.chmod(path, 0o600)

    def stop(self) -> None:
        """Stop accepting, end each connection after its current request, close the volumes."""
        self.shutdown()
        with self.connections_lock:
            for sock in self.connections:
                try:
                    sock.shutdown(socket.SHUT_RD)  # its next read ends the connection
                except OSError:
                    pass
        self.server_close()  # joins the connection threads
        self.exports.close_all()


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        server: Server = self.server
        with server.connections_lock:
            server.connections.add(self.request)
        try:
            nbd.Connection(self.request, server.exports.acquire, server.exports.release, server.exports.names).serve()
        except OSError as exc:
            log.debug("connection ended: %s", exc)
        finally:
            with server.connections_lock:
                server.connections.discard(self.request)


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


def serve(config, stopping: threading.Event) -> None:
    """The peer's work (see ``peers.run``): serve until ``stopping`` is set."""
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

