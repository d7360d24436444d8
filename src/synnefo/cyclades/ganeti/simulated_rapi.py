"""``snf-ganeti-simulated``: the SIMULATED Ganeti cluster of a node as ONE Ganeti RAPI service.

Why a service: ``synnefo up`` runs several gunicorn worker processes, and a simulated cluster
lives in the process that holds it. Served over RAPI from one process, every worker,
``snf-manage`` and the dispatcher see the same cluster, through the same
:class:`~synnefo.cyclades.ganeti.rapi.GanetiRapiClient` (HTTPS, Basic auth, CA verification) as
a real Ganeti cluster; nothing in Cyclades knows the difference.

What it serves: the RAPI v2 paths that client uses, with Ganeti 3.0's bodies, answers and
errors (``{"code", "message", "explain"}``; 401 without valid credentials on every path, as
Debian's ``--require-authentication``; 404 for an unknown path or object; 501 for a method a
path does not support, e.g. PUT on ``.../reboot``; 415 for a body that is not JSON; 400 for a
malformed one). Mutations return job ids; jobs run in the :class:`SimulatedCluster` thread and
publish eventd's messages to AMQP.

Its files, in ``SIMULATED_GANETI_DIR`` (default ``<data dir>/ganeti-simulated``, mode 0700),
created on first start: ``rapi.pem``/``rapi.key`` (a self-signed certificate for 127.0.0.1 and
localhost, the backend's ``ca_file``), ``rapi-password`` (the password of RAPI user
``synnefo``, mode 0600) and ``state.json`` (the cluster's instances, networks, tags and jobs,
rewritten atomically on every change).
"""

from __future__ import annotations

import argparse
import base64
import datetime
import hmac
import ipaddress
import json
import logging
import os
import re
import secrets
import signal
import ssl
import sys
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from synnefo.cyclades.ganeti.rapi import GanetiApiError
from synnefo.cyclades.ganeti.simulated import SimulatedCluster, SimulatedRapiClient

log = logging.getLogger(__name__)

RAPI_USER = "synnefo"
MAX_BODY = 1024 * 1024
NAME = r"(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)"


@dataclass(frozen=True)
class ServiceFiles:
    """The service's certificate, password and state, in one directory."""

    directory: Path

    @property
    def cert(self) -> Path:
        return self.directory / "rapi.pem"

    @property
    def key(self) -> Path:
        return self.directory / "rapi.key"

    @property
    def password_file(self) -> Path:
        return self.directory / "rapi-password"

    @property
    def state_file(self) -> Path:
        return self.directory / "state.json"

    def password(self) -> str:
        return self.password_file.read_text().strip()

    def exist(self) -> bool:
        return self.cert.exists() and self.key.exists() and self.password_file.exists()

    def ensure(self) -> None:
        """Create what is missing: the directory (0700), the password (0600), the certificate."""
        self.directory.mkdir(parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)
        if not self.password_file.exists():
            _write_private(self.password_file, secrets.token_urlsafe(32) + "\n")
        if not (self.cert.exists() and self.key.exists()):
            key_pem, cert_pem = self_signed_certificate()
            _write_private(self.key, key_pem)
            _write_private(self.cert, cert_pem, mode=0o644)


def _write_private(path: Path, text: str | bytes, mode: int = 0o600) -> None:
    data = text.encode() if isinstance(text, str) else text
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def self_signed_certificate(days: int = 3650) -> tuple[bytes, bytes]:
    """A P-256 key and a self-signed certificate for 127.0.0.1/localhost that is its own CA (so
    it can be given to the client as ``ca_file``, like a real cluster's rapi.pem)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "simulated Ganeti RAPI (synnefo)")])
    now = datetime.datetime.now(datetime.timezone.utc)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                    x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                                     key_encipherment=False, data_encipherment=False, key_agreement=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return key_pem, cert.public_bytes(serialization.Encoding.PEM)


# -- request handling --------------------------------------------------------------------------


class RapiError(Exception):
    def __init__(self, code: int, message: str, explain: str):
        super().__init__(message)
        self.code, self.message, self.explain = code, message, explain


def _bad(explain: str) -> RapiError:
    return RapiError(400, "Bad Request", explain)


def _flag(query: dict, name: str) -> bool:
    value = query.get(name, ["0"])[-1]
    if value not in ("0", "1", "true", "false", "True", "False"):
        raise _bad(f"Invalid value for parameter '{name}': {value!r}")
    return value in ("1", "true", "True")


def _int(query_or_body, name: str, default=None):
    value = query_or_body.get(name, default)
    if isinstance(value, list):
        value = value[-1]
    if value is None:
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise _bad(f"Invalid value for parameter '{name}': {value!r}") from None


def _tags(query: dict) -> list[str]:
    tags = query.get("tag", [])
    if not tags:
        raise _bad("Missing 'tag' parameter")
    return tags


def _body_dict(body) -> dict:
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise _bad("The request body must be a JSON object")
    return body


def _create_instance(c: SimulatedRapiClient, m, q, body):
    body = _body_dict(body)
    version = body.get("__version__", 0)
    if version != 1:
        raise _bad(f"Unsupported request data version {version}; use '__version__': 1")
    if body.get("mode") != "create":
        raise _bad(f"Unsupported instance creation mode {body.get('mode')!r}")
    for field, kind in (("name", str), ("disk_template", str), ("disks", list), ("nics", list)):
        if field not in body:
            raise _bad(f"Required parameter '{field}' is missing")
        if not isinstance(body[field], kind):
            raise _bad(f"Parameter '{field}' must be a {kind.__name__}")
    if not re.fullmatch(NAME, body["name"]):
        raise _bad(f"Invalid instance name {body['name']!r}")
    for item in (*body["disks"], *body["nics"]):
        if not isinstance(item, dict):
            raise _bad("Each disk and NIC must be a JSON object")
    for disk in body["disks"]:
        _int(disk, "size")
    for field in ("beparams", "hvparams", "osparams"):
        if not isinstance(body.get(field, {}), dict):
            raise _bad(f"Parameter '{field}' must be an object")
    extra = {k: v for k, v in body.items()
             if k not in ("__version__", "mode", "name", "disk_template", "disks", "nics", "dry_run")}
    return c.create_instance(body["name"], body["disk_template"], body["disks"], body["nics"],
                             dry_run=_flag(q, "dry-run"), **extra)


def _modify_instance(c, m, q, body):
    body = _body_dict(body)
    for field in ("beparams", "hvparams", "osparams"):
        if not isinstance(body.get(field, {}), dict):
            raise _bad(f"Parameter '{field}' must be an object")
    changes = {k: v for k, v in body.items() if k != "dry_run"}
    return c.modify_instance(m["name"], **changes, dry_run=_flag(q, "dry-run"))


def _create_network(c, m, q, body):
    body = _body_dict(body)
    for field in ("network_name", "network"):
        if not isinstance(body.get(field), str):
            raise _bad(f"Required parameter '{field}' is missing")
    try:
        ipaddress.ip_network(body["network"])
    except ValueError:
        raise _bad(f"Invalid network {body['network']!r}") from None
    if not re.fullmatch(NAME, body["network_name"]):
        raise _bad(f"Invalid network name {body['network_name']!r}")
    extra = {k: v for k, v in body.items() if k not in ("network_name", "network", "gateway", "dry_run")}
    return c.create_network(body["network_name"], body["network"], body.get("gateway"), dry_run=_flag(q, "dry-run"), **extra)


def _connect_network(c, m, q, body):
    body = _body_dict(body)
    return c.connect_network(m["name"], body.get("group_name", "default"), body.get("network_mode", "bridged"),
                             body.get("network_link", ""), body.get("conflicts_check", True), dry_run=_flag(q, "dry-run"))


# (method, path pattern) -> handler(client, match, query, body). A path with no method here
# answers 501, an unknown path 404.
ROUTES = [
    ("GET", r"/version", lambda c, m, q, b: c.get_version()),
    ("GET", r"/2/info", lambda c, m, q, b: c.get_info()),
    ("GET", r"/2/features", lambda c, m, q, b: c.get_features()),
    ("GET", r"/2/os", lambda c, m, q, b: c.get_operating_systems()),
    ("GET", r"/2/nodes", lambda c, m, q, b: c.get_nodes(bulk=_flag(q, "bulk"))),
    ("GET", rf"/2/nodes/{NAME}", lambda c, m, q, b: c.get_node(m["name"])),
    ("GET", r"/2/groups", lambda c, m, q, b: c.get_groups(bulk=_flag(q, "bulk"))),
    ("GET", r"/2/tags", lambda c, m, q, b: c.get_cluster_tags()),
    ("PUT", r"/2/tags", lambda c, m, q, b: c.add_cluster_tags(_tags(q), dry_run=_flag(q, "dry-run"))),
    ("DELETE", r"/2/tags", lambda c, m, q, b: c.delete_cluster_tags(_tags(q), dry_run=_flag(q, "dry-run"))),
    ("GET", r"/2/instances", lambda c, m, q, b: c.get_instances(bulk=_flag(q, "bulk"))),
    ("POST", r"/2/instances", _create_instance),
    ("GET", rf"/2/instances/{NAME}", lambda c, m, q, b: c.get_instance(m["name"])),
    ("DELETE", rf"/2/instances/{NAME}", lambda c, m, q, b: c.delete_instance(
        m["name"], _int(q, "shutdown_timeout"), dry_run=_flag(q, "dry-run"))),
    ("PUT", rf"/2/instances/{NAME}/startup", lambda c, m, q, b: c.startup_instance(m["name"], dry_run=_flag(q, "dry-run"))),
    ("PUT", rf"/2/instances/{NAME}/shutdown", lambda c, m, q, b: c.shutdown_instance(
        m["name"], _int(_body_dict(b), "timeout"), dry_run=_flag(q, "dry-run"))),
    ("POST", rf"/2/instances/{NAME}/reboot", lambda c, m, q, b: c.reboot_instance(
        m["name"], q.get("type", ["hard"])[-1], _int(q, "shutdown_timeout"), dry_run=_flag(q, "dry-run"))),
    ("PUT", rf"/2/instances/{NAME}/modify", _modify_instance),
    ("GET", rf"/2/instances/{NAME}/info", lambda c, m, q, b: c.get_instance_info(m["name"], static=_flag(q, "static"))),
    ("GET", rf"/2/instances/{NAME}/console", lambda c, m, q, b: c.get_instance_console(m["name"])),
    ("GET", rf"/2/instances/{NAME}/tags", lambda c, m, q, b: c.get_instance_tags(m["name"])),
    ("PUT", rf"/2/instances/{NAME}/tags", lambda c, m, q, b: c.add_instance_tags(
        m["name"], _tags(q), dry_run=_flag(q, "dry-run"))),
    ("DELETE", rf"/2/instances/{NAME}/tags", lambda c, m, q, b: c.delete_instance_tags(
        m["name"], _tags(q), dry_run=_flag(q, "dry-run"))),
    ("GET", r"/2/jobs", lambda c, m, q, b: c.get_jobs(bulk=_flag(q, "bulk"))),
    ("GET", r"/2/jobs/(?P<id>[0-9]+)", lambda c, m, q, b: c.get_job_status(int(m["id"]))),
    ("DELETE", r"/2/jobs/(?P<id>[0-9]+)", lambda c, m, q, b: c.cancel_job(int(m["id"]))),
    ("GET", r"/2/networks", lambda c, m, q, b: c.get_networks(bulk=_flag(q, "bulk"))),
    ("POST", r"/2/networks", _create_network),
    ("GET", rf"/2/networks/{NAME}", lambda c, m, q, b: c.get_network(m["name"])),
    ("DELETE", rf"/2/networks/{NAME}", lambda c, m, q, b: c.delete_network(m["name"], dry_run=_flag(q, "dry-run"))),
    ("PUT", rf"/2/networks/{NAME}/connect", _connect_network),
    ("PUT", rf"/2/networks/{NAME}/disconnect", lambda c, m, q, b: c.disconnect_network(
        m["name"], _body_dict(b).get("group_name", "default"), dry_run=_flag(q, "dry-run"))),
    ("PUT", rf"/2/networks/{NAME}/modify", lambda c, m, q, b: c.modify_network(
        m["name"], dry_run=_flag(q, "dry-run"), **_body_dict(b))),
]
_COMPILED = [(method, re.compile(pattern + r"/?"), handler) for method, pattern, handler in ROUTES]


def route(method: str, path: str):
    """The handler and match for a request, or RapiError 404/501."""
    matched = False
    for route_method, pattern, handler in _COMPILED:
        match = pattern.fullmatch(path)
        if match:
            matched = True
            if route_method == method:
                return handler, match
    if matched:
        raise RapiError(501, "Not Implemented", f"Method {method} is unsupported for path {path}")
    raise RapiError(404, "Not Found", "Nothing matches the given URI")


class RapiHandler(BaseHTTPRequestHandler):
    server_version = "SimulatedGanetiRAPI/1"
    protocol_version = "HTTP/1.1"  # keep-alive: the client keeps its connections open
    timeout = 120  # an idle keep-alive connection is closed after this many seconds
    # Headers and body are two writes: with Nagle's algorithm and the client's delayed ACK each
    # answer would wait ~40 ms (bench/simulated_rapi.py: 89 req/s instead of hundreds).
    disable_nagle_algorithm = True

    def setup(self):
        # The TLS handshake runs here, in the connection's thread, not in the accepting one.
        self.request.do_handshake()
        super().setup()

    def do_GET(self):
        self._handle("GET")

    def do_POST(self):
        self._handle("POST")

    def do_PUT(self):
        self._handle("PUT")

    def do_DELETE(self):
        self._handle("DELETE")

    def _handle(self, method: str) -> None:
        try:
            raw = self._read_body()
            self._authenticate()  # before looking at the body: a stranger learns nothing from it
            body = self._parse_body(raw)
            url = urlsplit(self.path)
            handler, match = route(method, url.path)
            query = parse_qs(url.query, keep_blank_values=True)
            self._answer(200, handler(self.server.client, match, query, body))
        except RapiError as exc:
            self._error(exc.code, exc.message, exc.explain)
        except GanetiApiError as exc:
            code = exc.code or 500
            self._error(code, exc.message, exc.explain or exc.message)
        except Exception as exc:  # a bug here must not kill the connection thread silently
            log.exception("simulated RAPI %s %s failed", method, self.path)
            self._error(500, "Internal Server Error", f"{type(exc).__name__}")

    def _read_body(self):
        length = self.headers.get("Content-Length")
        try:
            length = int(length or 0)
        except ValueError:
            self.close_connection = True
            raise _bad("Invalid Content-Length") from None
        if length > MAX_BODY:
            if length <= 8 * MAX_BODY:  # read it away, so the client gets the answer, not a reset
                while length > 0:
                    length -= len(self.rfile.read(min(length, 65536)) or b"\0" * length)
            self.close_connection = True
            raise RapiError(413, "Request Entity Too Large", f"The body is limited to {MAX_BODY} bytes")
        return self.rfile.read(length) if length else b""

    def _parse_body(self, raw: bytes):
        if not raw:
            return None
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if content_type != "application/json":
            raise RapiError(415, "Unsupported Media Type", "The request body must be application/json")
        try:
            return json.loads(raw)
        except ValueError:
            raise _bad("The request body is not valid JSON") from None

    def _authenticate(self) -> None:
        header = self.headers.get("Authorization") or ""
        scheme, _, encoded = header.partition(" ")
        user = password = ""
        if scheme.lower() == "basic":
            try:
                user, _, password = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                pass
        ok_user = hmac.compare_digest(user.encode(), RAPI_USER.encode())
        ok_password = hmac.compare_digest(password.encode(), self.server.password.encode())
        if not (ok_user and ok_password):
            raise RapiError(401, "Unauthorized", "Authentication required: RAPI user and password")

    def _answer(self, status: int, data, extra_headers=()) -> None:
        payload = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in extra_headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def _error(self, code: int, message: str, explain: str) -> None:
        headers = [("WWW-Authenticate", 'Basic realm="Ganeti Remote API"')] if code == 401 else []
        self._answer(code, {"code": code, "message": message, "explain": explain}, headers)

    def log_message(self, format, *args):  # noqa: A002 - the stdlib's signature
        log.debug("simulated RAPI %s: %s", self.address_string(), format % args)


class SimulatedRapiServer(ThreadingHTTPServer):
    """HTTPS, one thread per connection, over one :class:`SimulatedCluster`."""

    daemon_threads = True

    def __init__(self, cluster: SimulatedCluster, files: ServiceFiles, host: str = "127.0.0.1", port: int = 0):
        super().__init__((host, port), RapiHandler)
        self.client = SimulatedRapiClient(cluster)
        self.password = files.password()
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(files.cert, files.key)
        self.socket = context.wrap_socket(self.socket, server_side=True, do_handshake_on_connect=False)

    def handle_error(self, request, client_address):
        # A client that fails the TLS handshake or drops the connection: not our error.
        log.debug("simulated RAPI: connection from %s failed", client_address[0], exc_info=True)

    @property
    def port(self) -> int:
        return self.server_address[1]


def files_from_settings() -> ServiceFiles:
    from django.conf import settings

    return ServiceFiles(Path(settings.SIMULATED_GANETI_DIR or Path(settings.SYNNEFO_DATA_DIR) / "ganeti-simulated"))


def backend_fields(files: ServiceFiles | None = None, port: int | None = None) -> dict:
    """What a Backend needs to reach this node's service: address, port, user, password, CA."""
    from django.conf import settings

    files = files or files_from_settings()
    return {"host": "127.0.0.1", "port": port or settings.SIMULATED_GANETI_PORT, "username": RAPI_USER,
            "password": files.password(), "ca_file": str(files.cert)}


def main(argv: list[str] | None = None) -> None:
    from synnefo.common.conf import setup_django_or_exit

    parser = argparse.ArgumentParser(prog="snf-ganeti-simulated", description=__doc__.split("\n\n")[0].strip("`: "))
    parser.add_argument("--port", type=int, help="port on 127.0.0.1 (default: SIMULATED_GANETI_PORT)")
    parser.add_argument("--cluster-name", help="the cluster's name (default: SIMULATED_GANETI_CLUSTER_NAME)")
    parser.add_argument("--speed", type=float, help="job duration factor, 1 = Ganeti-like (default: SIMULATED_GANETI_SPEED)")
    args = parser.parse_args(argv)
    setup_django_or_exit("snf-ganeti-simulated")
    from django.conf import settings

    from synnefo.common.amqp import AMQPClient
    from synnefo.cyclades.ganeti.simulated import _LockedPublisher

    port = args.port if args.port is not None else settings.SIMULATED_GANETI_PORT
    if not 0 <= port < 65536:
        parser.error("--port must be 0-65535")
    speed = args.speed if args.speed is not None else settings.SIMULATED_GANETI_SPEED
    if speed < 0:
        parser.error("--speed must not be negative")
    files = files_from_settings()
    files.ensure()
    try:
        cluster = SimulatedCluster(args.cluster_name or settings.SIMULATED_GANETI_CLUSTER_NAME, speed=speed,
                                   publisher=_LockedPublisher(AMQPClient()), state_file=files.state_file)
    except (ValueError, KeyError) as exc:
        sys.exit(f"snf-ganeti-simulated: cannot read the saved state: {exc}")
    try:
        server = SimulatedRapiServer(cluster, files, "127.0.0.1", port)
    except OSError as exc:
        sys.exit(f"snf-ganeti-simulated: cannot listen on 127.0.0.1:{port}: {exc}")

    def stop(signum, frame):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"snf-ganeti-simulated: SIMULATED cluster {cluster.name} serving RAPI on https://127.0.0.1:{server.port} "
          f"({len(cluster.instances)} instances)", flush=True)
    server.serve_forever(poll_interval=0.2)
    server.server_close()
    cluster.stop()


if __name__ == "__main__":
    main()
