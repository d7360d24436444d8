"""The NBD protocol (fixed newstyle handshake, simple replies), server side, plus the small
client that ``vlmc map`` uses to ask a server about an export before mapping it.

Handshake options: ``EXPORT_NAME``, ``INFO``, ``GO``, ``LIST``, ``ABORT`` (anything else is
answered "unsupported"). Commands: ``READ``, ``WRITE``, ``FLUSH``, ``DISC``, ``WRITE_ZEROES``
(FUA is honoured by flushing after the write). As NBD defines, a write is durable once a FLUSH
sent after its reply (or its own FUA) completed: the export's ``flush`` must make every write
it completed durable, and its writes need not be. Requests of one connection are read and answered
in order, so a client may pipeline them. No TLS, no structured replies, no multi-conn.

The server is given an ``opener(name)`` returning an export (``size``, ``readonly``, ``read``,
``write``, ``write_zeroes``, ``flush``; closed with ``release(export)``) and ``names()`` for
LIST. An exception while opening is answered with an error and its message: ``LookupError`` as
"unknown export", ``PermissionError`` as "policy" (e.g. the volume is locked by another host).
Errors of a command map to NBD errno values: ``ValueError`` EINVAL, ``PermissionError`` EPERM,
``OSError`` its errno when NBD knows it (ENOSPC ...), anything else EIO.
"""

from __future__ import annotations

import errno
import logging
import os
import socket
import struct

log = logging.getLogger("synnefo.archipelago.nbd")

NBDMAGIC = b"NBDMAGIC"
IHAVEOPT = 0x49484156454F5054
OPTION_REPLY_MAGIC = 0x3E889045565A9
REQUEST_MAGIC = 0x25609513
SIMPLE_REPLY_MAGIC = 0x67446698

# Handshake flags (server) and client flags
FLAG_FIXED_NEWSTYLE, FLAG_NO_ZEROES = 1, 2
# Options
OPT_EXPORT_NAME, OPT_ABORT, OPT_LIST, OPT_INFO, OPT_GO = 1, 2, 3, 6, 7
# Option replies
REP_ACK, REP_SERVER, REP_INFO = 1, 2, 3
REP_ERR_UNSUP, REP_ERR_POLICY, REP_ERR_INVALID = 2**31 + 1, 2**31 + 2, 2**31 + 3
REP_ERR_UNKNOWN, REP_ERR_SHUTDOWN = 2**31 + 6, 2**31 + 7
INFO_EXPORT, INFO_BLOCK_SIZE = 0, 3
# Transmission flags
TF_HAS_FLAGS, TF_READ_ONLY, TF_SEND_FLUSH, TF_SEND_FUA, TF_SEND_WRITE_ZEROES = 1, 2, 4, 8, 64
# Commands and their flags
CMD_READ, CMD_WRITE, CMD_DISC, CMD_FLUSH, CMD_TRIM, CMD_CACHE, CMD_WRITE_ZEROES = 0, 1, 2, 3, 4, 5, 6
CMD_FLAG_FUA = 1
# Errors NBD defines (others are sent as EIO)
NBD_ERRORS = {errno.EPERM, errno.EIO, errno.ENOMEM, errno.EINVAL, errno.ENOSPC, errno.EOVERFLOW,
              errno.ENOTSUP, errno.ESHUTDOWN}

MAX_REQUEST = 32 << 20  # bytes of one READ/WRITE (the block size info we announce says so)
REQUEST = struct.Struct(">IHHQQI")
OPTION = struct.Struct(">QII")
OPTION_REPLY = struct.Struct(">QIII")


class NBDError(Exception):
    """A refused option (client side: the server's message)."""


class Disconnect(Exception):
    pass


def recv_exactly(sock: socket.socket, count: int) -> bytes:
    buffer = bytearray(count)
    view, got = memoryview(buffer), 0
    while got < count:
        n = sock.recv_into(view[got:])
        if not n:
            raise Disconnect()
        got += n
    return bytes(buffer)


class Connection:
    """One client: handshake, then its requests in order."""

    def __init__(self, sock: socket.socket, opener, release, names):
        self.sock, self.opener, self.release, self.names = sock, opener, release, names
        self.no_zeroes = False

    def serve(self) -> None:
        export = None
        try:
            export = self.handshake()
            if export is not None:
                self.transmission(export)
        except Disconnect:
            pass
        finally:
            if export is not None:
                self.release(export)

    # Handshake ------------------------------------------------------------------------

    def option_reply(self, option: int, reply: int, data: bytes = b"") -> None:
        self.sock.sendall(OPTION_REPLY.pack(OPTION_REPLY_MAGIC, option, reply, len(data)) + data)

    def handshake(self):
        self.sock.sendall(NBDMAGIC + struct.pack(">QH", IHAVEOPT, FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES))
        (client_flags,) = struct.unpack(">I", recv_exactly(self.sock, 4))
        if not client_flags & FLAG_FIXED_NEWSTYLE:
            return None  # oldstyle-newstyle clients are not served
        self.no_zeroes = bool(client_flags & FLAG_NO_ZEROES)
        while True:
            magic, option, length = OPTION.unpack(recv_exactly(self.sock, OPTION.size))
            if magic != IHAVEOPT or length > 65536:
                return None
            data = recv_exactly(self.sock, length)
            if option == OPT_EXPORT_NAME:
                export = self.open(data.decode(errors="replace"))
                if isinstance(export, tuple):
                    return None  # this option has no way to say why: close
                self.sock.sendall(struct.pack(">QH", export.size, self.transmission_flags(export))
                                  + (b"" if self.no_zeroes else bytes(124)))
                return export
            if option == OPT_ABORT:
                self.option_reply(option, REP_ACK)
                return None
            if option == OPT_LIST:
                if data:
                    self.option_reply(option, REP_ERR_INVALID, b"LIST takes no data")
                    continue
                for name in self.names():
                    raw = name.encode()
                    self.option_reply(option, REP_SERVER, struct.pack(">I", len(raw)) + raw)
                self.option_reply(option, REP_ACK)
            elif option in (OPT_INFO, OPT_GO):
                export = self.info_or_go(option, data)
                if export is not None:
                    return export
            else:
                self.option_reply(option, REP_ERR_UNSUP, b"option not supported")

    def open(self, name: str):
        """The export, or (error reply, message)."""
        try:
            return self.opener(name)
        except LookupError as exc:
            return REP_ERR_UNKNOWN, str(exc.args[0] if exc.args else exc)
        except PermissionError as exc:
            return REP_ERR_POLICY, str(exc)
        except Exception as exc:  # a server-side failure: say it, keep serving others
            log.exception("opening export %r", name)
            return REP_ERR_INVALID, f"cannot open {name}: {exc}"

    def info_or_go(self, option: int, data: bytes):
        if len(data) < 6:
            self.option_reply(option, REP_ERR_INVALID, b"malformed request")
            return None
        (name_length,) = struct.unpack_from(">I", data)
        if len(data) < 4 + name_length + 2:
            self.option_reply(option, REP_ERR_INVALID, b"malformed request")
            return None
        name = data[4 : 4 + name_length].decode(errors="replace")
        export = self.open(name)
        if isinstance(export, tuple):
            self.option_reply(option, export[0], export[1].encode())
            return None
        self.option_reply(option, REP_INFO, struct.pack(">HQH", INFO_EXPORT, export.size, self.transmission_flags(export)))
        self.option_reply(option, REP_INFO, struct.pack(">HIII", INFO_BLOCK_SIZE, 1, 4096, MAX_REQUEST))
        self.option_reply(option, REP_ACK)
        if option == OPT_GO:
            return export
        self.release(export)
        return None

    @staticmethod
    def transmission_flags(export) -> int:
        flags = TF_HAS_FLAGS | TF_SEND_FLUSH | TF_SEND_FUA | TF_SEND_WRITE_ZEROES
        return flags | TF_READ_ONLY if export.readonly else flags

    # Transmission ---------------------------------------------------------------------

    def reply(self, handle: int, error: int = 0, data: bytes = b"") -> None:
        self.sock.sendall(struct.pack(">IIQ", SIMPLE_REPLY_MAGIC, error, handle) + data)

    def transmission(self, export) -> None:
        while True:
            magic, flags, command, handle, offset, length = REQUEST.unpack(recv_exactly(self.sock, REQUEST.size))
            if magic != REQUEST_MAGIC:
                log.warning("bad request magic %#x: closing", magic)
                return
            if command == CMD_WRITE and length > MAX_REQUEST:
                log.warning("write of %d bytes, more than the %d announced: closing", length, MAX_REQUEST)
                return  # its data cannot be skipped cheaply; the protocol allows closing
            payload = recv_exactly(self.sock, length) if command == CMD_WRITE else b""
            if command == CMD_DISC:
                return
            try:
                data = self.execute(export, command, flags, offset, length, payload)
            except Exception as exc:  # noqa: BLE001 - every failure becomes an NBD error
                code = error_code(exc)
                if code == errno.EIO:
                    log.exception("command %d at %d+%d", command, offset, length)
                else:
                    log.info("command %d at %d+%d refused: %s", command, offset, length, exc)
                self.reply(handle, code)
                continue
            self.reply(handle, 0, data)

    @staticmethod
    def execute(export, command: int, flags: int, offset: int, length: int, payload: bytes) -> bytes:
        if command in (CMD_READ, CMD_WRITE, CMD_WRITE_ZEROES, CMD_CACHE) and (
            offset + length > export.size or length > MAX_REQUEST and command != CMD_WRITE_ZEROES
        ):
            raise OSError(errno.ENOSPC if command != CMD_READ else errno.EINVAL,
                          f"{length} bytes at {offset}: beyond the end ({export.size} bytes) or too long")
        if command == CMD_READ:
            return export.read(offset, length)
        if command in (CMD_WRITE, CMD_WRITE_ZEROES, CMD_TRIM) and export.readonly:
            raise PermissionError("read-only export")
        if command == CMD_WRITE:
            export.write(offset, payload)
        elif command == CMD_WRITE_ZEROES:
            export.write_zeroes(offset, length)
        elif command == CMD_FLUSH:
            export.flush()
            return b""
        elif command == CMD_CACHE:
            return b""
        else:
            raise OSError(errno.EINVAL, f"command {command} not supported")
        if flags & CMD_FLAG_FUA:
            export.flush()
        return b""


def error_code(exc: BaseException) -> int:
    if isinstance(exc, PermissionError):
        return errno.EPERM
    if isinstance(exc, OSError) and exc.errno in NBD_ERRORS:
        return exc.errno
    if isinstance(exc, ValueError):
        return errno.EINVAL
    return errno.EIO


# Client side: vlmc map's check before mapping, tests and the bench ---------------------------


class Client:
    """A minimal client on a Unix socket: ``info(name)`` (NBD_OPT_INFO), ``go(name)`` then
    ``read``/``write``/``flush`` (or ``send``/``receive`` to pipeline), ``close``."""

    def __init__(self, path: str, timeout: float | None = 30.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.path, self.size, self.readonly, self.handle, self.transmitting = path, None, None, 0, False
        greeting = recv_exactly(self.sock, 18)
        if greeting[:8] != NBDMAGIC or struct.unpack(">Q", greeting[8:16])[0] != IHAVEOPT:
            raise NBDError(f"{path}: not a newstyle NBD server")
        self.sock.sendall(struct.pack(">I", FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES))

    def _option(self, option: int, name: str) -> None:
        raw = name.encode()
        data = struct.pack(">I", len(raw)) + raw + struct.pack(">H", 0)
        self.sock.sendall(OPTION.pack(IHAVEOPT, option, len(data)) + data)
        while True:
            _, _, reply, length = OPTION_REPLY.unpack(recv_exactly(self.sock, OPTION_REPLY.size))
            body = recv_exactly(self.sock, length)
            if reply == REP_ACK:
                break
            if reply >= 2**31:
                raise NBDError(body.decode(errors="replace") or f"server refused {name} (error {reply - 2**31})")
            if reply == REP_INFO and struct.unpack_from(">H", body)[0] == INFO_EXPORT:
                _, self.size, flags = struct.unpack(">HQH", body)
                self.readonly = bool(flags & TF_READ_ONLY)
        if self.size is None:
            raise NBDError(f"server gave no size for {name}")

    def info(self, name: str) -> tuple[int, bool]:
        """(size, read-only) of export ``name``; the connection stays in the handshake."""
        self._option(OPT_INFO, name)
        return self.size, self.readonly

    def go(self, name: str) -> Client:
        self._option(OPT_GO, name)
        self.transmitting = True
        return self

    def send(self, command: int, offset: int = 0, length: int = 0, data: bytes = b"", flags: int = 0) -> int:
        self.handle += 1
        if command == CMD_WRITE:
            length = len(data)
        self.sock.sendall(REQUEST.pack(REQUEST_MAGIC, flags, command, self.handle, offset, length) + data)
        return self.handle

    def receive(self, length: int = 0) -> tuple[int, int, bytes]:
        """(handle, error, data): ``length`` is the data a successful READ carries."""
        magic, error, handle = struct.unpack(">IIQ", recv_exactly(self.sock, 16))
        if magic != SIMPLE_REPLY_MAGIC:
            raise NBDError(f"bad reply magic {magic:#x}")
        return handle, error, recv_exactly(self.sock, length) if length and not error else b""

    def _call(self, command: int, offset: int = 0, length: int = 0, data: bytes = b"", flags: int = 0) -> bytes:
        self.send(command, offset, length, data, flags)
        _, error, body = self.receive(length if command == CMD_READ else 0)
        if error:
            raise OSError(error, f"{os.strerror(error)} (NBD command {command} at {offset}+{length or len(data)})")
        return body

    def read(self, offset: int, length: int) -> bytes:
        return self._call(CMD_READ, offset, length)

    def write(self, offset: int, data: bytes, fua: bool = False) -> None:
        self._call(CMD_WRITE, offset, data=data, flags=CMD_FLAG_FUA if fua else 0)

    def write_zeroes(self, offset: int, length: int) -> None:
        self._call(CMD_WRITE_ZEROES, offset, length)

    def flush(self) -> None:
        self._call(CMD_FLUSH)

    def close(self) -> None:
        try:
            if self.transmitting:
                self.send(CMD_DISC)
            else:
                self.sock.sendall(OPTION.pack(IHAVEOPT, OPT_ABORT, 0))
        except OSError:
            pass
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
