"""``snf-vncauthproxy``: a VNC authentication proxy for server consoles (see docs/compute.md).

Cyclades asks it, over a control socket, to forward a new port to a server's VNC display with a
one-time password. The control protocol is one JSON line per connection:

    -> {"source_port": 0, "destination_address": "node1", "destination_port": 11000,
        "password": "8 chars", "console_type": "vnc", "auth_user": "...", "auth_password": "..."}
    <- {"status": "OK", "source_port": 25123, "proxy_address": "vnc.example.org"}
    <- {"status": "FAILED", "reason": "..."}

The forwarded port accepts ONE client within ``--connect-timeout`` seconds, then closes. The
client gets the RFB handshake with VNC authentication (security type 2: a DES-encrypted 16-byte
challenge); on success the proxy connects to the destination, does the client side of its
handshake (security type None, as Ganeti's KVM VNC server offers) and relays both ways.
``console_type`` "vnc-ws" / "vnc-wss" makes the port a WebSocket (binary frames; TLS with the
proxy's certificate for -wss) carrying the same RFB stream, for browser clients like noVNC.
"""

from __future__ import annotations

import argparse
import asyncio
import hmac
import json
import logging
import os
import random
import secrets
import ssl
import struct

import websockets
from cryptography.hazmat.primitives.ciphers import Cipher, modes
from websockets.asyncio.server import serve as websocket_serve

try:  # cryptography >= 43 keeps the old ciphers apart
    from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
except ImportError:  # pragma: no cover - older cryptography
    from cryptography.hazmat.primitives.ciphers.algorithms import TripleDES

log = logging.getLogger("snf-vncauthproxy")

RFB_VERSION = b"RFB 003.008\n"
SEC_NONE, SEC_VNC_AUTH = 1, 2
MAX_CONTROL_REQUEST = 64 * 1024
HANDSHAKE_TIMEOUT = 30  # seconds a VNC peer may take for each handshake step


CONSOLE_TYPES = ("vnc", "vnc-ws", "vnc-wss")


class HandshakeError(Exception):
    pass


class WebSocketStream:
    """A WebSocket's binary messages as one byte stream, with the StreamReader/StreamWriter
    methods the handshakes and the relay use."""

    def __init__(self, ws):
        self.ws, self.buffer, self.pending, self.closing = ws, bytearray(), [], None

    async def _fill(self) -> bool:
        try:
            message = await self.ws.recv()
        except websockets.ConnectionClosed:
            return False
        if not isinstance(message, bytes):
            raise ConnectionResetError("text WebSocket message; RFB needs binary ones")
        self.buffer += message
        return True

    async def readexactly(self, n: int) -> bytes:
        while len(self.buffer) < n:
            if not await self._fill():
                raise asyncio.IncompleteReadError(bytes(self.buffer), n)
        data = bytes(self.buffer[:n])
        del self.buffer[:n]
        return data

    async def read(self, n: int) -> bytes:
        if not self.buffer and not await self._fill():
            return b""
        data = bytes(self.buffer[:n])
        del self.buffer[:n]
        return data

    def write(self, data: bytes) -> None:
        self.pending.append(bytes(data))

    async def drain(self) -> None:
        data, self.pending = b"".join(self.pending), []
        try:
            await self.ws.send(data)
        except websockets.ConnectionClosed:
            raise ConnectionResetError("WebSocket closed") from None

    def close(self) -> None:
        self.closing = asyncio.ensure_future(self.ws.close())

    def get_extra_info(self, name: str):
        return {"peername": self.ws.remote_address, "sockname": self.ws.local_address}.get(name)


def vnc_des(password: str | bytes, challenge: bytes) -> bytes:
    """The client's answer to a VNC challenge: DES (ECB) keyed by the password's first 8 bytes,
    NUL-padded, each byte's bits reversed (VNC's quirk). TripleDES with K|K|K is DES."""
    raw = password.encode() if isinstance(password, str) else password
    key = bytes(int(f"{b:08b}"[::-1], 2) for b in raw[:8].ljust(8, b"\0"))
    encryptor = Cipher(TripleDES(key * 3), modes.ECB()).encryptor()
    return encryptor.update(challenge) + encryptor.finalize()


def _version(line: bytes) -> tuple[int, int]:
    if len(line) != 12 or not line.startswith(b"RFB ") or line[7:8] != b"." or line[11:] != b"\n":
        raise HandshakeError(f"not an RFB version: {line[:12]!r}")
    try:
        return int(line[4:7]), int(line[8:11])
    except ValueError:
        raise HandshakeError(f"not an RFB version: {line[:12]!r}") from None


def _minor(major: int, minor: int) -> int:
    """The protocol both sides speak: 3.8, 3.7, or 3.3 for anything older (as RFB says)."""
    return 8 if (major, minor) >= (3, 8) else 7 if (major, minor) >= (3, 7) else 3


async def _read(reader: asyncio.StreamReader, n: int) -> bytes:
    try:
        return await asyncio.wait_for(reader.readexactly(n), HANDSHAKE_TIMEOUT)
    except asyncio.IncompleteReadError:
        raise HandshakeError("peer closed the connection during the handshake") from None
    except asyncio.TimeoutError:
        raise HandshakeError("peer too slow during the handshake") from None


async def authenticate_client(reader, writer, password: str) -> None:
    """Server side of the RFB handshake toward the VNC client, with VNC authentication."""
    writer.write(RFB_VERSION)
    await writer.drain()
    major, minor = _version(await _read(reader, 12))
    minor = _minor(major, minor)
    if minor == 3:  # RFB 3.3: the server decides the security type
        writer.write(struct.pack("!I", SEC_VNC_AUTH))
    else:
        writer.write(bytes([1, SEC_VNC_AUTH]))
        await writer.drain()
        chosen = (await _read(reader, 1))[0]
        if chosen != SEC_VNC_AUTH:
            raise HandshakeError(f"client chose security type {chosen}, not VNC authentication")
    challenge = secrets.token_bytes(16)
    writer.write(challenge)
    await writer.drain()
    answer = await _read(reader, 16)
    if not hmac.compare_digest(answer, vnc_des(password, challenge)):
        writer.write(struct.pack("!I", 1))
        if minor >= 8:
            reason = b"Authentication failed"
            writer.write(struct.pack("!I", len(reason)) + reason)
        await writer.drain()
        raise HandshakeError("wrong password")
    writer.write(struct.pack("!I", 0))
    await writer.drain()


async def connect_server(address: str, port: int):
    """Client side of the RFB handshake toward the destination VNC server (security None)."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection(address, port), HANDSHAKE_TIMEOUT)
    try:
        major, minor = _version(await _read(reader, 12))
        minor = _minor(major, minor)
        writer.write(b"RFB 003.%03d\n" % minor)
        await writer.drain()
        if minor == 3:
            offered = list(struct.unpack("!I", await _read(reader, 4)))
        else:
            count = (await _read(reader, 1))[0]
            offered = list(await _read(reader, count)) if count else [0]
        if offered == [0]:
            length, = struct.unpack("!I", await _read(reader, 4))
            raise HandshakeError(f"VNC server refused: {(await _read(reader, min(length, 1024))).decode(errors='replace')}")
        if SEC_NONE not in offered:
            raise HandshakeError(f"VNC server offers no unauthenticated access (security types {offered})")
        if minor != 3:
            writer.write(bytes([SEC_NONE]))
            await writer.drain()
        if minor >= 8 and struct.unpack("!I", await _read(reader, 4))[0] != 0:
            raise HandshakeError("VNC server refused security type None")
    except BaseException:
        writer.close()
        raise
    return reader, writer


async def _pipe(reader, writer) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


class Proxy:
    def __init__(self, args):
        self.args = args
        self.ports = range(args.ports[0], args.ports[1] + 1)
        self.forwardings: dict[int, object] = {}  # port -> the callable that stops listening
        self.credentials = _read_credentials(args.credentials) if args.credentials else None
        self.tls = None
        if args.cert:
            self.tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            self.tls.load_cert_chain(args.cert, args.key)

    # -- control socket ------------------------------------------------------------------

    async def control(self, reader, writer) -> None:
        peer = writer.get_extra_info("peername")
        try:
            line = await asyncio.wait_for(reader.readline(), 10)
            if len(line) > MAX_CONTROL_REQUEST or not line.endswith(b"\n"):
                raise ValueError("a request is one JSON object on one line")
            answer = await self.forward(json.loads(line))
        except KeyError as exc:
            answer = {"status": "FAILED", "reason": f"bad request: missing {exc}"}
        except (ValueError, TypeError, RecursionError) as exc:
            answer = {"status": "FAILED", "reason": f"bad request: {exc}"}
        except (OSError, asyncio.TimeoutError) as exc:
            answer = {"status": "FAILED", "reason": str(exc) or "timeout"}
        if answer["status"] != "OK":
            log.warning("control request from %s refused: %s", peer, answer["reason"])
        try:
            writer.write(json.dumps(answer).encode() + b"\n")
            await writer.drain()
        except (ConnectionError, OSError):
            pass
        writer.close()

    async def forward(self, request: dict) -> dict:
        if not isinstance(request, dict):
            raise ValueError("the request must be a JSON object")
        if self.credentials is not None:
            user, password = request.get("auth_user"), request.get("auth_password")
            expected = self.credentials.get(user) if isinstance(user, str) else None
            if expected is None or not isinstance(password, str) or not hmac.compare_digest(password.encode(), expected.encode()):
                return {"status": "FAILED", "reason": "authentication failed"}
        address, port, password = request["destination_address"], request["destination_port"], request["password"]
        if not isinstance(address, str) or not address or not isinstance(port, int) or isinstance(port, bool) \
                or not 0 < port < 65536:
            raise ValueError("destination_address and destination_port must name a host and a TCP port")
        if not isinstance(password, str) or not password:
            raise ValueError("password must be a non-empty string")
        if request.get("source_port", 0) != 0:
            raise ValueError("source_port must be 0: the proxy picks the port")
        kind = request.get("console_type", "vnc")
        if kind not in CONSOLE_TYPES:
            raise ValueError(f"console_type must be one of {', '.join(CONSOLE_TYPES)}")
        if kind == "vnc-wss" and self.tls is None:
            return {"status": "FAILED", "reason": "vnc-wss needs the proxy's --cert and --key"}
        stop, source_port = await self._listen(kind, lambda r, w: self.serve(r, w, address, port, password))
        self.forwardings[source_port] = stop
        asyncio.get_running_loop().call_later(self.args.connect_timeout, self._expire, source_port, stop)
        log.info("forwarding %s %s:%d -> %s:%d for %ds", kind, self.args.listen_address, source_port, address, port,
                 self.args.connect_timeout)
        return {"status": "OK", "source_port": source_port,
                "proxy_address": self.args.public_address or self.args.listen_address}

    async def _listen(self, kind: str, handler):
        """Listen on a free port of the range; (a callable that stops listening, the port)."""
        candidates = [p for p in self.ports if p not in self.forwardings]
        random.shuffle(candidates)
        for port in candidates:
            try:
                if kind == "vnc":
                    server = await asyncio.start_server(handler, self.args.listen_address, port)
                    return server.close, port
                server = await websocket_serve(lambda ws: _over_websocket(ws, handler), self.args.listen_address, port,
                                               ssl=self.tls if kind == "vnc-wss" else None,
                                               select_subprotocol=_binary_subprotocol, compression=None)
                return lambda: server.close(close_connections=False), port
            except OSError:
                continue
        raise OSError("no free port left in the forwarding range")

    def _expire(self, source_port: int, stop) -> None:
        if self.forwardings.get(source_port) is stop:
            del self.forwardings[source_port]
            stop()
            log.info("forwarding on port %d expired unused", source_port)

    # -- one console session -------------------------------------------------------------

    async def serve(self, reader, writer, address, port, password) -> None:
        source_port = writer.get_extra_info("sockname")[1]
        stop = self.forwardings.pop(source_port, None)
        if stop is None:  # a second client raced in before the listener closed
            writer.close()
            return
        stop()  # one client per forwarding
        client = writer.get_extra_info("peername")
        try:
            await authenticate_client(reader, writer, password)
            dreader, dwriter = await connect_server(address, port)
        except (HandshakeError, OSError, asyncio.TimeoutError) as exc:
            log.warning("console on port %d from %s refused: %s", source_port, client, exc)
            writer.close()
            return
        log.info("console on port %d: %s connected to %s:%d", source_port, client, address, port)
        await asyncio.gather(_pipe(reader, dwriter), _pipe(dreader, writer))
        log.info("console on port %d: %s disconnected", source_port, client)


async def _over_websocket(ws, handler) -> None:
    stream = WebSocketStream(ws)
    await handler(stream, stream)


def _binary_subprotocol(connection, offered):
    """noVNC may offer "binary" (older ones also "base64", which we do not speak)."""
    return "binary" if "binary" in offered else None


def _read_credentials(path: str) -> dict[str, str]:
    """``user:password`` lines (``#`` comments) of the control socket's allowed callers."""
    users = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                user, sep, password = line.partition(":")
                if not sep:
                    raise SystemExit(f"{path}: a line is user:password")
                users[user] = password
    return users


def _port_range(text: str) -> tuple[int, int]:
    low, _, high = text.partition("-")
    low, high = int(low), int(high or low)
    if not 0 < low <= high < 65536:
        raise argparse.ArgumentTypeError("a port range is LOW-HIGH within 1-65535")
    return low, high


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="snf-vncauthproxy", description="VNC authentication proxy for server consoles")
    p.add_argument("--control-address", default="127.0.0.1", help="address of the control socket (127.0.0.1)")
    p.add_argument("--control-port", type=int, default=24999, help="port of the control socket (24999)")
    p.add_argument("--listen-address", default="0.0.0.0", help="address the forwarded ports listen on (0.0.0.0)")
    p.add_argument("--public-address", default=None,
                   help="address VNC clients reach the proxy at, returned to Cyclades (default: --listen-address)")
    p.add_argument("--ports", type=_port_range, default=(25000, 25999), help="forwarded ports range (25000-25999)")
    p.add_argument("--connect-timeout", type=int, default=30, help="seconds a forwarding waits for its client (30)")
    p.add_argument("--credentials", default=os.environ.get("VNCAUTHPROXY_CREDENTIALS"),
                   help="file of user:password lines; callers must send one (default: anyone may ask)")
    p.add_argument("--cert", help="TLS certificate (PEM) of the control socket and of vnc-wss ports; with --key, TLS is on")
    p.add_argument("--key", help="its private key (PEM)")
    p.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING, ERROR (INFO)")
    return p.parse_args(argv)


async def run(args) -> None:
    proxy = Proxy(args)
    context = proxy.tls
    server = await asyncio.start_server(proxy.control, args.control_address, args.control_port, ssl=context)
    log.info("control socket on %s:%d%s, forwarding ports %d-%d on %s", args.control_address, args.control_port,
             " (TLS)" if context else "", args.ports[0], args.ports[1], args.listen_address)
    if not args.public_address and args.listen_address in ("0.0.0.0", "::"):
        log.warning("no --public-address: Cyclades will tell users its own idea of this proxy's address")
    async with server:
        await server.serve_forever()


def main(argv=None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        asyncio.run(run(args))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
