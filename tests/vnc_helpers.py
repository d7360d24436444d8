"""Real VNC software for the console tests: Debian's x11vnc on an Xvfb display (installed with
apt-get when missing and root), snf-vncauthproxy as its own process, and a minimal RFB client
that does VNC authentication and reads the ServerInit (framebuffer size and desktop name)."""

import contextlib
import datetime
import ipaddress
import json
import os
import shutil
import socket
import ssl
import struct
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from synnefo.cyclades.vncauthproxy import vnc_des
from tests.live import free_port
from tests.services import require

SRC = Path(__file__).resolve().parent.parent / "src"
WIDTH, HEIGHT, DESKTOP = 640, 480, "synnefo-console-test"
PASSWORD = "vncpass1"  # of the x11vnc that asks for one itself (the DES check against real VNC)


class RfbRefused(Exception):
    pass


class SocketTransport:
    def __init__(self, host, port, timeout):
        self.sock = socket.create_connection((host, port), timeout=timeout)

    def recv(self, n):
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise RfbRefused(f"connection closed after {len(data)} of {n} bytes")
            data += chunk
        return data

    def send(self, data):
        self.sock.sendall(data)

    def close(self):
        self.sock.close()


class WebSocketTransport:
    """RFB over a WebSocket (binary messages), as noVNC speaks it; the websockets library."""

    def __init__(self, url, timeout, ssl_context=None):
        from websockets.sync.client import connect

        self.stack = contextlib.ExitStack()
        self.ws = self.stack.enter_context(connect(url, open_timeout=timeout, ssl=ssl_context, subprotocols=["binary"],
                                                   compression=None))
        self.timeout, self.buffer = timeout, b""

    def recv(self, n):
        from websockets.exceptions import ConnectionClosed

        while len(self.buffer) < n:
            try:
                self.buffer += self.ws.recv(timeout=self.timeout)
            except ConnectionClosed:
                raise RfbRefused(f"WebSocket closed after {len(self.buffer)} of {n} bytes") from None
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def send(self, data):
        self.ws.send(data)

    def close(self):
        self.stack.close()


def rfb_connect(host, port, password=None, timeout=10.0, minor=8, websocket=None, ssl_context=None):
    """Connect as a VNC client speaking RFB 3.<minor> (3, 7 or 8), over TCP or, with
    ``websocket`` "ws"/"wss", over a WebSocket; the ServerInit's (width, height, name), after
    a framebuffer update was asked for and began to arrive."""
    if websocket:
        conn = WebSocketTransport(f"{websocket}://{host}:{port}/", timeout, ssl_context)
    else:
        conn = SocketTransport(host, port, timeout)
    try:
        return _rfb_session(conn, password, minor)
    finally:
        conn.close()


def _rfb_session(conn, password, minor):
    version = conn.recv(12)
    assert version.startswith(b"RFB 003."), version
    conn.send(b"RFB 003.%03d\n" % minor)
    if minor == 3:  # the server decides
        types = struct.unpack("!I", conn.recv(4))
        if types == (0,):
            raise RfbRefused(conn.recv(struct.unpack("!I", conn.recv(4))[0]).decode())
    else:
        count = conn.recv(1)[0]
        if count == 0:
            raise RfbRefused(conn.recv(struct.unpack("!I", conn.recv(4))[0]).decode())
        types = conn.recv(count)
    if password is None:
        assert 1 in types, types
        if minor != 3:
            conn.send(b"\x01")
    else:
        assert 2 in types, types
        if minor != 3:
            conn.send(b"\x02")
        conn.send(vnc_des(password, conn.recv(16)))
    if (password is not None or minor == 8) and struct.unpack("!I", conn.recv(4))[0] != 0:
        raise RfbRefused(conn.recv(struct.unpack("!I", conn.recv(4))[0]).decode() if minor == 8 else "failed")
    conn.send(b"\x01")  # ClientInit: shared
    width, height = struct.unpack("!HH", conn.recv(4))
    conn.recv(16)  # pixel format
    name = conn.recv(struct.unpack("!I", conn.recv(4))[0]).decode()
    # Traffic both ways after the handshake: ask for the whole screen, get a FramebufferUpdate.
    conn.send(struct.pack("!BBHHHH", 3, 0, 0, 0, width, height))
    message_type, _, rectangles = struct.unpack("!BBH", conn.recv(4))
    assert message_type == 0 and rectangles >= 1, (message_type, rectangles)
    return width, height, name


def _wait_port(port, proc, what, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.1)
    return False


def _ensure_packages():
    if shutil.which("x11vnc") and shutil.which("Xvfb"):
        return
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        cmd = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "x11vnc", "xvfb"]
        if subprocess.run(cmd, env=env, capture_output=True, timeout=900).returncode != 0:
            subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, timeout=600)
            subprocess.run(cmd, env=env, capture_output=True, timeout=900)
    require(bool(shutil.which("x11vnc") and shutil.which("Xvfb")),
            "the console tests need Debian's x11vnc and xvfb (apt-get install x11vnc xvfb, as root)")


@dataclass
class VncServers:
    open_port: int  # no authentication, as Ganeti's KVM VNC
    password_port: int  # asks for PASSWORD itself


def _start(procs, cmd, env=None):
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    procs.append(proc)
    return proc


@pytest.fixture(scope="session")
def vnc_servers():
    _ensure_packages()
    procs = []
    display = next(n for n in range(77, 300) if not os.path.exists(f"/tmp/.X11-unix/X{n}") and not os.path.exists(f"/tmp/.X{n}-lock"))
    xvfb = _start(procs, ["Xvfb", f":{display}", "-screen", "0", f"{WIDTH}x{HEIGHT}x24", "-nolisten", "tcp"])
    env = dict(os.environ, DISPLAY=f":{display}")
    try:
        deadline = time.monotonic() + 30
        while not os.path.exists(f"/tmp/.X11-unix/X{display}") and xvfb.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        servers = VncServers(free_port(), free_port())
        common = ["x11vnc", "-display", f":{display}", "-localhost", "-forever", "-shared", "-desktop", DESKTOP, "-quiet"]
        open_vnc = _start(procs, common + ["-rfbport", str(servers.open_port), "-nopw"], env)
        auth_vnc = _start(procs, common + ["-rfbport", str(servers.password_port), "-passwd", PASSWORD], env)
        up = _wait_port(servers.open_port, open_vnc, "x11vnc") and _wait_port(servers.password_port, auth_vnc, "x11vnc")
        require(up, "x11vnc on an Xvfb display did not start")
        yield servers
    finally:
        for proc in reversed(procs):
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


@dataclass
class ProxyProcess:
    control_port: int
    ports: tuple
    credentials: tuple
    log: Path
    ca_cert: str | None = None

    def logged(self, text, timeout=10.0):
        """Whether the proxy's log shows ``text`` (it writes it right after answering the client)."""
        deadline = time.monotonic() + timeout
        while text not in self.log.read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        return text in self.log.read_text()

    def request(self, **fields):
        body = {"source_port": 0, "auth_user": self.credentials[0], "auth_password": self.credentials[1]}
        body.update(fields)
        sock = socket.create_connection(("127.0.0.1", self.control_port), timeout=10)
        if self.ca_cert:
            sock = ssl.create_default_context(cafile=self.ca_cert).wrap_socket(sock, server_hostname="127.0.0.1")
        with sock:
            sock.sendall(json.dumps(body).encode() + b"\n")
            return json.loads(sock.makefile("rb").readline())


def self_signed(directory: Path) -> tuple[str, str]:
    """A certificate for 127.0.0.1 (its own CA) and its key, as PEM files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = directory / "proxy.crt", directory / "proxy.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_file), str(key_file)


@contextlib.contextmanager
def running_proxy(directory: Path, tls: bool = False, ports: int = 10):
    """snf-vncauthproxy in its own process, on a free control port, with a 2 s connect timeout."""
    credentials = ("cyclades", "control-secret")
    (directory / "users").write_text(f"# callers\n{credentials[0]}:{credentials[1]}\n")
    control = free_port()
    low = 20000 + (os.getpid() * 37 + control) % 40000
    span = (low, low + ports - 1)
    log = directory / "proxy.log"
    cmd = [sys.executable, "-m", "synnefo.cyclades.vncauthproxy", "--control-port", str(control),
           "--listen-address", "127.0.0.1", "--ports", f"{span[0]}-{span[1]}", "--connect-timeout", "2",
           "--credentials", str(directory / "users"), "--log-level", "DEBUG"]
    cert = None
    if tls:
        cert, key = self_signed(directory)
        cmd += ["--cert", cert, "--key", key]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(SRC)] + sys.path))
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        assert _wait_port(control, proc, "snf-vncauthproxy"), log.read_text()
        yield ProxyProcess(control, span, credentials, log, cert)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def vncauthproxy(tmp_path):
    with running_proxy(tmp_path) as proxy:
        yield proxy


@pytest.fixture
def vncauthproxy_tls(tmp_path):
    with running_proxy(tmp_path, tls=True) as proxy:
        yield proxy


