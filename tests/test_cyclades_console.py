"""The `console` server action through the compute API: a simulated backend whose console is
patched to name a real VNC server (x11vnc), a real snf-vncauthproxy, then a real VNC connection
with the returned host, port and password; and every refusal (state, hypervisor, proxy, input)."""

import pytest

from synnefo.cyclades.ganeti import simulated
from tests.compute_helpers import cloud  # noqa: F401
from tests.pithos_helpers import small_blocks  # noqa: F401
from tests.vnc_helpers import DESKTOP, HEIGHT, WIDTH, RfbRefused, rfb_connect, vnc_servers, vncauthproxy, vncauthproxy_tls  # noqa: F401

pytestmark = pytest.mark.django_db


def running_server(cloud):
    r = cloud.call("POST", "/servers", {"server": {"name": "c1", "imageRef": cloud.image_id, "flavorRef": cloud.flavors[0].id}})
    assert r.status_code == 202, r.content
    sid = r.json()["server"]["id"]
    cloud.settle()
    assert cloud.call("GET", f"/servers/{sid}").json()["server"]["status"] == "ACTIVE"
    return sid


def vnc_console(monkeypatch, cloud, sid, port, node="127.0.0.1"):
    """Make the simulated cluster answer as Ganeti does for a KVM instance with VNC: the console
    kind "vnc" at the cluster-wide bind address, the instance on ``node`` with ``port``."""
    original = simulated.SimulatedRapiClient.get_instance_console

    def console(self, name):
        original(self, name)  # the instance must exist
        return {"instance": name, "kind": "vnc", "host": "0.0.0.0", "port": port, "display": port - 5900}

    monkeypatch.setattr(simulated.SimulatedRapiClient, "get_instance_console", console)
    instance = cloud.cluster.instances[f"snf-{sid}"]
    monkeypatch.setitem(instance, "pnode", node)
    monkeypatch.setitem(instance, "network_port", port)


def proxy_opts(proxy, **extra):
    opts = {"server_address": "127.0.0.1", "server_port": proxy.control_port, "auth_user": proxy.credentials[0],
            "auth_password": proxy.credentials[1], "enable_ssl": False}
    opts.update(extra)
    return [opts]


def test_console_end_to_end(cloud, settings, monkeypatch, vnc_servers, vncauthproxy):
    sid = running_server(cloud)
    vnc_console(monkeypatch, cloud, sid, vnc_servers.open_port)
    settings.CYCLADES_VNCAUTHPROXY_OPTS = proxy_opts(vncauthproxy)
    r = cloud.call("POST", f"/servers/{sid}/action", {"console": {"type": "vnc"}})
    assert r.status_code == 200, r.content
    console = r.json()["console"]
    assert set(console) == {"type", "host", "port", "password"} and console["type"] == "vnc"
    assert console["host"] == "127.0.0.1" and len(console["password"]) == 8
    assert vncauthproxy.ports[0] <= console["port"] <= vncauthproxy.ports[1]
    with pytest.raises(RfbRefused):  # the password matters
        rfb_connect(console["host"], console["port"], console["password"][::-1] + "x")
    # A new console, a new port and password; the real VNC server answers through the proxy.
    again = cloud.call("POST", f"/servers/{sid}/action", {"console": {"type": "vnc"}}).json()["console"]
    assert again["password"] != console["password"]
    assert rfb_connect(again["host"], again["port"], again["password"]) == (WIDTH, HEIGHT, DESKTOP)
    # The public address comes from the settings when given.
    settings.CYCLADES_VNCAUTHPROXY_OPTS = proxy_opts(vncauthproxy, proxy_address="vnc.example.org")
    assert cloud.call("POST", f"/servers/{sid}/action", {"console": {"type": "vnc"}}).json()["console"]["host"] == "vnc.example.org"
    # The v2.1 path (the openstack CLI) answers alike.
    assert cloud.call("POST", f"/servers/{sid}/action", {"console": {"type": "vnc"}}, version="v2.1").status_code == 200


def test_console_over_a_tls_control_socket(cloud, settings, monkeypatch, vnc_servers, vncauthproxy_tls):
    sid = running_server(cloud)
    vnc_console(monkeypatch, cloud, sid, vnc_servers.open_port)
    action = f"/servers/{sid}/action"
    # Strict: the proxy's certificate must be signed by ca_cert and name the address.
    settings.CYCLADES_VNCAUTHPROXY_OPTS = proxy_opts(vncauthproxy_tls, enable_ssl=True, strict=True,
                                                     ca_cert=vncauthproxy_tls.ca_cert)
    console = cloud.call("POST", action, {"console": {"type": "vnc"}}).json()["console"]
    assert rfb_connect(console["host"], console["port"], console["password"]) == (WIDTH, HEIGHT, DESKTOP)
    # Strict without that CA: the self-signed certificate is refused (503), not trusted.
    settings.CYCLADES_VNCAUTHPROXY_OPTS = proxy_opts(vncauthproxy_tls, enable_ssl=True, strict=True)
    assert cloud.call("POST", action, {"console": {"type": "vnc"}}).status_code == 503
    # Not strict: encrypted, unverified (upstream's default).
    settings.CYCLADES_VNCAUTHPROXY_OPTS = proxy_opts(vncauthproxy_tls, enable_ssl=True)
    assert cloud.call("POST", action, {"console": {"type": "vnc"}}).status_code == 200
    # Plain text to a TLS control socket fails cleanly.
    settings.CYCLADES_VNCAUTHPROXY_OPTS = proxy_opts(vncauthproxy_tls)
    assert cloud.call("POST", action, {"console": {"type": "vnc"}}).status_code == 503


def test_websocket_console_and_novnc_url(cloud, settings, monkeypatch, vnc_servers, vncauthproxy_tls):
    import ssl
    from urllib.parse import parse_qs, urlsplit

    sid = running_server(cloud)
    vnc_console(monkeypatch, cloud, sid, vnc_servers.open_port)
    action = f"/servers/{sid}/action"
    settings.CYCLADES_VNCAUTHPROXY_OPTS = proxy_opts(vncauthproxy_tls, enable_ssl=True)
    console = cloud.call("POST", action, {"console": {"type": "vnc-ws"}}).json()["console"]
    assert console["type"] == "vnc-ws"
    assert rfb_connect(console["host"], console["port"], console["password"], websocket="ws") == (WIDTH, HEIGHT, DESKTOP)
    tls = ssl.create_default_context(cafile=vncauthproxy_tls.ca_cert)
    # The noVNC URL of an https page names a wss forwarding, which a WebSocket client can use.
    settings.CYCLADES_NOVNC_URL = "https://novnc.example.org/vnc.html"
    r = cloud.call("POST", action, {"os-getVNCConsole": {"type": "novnc"}}, version="v2.1")
    assert r.status_code == 200, r.content
    got = r.json()["console"]
    assert got["type"] == "novnc" and got["url"].startswith("https://novnc.example.org/vnc.html?")
    query = {k: v[0] for k, v in parse_qs(urlsplit(got["url"]).query, keep_blank_values=True).items()}
    assert query["encrypt"] == "1" and query["autoconnect"] == "true" and query["host"] == "127.0.0.1"
    assert rfb_connect(query["host"], int(query["port"]), query["password"], websocket="wss", ssl_context=tls) \
        == (WIDTH, HEIGHT, DESKTOP)
    settings.CYCLADES_NOVNC_URL = "http://127.0.0.1:6080/vnc.html?resize=scale"
    query = parse_qs(urlsplit(cloud.call("POST", action, {"os-getVNCConsole": {"type": "novnc"}}).json()["console"]["url"]).query)
    assert query["encrypt"] == ["0"] and query["resize"] == ["scale"]
    assert rfb_connect("127.0.0.1", int(query["port"][0]), query["password"][0], websocket="ws") == (WIDTH, HEIGHT, DESKTOP)


def test_console_refusals(cloud, settings, monkeypatch, vncauthproxy):
    sid = running_server(cloud)
    action = f"/servers/{sid}/action"
    settings.CYCLADES_VNCAUTHPROXY_OPTS = proxy_opts(vncauthproxy)
    # The simulated (fake) hypervisor has no VNC.
    r = cloud.call("POST", action, {"console": {"type": "vnc"}})
    assert r.status_code == 409 and "no VNC console" in r.json()["conflict"]["message"]
    vnc_console(monkeypatch, cloud, sid, 5901)
    for body in ({"console": {}}, {"console": {"type": "spice"}}, {"console": "vnc"}, {"console": None}):
        r = cloud.call("POST", action, body)
        assert r.status_code == 400 and "badRequest" in r.json(), body
    # vnc-wss from a proxy without a certificate: it refuses, we say 503.
    assert cloud.call("POST", action, {"console": {"type": "vnc-wss"}}).status_code == 503
    # os-getVNCConsole needs a noVNC page; xvpvnc is not offered.
    r = cloud.call("POST", action, {"os-getVNCConsole": {"type": "novnc"}})
    assert r.status_code == 501 and "CYCLADES_NOVNC_URL" in r.json()["notImplemented"]["message"]
    settings.CYCLADES_NOVNC_URL = "https://novnc.example.org/vnc.html"
    assert cloud.call("POST", action, {"os-getVNCConsole": {"type": "xvpvnc"}}).status_code == 501
    for body in ({"os-getVNCConsole": {"type": "spice"}}, {"os-getVNCConsole": {}}, {"os-getVNCConsole": None}):
        assert cloud.call("POST", action, body).status_code == 400, body
    assert cloud.call("POST", "/servers/999999/action", {"os-getVNCConsole": {"type": "novnc"}}).status_code == 404
    # Nobody else's server, no unknown one.
    other = cloud.call("POST", "/servers/999999/action", {"console": {"type": "vnc"}})
    assert other.status_code == 404
    # No proxy configured: 503 that says so.
    settings.CYCLADES_VNCAUTHPROXY_OPTS = []
    r = cloud.call("POST", action, {"console": {"type": "vnc"}})
    assert r.status_code == 503 and "no VNC authentication proxy" in r.json()["serviceUnavailable"]["message"]
    # A proxy that refuses us (wrong control credentials) or is not there: 503.
    settings.CYCLADES_VNCAUTHPROXY_OPTS = proxy_opts(vncauthproxy, auth_password="wrong")
    assert cloud.call("POST", action, {"console": {"type": "vnc"}}).status_code == 503
    settings.CYCLADES_VNCAUTHPROXY_OPTS = proxy_opts(vncauthproxy, server_port=1)
    assert cloud.call("POST", action, {"console": {"type": "vnc"}}).status_code == 503
    # With a working one beside a dead one, the working one answers, whichever is picked first.
    settings.CYCLADES_VNCAUTHPROXY_OPTS = proxy_opts(vncauthproxy, server_port=1) + proxy_opts(vncauthproxy)
    for _ in range(4):
        assert cloud.call("POST", action, {"console": {"type": "vnc"}}).status_code == 200
    # Only a running server has a console.
    settings.CYCLADES_VNCAUTHPROXY_OPTS = proxy_opts(vncauthproxy)
    assert cloud.call("POST", action, {"os-stop": None}).status_code == 202
    assert cloud.call("POST", action, {"console": {"type": "vnc"}}).status_code == 409  # pending task
    cloud.settle()
    r = cloud.call("POST", action, {"console": {"type": "vnc"}})
    assert r.status_code == 409 and "STOPPED" in r.json()["conflict"]["message"]


def test_instance_moved_during_the_request(cloud, settings, monkeypatch, vnc_servers, vncauthproxy):
    from synnefo.cyclades.logic import console

    sid = running_server(cloud)
    vnc_console(monkeypatch, cloud, sid, vnc_servers.open_port)
    settings.CYCLADES_VNCAUTHPROXY_OPTS = proxy_opts(vncauthproxy)
    forward = console.request_forwarding

    def migrating(*args, **kwargs):
        answer = forward(*args, **kwargs)
        cloud.cluster.instances[f"snf-{sid}"]["pnode"] = "node2.example.org"  # a migration meanwhile
        return answer

    monkeypatch.setattr(console, "request_forwarding", migrating)
    r = cloud.call("POST", f"/servers/{sid}/action", {"console": {"type": "vnc"}})
    assert r.status_code == 503 and "moved" in r.json()["serviceUnavailable"]["message"]


def test_a_wildcard_proxy_address_is_not_handed_out(cloud, settings, monkeypatch):
    from synnefo.cyclades.logic import console

    sid = running_server(cloud)
    vnc_console(monkeypatch, cloud, sid, 5901)
    settings.CYCLADES_VNCAUTHPROXY_OPTS = {"server_address": "vncproxy.internal", "server_port": 24999}  # one dict
    sent = []

    def proxy(opts, host, port, password, console_type):
        sent.append((opts["server_address"], host, port, console_type))
        return {"status": "OK", "source_port": 25001, "proxy_address": "0.0.0.0"}

    monkeypatch.setattr(console, "request_forwarding", proxy)
    got = cloud.call("POST", f"/servers/{sid}/action", {"console": {"type": "vnc"}}).json()["console"]
    assert got["host"] == "vncproxy.internal" and got["port"] == 25001
    assert sent == [("vncproxy.internal", "127.0.0.1", 5901, "vnc")]
