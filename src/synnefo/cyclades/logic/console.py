"""Server consoles (SYNNEFO.md 4.1, "Console algorithm"; docs/compute.md "Consoles").

A console is a one-time VNC forwarding: Ganeti names the VNC server of a running instance (its
primary node and network port), a random password is made, and an snf-vncauthproxy of
``CYCLADES_VNCAUTHPROXY_OPTS`` is asked to open a port that forwards there to whoever knows the
password. The user gets that port, the proxy's address and the password.
"""

from __future__ import annotations

import json
import logging
import random
import secrets
import socket
import ssl
import string
from urllib.parse import urlencode, urlsplit

from django.conf import settings

from synnefo.common import faults
from synnefo.cyclades.ganeti.rapi import GanetiApiError, GanetiConnectionError
from synnefo.cyclades.logic.servers import api_status, get_server, validate_action

log = logging.getLogger(__name__)

CONSOLE_TYPES = ("vnc", "vnc-ws", "vnc-wss")
_ALPHABET = string.ascii_letters + string.digits
MAX_ANSWER = 64 * 1024


class ProxyError(Exception):
    pass


def _proxies() -> list[dict]:
    opts = settings.CYCLADES_VNCAUTHPROXY_OPTS or []
    return [opts] if isinstance(opts, dict) else list(opts)


def _vnc_server(vm) -> tuple[str, int]:
    """The instance's VNC server: its primary node and network port (as upstream: the console
    information's own host is the cluster-wide VNC bind address, often 0.0.0.0 or 127.0.0.1,
    useless from elsewhere); the console information only says whether there is VNC at all."""
    if vm.backend is None:
        raise faults.ServiceUnavailable(f"Server {vm.id} has no backend")
    try:
        client = vm.backend.get_client()
        info = client.get_instance_console(vm.backend_vm_id)
        if not isinstance(info, dict) or info.get("kind") != "vnc":
            kind = info.get("kind") if isinstance(info, dict) else None
            raise faults.Conflict(f"Server {vm.id} has no VNC console (its hypervisor offers console kind '{kind}')")
        instance = client.get_instance(vm.backend_vm_id)
    except GanetiConnectionError:
        raise faults.ServiceUnavailable("The compute backend is unavailable; try again later") from None
    except GanetiApiError as exc:
        raise faults.ServiceUnavailable(f"The compute backend refused the console request: {exc}") from None
    host, port = instance.get("pnode") or info.get("host"), instance.get("network_port") or info.get("port")
    if not isinstance(host, str) or not host or not isinstance(port, int):
        raise faults.ServiceUnavailable(f"The compute backend gave no VNC address for server {vm.id}")
    return host, port


def request_forwarding(proxy: dict, host: str, port: int, password: str, console_type: str = "vnc") -> dict:
    """Ask one snf-vncauthproxy (its control socket) for a forwarding; its answer."""
    request = {"source_port": 0, "destination_address": host, "destination_port": port, "password": password,
               "console_type": console_type}
    if proxy.get("auth_user") is not None:
        request.update(auth_user=proxy["auth_user"], auth_password=proxy.get("auth_password") or "")
    address, control_port = proxy.get("server_address", "127.0.0.1"), int(proxy.get("server_port", 24999))
    try:
        sock = socket.create_connection((address, control_port), timeout=float(proxy.get("timeout", 10)))
        if proxy.get("enable_ssl"):
            context = ssl.create_default_context(cafile=proxy.get("ca_cert"))
            if not proxy.get("strict"):
                context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
            sock = context.wrap_socket(sock, server_hostname=address)
        with sock:
            sock.sendall(json.dumps(request).encode() + b"\n")
            line = sock.makefile("rb").readline(MAX_ANSWER)
        answer = json.loads(line)
    except (OSError, ValueError) as exc:
        raise ProxyError(f"{address}:{control_port}: {exc or 'no answer'}") from None
    if not isinstance(answer, dict) or answer.get("status") != "OK" or not isinstance(answer.get("source_port"), int):
        reason = answer.get("reason") if isinstance(answer, dict) else answer
        raise ProxyError(f"{address}:{control_port} refused: {reason}")
    return answer


def get_console(user: str, server_id, console_type) -> dict:
    """The ``console`` action: ``{"type", "host", "port", "password"}`` of a new forwarding."""
    if console_type not in CONSOLE_TYPES:
        raise faults.BadRequest(f"Console type must be one of {', '.join(CONSOLE_TYPES)}")
    vm = get_server(user, server_id)
    validate_action(vm, "CONSOLE")
    if vm.operstate != "STARTED":
        raise faults.Conflict(f"Cannot get a console of server {vm.id} while it is {api_status(vm)}")
    proxies = _proxies()
    if not proxies:
        raise faults.ServiceUnavailable("Consoles are not available: no VNC authentication proxy is configured")
    host, port = _vnc_server(vm)
    password = "".join(secrets.choice(_ALPHABET) for _ in range(settings.CYCLADES_CONSOLE_PASSWORD_LENGTH))
    random.shuffle(proxies)  # one at random; the others only if it fails
    for proxy in proxies:
        try:
            answer = request_forwarding(proxy, host, port, password, console_type)
            break
        except ProxyError as exc:
            log.error("server %s: console proxy failed: %s", vm.id, exc)
    else:
        raise faults.ServiceUnavailable("The console proxy is unavailable; try again later")
    if _vnc_server(vm) != (host, port):  # the instance moved (migration) meanwhile
        raise faults.ServiceUnavailable(f"Server {vm.id} moved while its console was set up; try again")
    public = proxy.get("proxy_address") or answer.get("proxy_address")
    if not public or public in ("0.0.0.0", "::"):
        public = proxy.get("server_address", "127.0.0.1")
    log.info("server %s: console forwarded by %s port %s", vm.id, public, answer["source_port"])
    return {"type": console_type, "host": public, "port": answer["source_port"], "password": password}


def get_novnc_console(user: str, server_id, console_type) -> dict:
    """Nova's ``os-getVNCConsole``: ``{"type": "novnc", "url"}``, the configured noVNC page
    (``CYCLADES_NOVNC_URL``) pointed at a new WebSocket forwarding (wss for an https page)."""
    get_server(user, server_id)
    if console_type not in ("novnc", "xvpvnc"):
        raise faults.BadRequest("Console type must be novnc or xvpvnc")
    if console_type == "xvpvnc":
        raise faults.NotImplementedFault("xvpvnc consoles are not offered; use novnc")
    page = settings.CYCLADES_NOVNC_URL
    if not page:
        raise faults.NotImplementedFault("noVNC consoles are not configured here (CYCLADES_NOVNC_URL); use the console action")
    secure = urlsplit(page).scheme == "https"
    console = get_console(user, server_id, "vnc-wss" if secure else "vnc-ws")
    query = urlencode({"host": console["host"], "port": console["port"], "password": console["password"],
                       "encrypt": int(secure), "path": "", "autoconnect": "true"})
    return {"type": console_type, "url": f"{page}{'&' if '?' in page else '?'}{query}"}
