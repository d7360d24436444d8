"""snf-vncauthproxy end to end with real VNC software: x11vnc on Xvfb behind the proxy, a real
RFB client in front; VNC authentication, one use per forwarding, expiry, bad control requests."""

import socket

import pytest

from synnefo.cyclades.vncauthproxy import vnc_des
from tests.vnc_helpers import (DESKTOP, HEIGHT, PASSWORD, WIDTH, RfbRefused, rfb_connect, vnc_servers,  # noqa: F401
                               vncauthproxy, vncauthproxy_tls)


def test_vnc_des_matches_a_real_vnc_server(vnc_servers):
    # x11vnc checks the answer itself: our DES (bit-reversed key bytes) is VNC's.
    assert rfb_connect("127.0.0.1", vnc_servers.password_port, PASSWORD) == (WIDTH, HEIGHT, DESKTOP)
    with pytest.raises(RfbRefused):
        rfb_connect("127.0.0.1", vnc_servers.password_port, "wrong-pw")
    # Only the first 8 bytes of a password count, as in every VNC implementation.
    assert vnc_des("abcdefgh", bytes(16)) == vnc_des("abcdefghXYZ", bytes(16)) != vnc_des("abcdefgX", bytes(16))


def test_forwarding_through_the_proxy(vnc_servers, vncauthproxy):
    answer = vncauthproxy.request(destination_address="127.0.0.1", destination_port=vnc_servers.open_port,
                                  password="s3cret!!")
    assert answer["status"] == "OK" and answer["proxy_address"] == "127.0.0.1"
    port = answer["source_port"]
    assert vncauthproxy.ports[0] <= port <= vncauthproxy.ports[1]
    # The ServerInit of x11vnc arrives through the proxy.
    assert rfb_connect("127.0.0.1", port, "s3cret!!") == (WIDTH, HEIGHT, DESKTOP)
    # Used once: the port is gone.
    with pytest.raises(OSError):
        rfb_connect("127.0.0.1", port, "s3cret!!")
    assert vncauthproxy.logged("disconnected")
    assert "s3cret" not in vncauthproxy.log.read_text()  # no secrets in the log
    assert "control-secret" not in vncauthproxy.log.read_text()


def test_wrong_password_is_refused_and_the_forwarding_is_spent(vnc_servers, vncauthproxy):
    port = vncauthproxy.request(destination_address="127.0.0.1", destination_port=vnc_servers.open_port,
                                password="right-pw")["source_port"]
    with pytest.raises(RfbRefused, match="Authentication failed"):
        rfb_connect("127.0.0.1", port, "wrong-pw")
    with pytest.raises(OSError):
        rfb_connect("127.0.0.1", port, "right-pw")
    assert vncauthproxy.logged("wrong password")


def test_unused_forwarding_expires(vnc_servers, vncauthproxy):
    port = vncauthproxy.request(destination_address="127.0.0.1", destination_port=vnc_servers.open_port,
                                password="pw")["source_port"]
    # The proxy runs with a 2 s connect timeout; nobody connects (a probe would use it up).
    assert vncauthproxy.logged("expired unused", timeout=30)
    with pytest.raises(OSError):
        rfb_connect("127.0.0.1", port, "pw")


def test_a_destination_that_is_not_a_vnc_server(vncauthproxy):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        dead_port = closed.getsockname()[1]
    port = vncauthproxy.request(destination_address="127.0.0.1", destination_port=dead_port, password="pw")["source_port"]
    with pytest.raises((RfbRefused, OSError)):
        rfb_connect("127.0.0.1", port, "pw")  # authenticated, then the proxy cannot reach the server


@pytest.mark.parametrize("fields, reason", [
    ({"auth_password": "nope"}, "authentication failed"),
    ({"auth_user": "mallory"}, "authentication failed"),
    ({"destination_port": 0}, "bad request"),
    ({"destination_port": "5900"}, "bad request"),
    ({"destination_port": True}, "bad request"),
    ({"destination_address": ""}, "bad request"),
    ({"password": ""}, "bad request"),
    ({"source_port": 5900}, "bad request"),
])
def test_bad_control_requests(vncauthproxy, fields, reason):
    body = {"destination_address": "127.0.0.1", "destination_port": 5900, "password": "pw"}
    body.update(fields)
    answer = vncauthproxy.request(**body)
    assert answer["status"] == "FAILED" and reason in answer["reason"] and "source_port" not in answer


def test_garbage_on_the_control_socket(vncauthproxy):
    import json

    for garbage in (b"not json\n", b"[1, 2]\n", b'{"destination_address": "x"}\n', b"\xff\xfe\n",
                    b"[" * 100000 + b"\n", b"no newline"):
        with socket.create_connection(("127.0.0.1", vncauthproxy.control_port), timeout=10) as sock:
            sock.sendall(garbage)
            sock.shutdown(socket.SHUT_WR)
            answer = json.loads(sock.makefile("rb").readline())
        assert answer["status"] == "FAILED"


@pytest.mark.parametrize("minor", [3, 7])
def test_older_rfb_clients(vnc_servers, vncauthproxy, minor):
    port = vncauthproxy.request(destination_address="127.0.0.1", destination_port=vnc_servers.open_port,
                                password="old-vnc!")["source_port"]
    assert rfb_connect("127.0.0.1", port, "old-vnc!", minor=minor) == (WIDTH, HEIGHT, DESKTOP)


def test_not_a_vnc_client(vnc_servers, vncauthproxy):
    port = vncauthproxy.request(destination_address="127.0.0.1", destination_port=vnc_servers.open_port,
                                password="pw")["source_port"]
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
        received = b""
        while chunk := sock.recv(4096):  # the proxy's greeting, then it hangs up
            received += chunk
    assert received == b"RFB 003.008\n"
    assert vncauthproxy.logged("not an RFB version")
    with pytest.raises(OSError):
        rfb_connect("127.0.0.1", port, "pw")


def test_port_range_exhausted(vnc_servers, vncauthproxy):
    span = vncauthproxy.ports[1] - vncauthproxy.ports[0] + 1
    answers = [vncauthproxy.request(destination_address="127.0.0.1", destination_port=vnc_servers.open_port,
                                    password="pw") for _ in range(span + 1)]
    ok = [a["source_port"] for a in answers if a["status"] == "OK"]
    assert len(set(ok)) == len(ok) and len(ok) <= span  # a port a stranger holds is skipped
    assert answers[-1] == {"status": "FAILED", "reason": "no free port left in the forwarding range"}


def test_tls_control_socket(vnc_servers, vncauthproxy_tls):
    answer = vncauthproxy_tls.request(destination_address="127.0.0.1", destination_port=vnc_servers.open_port,
                                      password="tls-pw")
    assert answer["status"] == "OK"
    assert rfb_connect("127.0.0.1", answer["source_port"], "tls-pw") == (WIDTH, HEIGHT, DESKTOP)
    with socket.create_connection(("127.0.0.1", vncauthproxy_tls.control_port), timeout=10) as sock:
        sock.sendall(b'{"destination_address": "127.0.0.1", "destination_port": 5900, "password": "pw"}\n')
        try:
            received = sock.recv(4096)
        except OSError:  # reset: as good a refusal
            received = b""
        assert b"source_port" not in received  # plain text gets nothing from a TLS socket


def test_websocket_forwardings(vnc_servers, vncauthproxy_tls):
    import ssl

    proxy = vncauthproxy_tls
    answer = proxy.request(destination_address="127.0.0.1", destination_port=vnc_servers.open_port,
                           password="ws-pw", console_type="vnc-ws")
    assert answer["status"] == "OK"
    with pytest.raises(RfbRefused, match="Authentication failed"):
        rfb_connect("127.0.0.1", answer["source_port"], "wrong", websocket="ws")
    with pytest.raises(OSError):  # spent
        rfb_connect("127.0.0.1", answer["source_port"], "ws-pw", websocket="ws")
    answer = proxy.request(destination_address="127.0.0.1", destination_port=vnc_servers.open_port,
                           password="ws-pw", console_type="vnc-ws")
    assert rfb_connect("127.0.0.1", answer["source_port"], "ws-pw", websocket="ws") == (WIDTH, HEIGHT, DESKTOP)
    # TLS with the proxy's certificate.
    answer = proxy.request(destination_address="127.0.0.1", destination_port=vnc_servers.open_port,
                           password="wss-pw", console_type="vnc-wss")
    context = ssl.create_default_context(cafile=proxy.ca_cert)
    assert rfb_connect("127.0.0.1", answer["source_port"], "wss-pw", websocket="wss", ssl_context=context) \
        == (WIDTH, HEIGHT, DESKTOP)


def test_websocket_types_need_what_they_need(vncauthproxy):
    answer = vncauthproxy.request(destination_address="127.0.0.1", destination_port=5900, password="pw",
                                  console_type="vnc-wss")
    assert answer == {"status": "FAILED", "reason": "vnc-wss needs the proxy's --cert and --key"}
    answer = vncauthproxy.request(destination_address="127.0.0.1", destination_port=5900, password="pw",
                                  console_type="spice")
    assert answer["status"] == "FAILED" and "console_type" in answer["reason"]


def test_bad_command_lines(tmp_path):
    import os
    import subprocess
    import sys

    from tests.vnc_helpers import SRC

    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(SRC)] + sys.path))
    (tmp_path / "users").write_text("no colon here\n")

    def run(*args):
        return subprocess.run([sys.executable, "-m", "synnefo.cyclades.vncauthproxy", *args], env=env,
                              capture_output=True, text=True, timeout=60)

    r = run("--ports", "9000-8000")
    assert r.returncode == 2 and "LOW-HIGH" in r.stderr
    r = run("--credentials", str(tmp_path / "users"), "--control-port", "0")
    assert r.returncode != 0 and "user:password" in r.stderr
    assert "--connect-timeout" in run("--help").stdout
