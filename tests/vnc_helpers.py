"""Real VNC software for the console tests: Debian's x11vnc on an Xvfb display (installed with
apt-get when missing and root), snf-vncauthproxy as its own process, and a minimal RFB client
that does VNC authentication and reads the ServerInit (framebuffer size and desktop name)."""

import os
import shutil
import socket
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


def _recv(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise RfbRefused(f"connection closed after {len(data)} of {n} bytes")
        data += chunk
    return data


def rfb_connect(host, port, password=None, timeout=10.0):
    """Connect as a VNC client (RFB 3.8); the ServerInit's (width, height, name)."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        version = _recv(sock, 12)
        assert version.startswith(b"RFB 003."), version
        sock.sendall(b"RFB 003.008\n")
        count = _recv(sock, 1)[0]
        if count == 0:
            raise RfbRefused(_recv(sock, struct.unpack("!I", _recv(sock, 4))[0]).decode())
        types = _recv(sock, count)
        if password is None:
            assert 1 in types, types
            sock.sendall(b"\x01")
        else:
            assert 2 in types, types
            sock.sendall(b"\x02")
            sock.sendall(vnc_des(password, _recv(sock, 16)))
        if struct.unpack("!I", _recv(sock, 4))[0] != 0:
            raise RfbRefused(_recv(sock, struct.unpack("!I", _recv(sock, 4))[0]).decode())
        sock.sendall(b"\x01")  # ClientInit: shared
        width, height = struct.unpack("!HH", _recv(sock, 4))
        _recv(sock, 16)  # pixel format
        name = _recv(sock, struct.unpack("!I", _recv(sock, 4))[0]).decode()
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

    def logged(self, text, timeout=10.0):
        """Whether the proxy's log shows ``text`` (it writes it right after answering the client)."""
        deadline = time.monotonic() + timeout
        while text not in self.log.read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        return text in self.log.read_text()

    def request(self, **fields):
        import json

        body = {"source_port": 0, "auth_user": self.credentials[0], "auth_password": self.credentials[1]}
        body.update(fields)
        with socket.create_connection(("127.0.0.1", self.control_port), timeout=10) as sock:
            sock.sendall(json.dumps(body).encode() + b"\n")
            return json.loads(sock.makefile("rb").readline())


@pytest.fixture
def vncauthproxy(tmp_path):
    """snf-vncauthproxy in its own process, on a free control port, with a 2 s connect timeout."""
    credentials = ("cyclades", "control-secret")
    (tmp_path / "users").write_text(f"# callers\n{credentials[0]}:{credentials[1]}\n")
    control = free_port()
    low = 20000 + (os.getpid() * 37 + control) % 40000
    ports = (low, low + 9)
    log = tmp_path / "proxy.log"
    cmd = [sys.executable, "-m", "synnefo.cyclades.vncauthproxy", "--control-port", str(control),
           "--listen-address", "127.0.0.1", "--ports", f"{ports[0]}-{ports[1]}", "--connect-timeout", "2",
           "--credentials", str(tmp_path / "users"), "--log-level", "DEBUG"]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(SRC)] + sys.path))
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        assert _wait_port(control, proc, "snf-vncauthproxy"), log.read_text()
        yield ProxyProcess(control, ports, credentials, log)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


__all__ = ["vnc_servers", "vncauthproxy", "rfb_connect", "RfbRefused"]
