"""A small HTTP server on 127.0.0.1 that answers like upstream Synnefo for what our node does
not serve yet (servers, networks, volumes, snapshots): the request and reply shapes of
../shared/reference/CLIENTS-KAMAKI.md (identity catalog with a ``name`` on every entry, compute
v2.0 with integer server ids, the ``/networks/detail`` extension, Cinder v2 volumes). It keeps
every request it got, for the tests to check what went over the wire."""

from __future__ import annotations

import itertools
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOKEN = "snf-test-token-0000"
USER = "a1b2c3d4-0000-4000-8000-000000000001"
IMAGE = "9f92995e-ec8b-4d63-925f-70a612b0874f"


def fault(name: str, code: int, message: str) -> tuple[int, dict]:
    return code, {name: {"code": code, "message": message, "details": ""}}


class UpstreamCloud:
    def __init__(self):
        self.requests: list[dict] = []
        self.servers: dict[int, dict] = {}
        self.networks: dict[str, dict] = {"net-public-0001": {
            "id": "net-public-0001", "name": "public", "status": "ACTIVE", "router:external": True,
            "public": True, "shared": True, "admin_state_up": True, "subnets": ["subnet-public-0001"],
            "tenant_id": None, "user_id": None, "type": "IP_LESS_ROUTED"}}
        self.volumes: dict[str, dict] = {}
        self.snapshots: dict[str, dict] = {}
        self._ids = itertools.count(1000)
        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()

    def calls(self, method: str | None = None, prefix: str = "") -> list[dict]:
        return [r for r in self.requests if (method is None or r["method"] == method) and r["path"].startswith(prefix)]

    # the catalog kamaki needs (CLIENTS-KAMAKI.md §3); network is listed without a version
    def access(self) -> dict:
        def entry(kind, name, path, **extra):
            return {"type": kind, "name": name, "endpoints": [{"publicURL": self.url + path, **extra}]}

        return {"access": {
            "token": {"id": TOKEN, "expires": "2099-01-01T00:00:00.000000+00:00", "tenant": {"id": USER, "name": "user"}},
            "user": {"id": USER, "name": "user@example.org", "roles": [{"id": "1", "name": "default"}]},
            "serviceCatalog": [
                entry("identity", "astakos_identity", "/identity/v2.0"),
                entry("account", "astakos_account", "/account/v1.0", versionId="v1.0", **{"SNF:uiURL": self.url + "/ui"}),
                entry("compute", "cyclades_compute", "/compute/v2.0"),
                entry("network", "cyclades_network", "/network"),
                entry("volume", "cyclades_volume", "/volume/v2.0"),
                entry("image", "cyclades_plankton", "/image/v1.0"),
                entry("object-store", "pithos_object-store", "/object-store/v1"),
            ]}}

    def server_record(self, sid: int) -> dict:
        s = self.servers[sid]
        link = f"{self.url}/compute/v2.0"
        return {"id": str(sid), "name": s["name"], "status": s["status"], "progress": 100 if s["status"] != "BUILD" else 0,
                "flavor": {"id": s["flavor"], "links": [{"rel": "bookmark", "href": f"{link}/flavors/{s['flavor']}"}]},
                "image": {"id": s["image"], "links": [{"rel": "bookmark", "href": f"{link}/images/{s['image']}"}]},
                "metadata": s["metadata"], "user_id": USER, "tenant_id": USER, "addresses": {}, "attachments": [],
                "links": [{"rel": "self", "href": f"{link}/servers/{sid}"}], "SNF:fqdn": f"snf-{sid}.vm.example.org"}

    def answer(self, method: str, path: str, body) -> tuple[int, object]:
        path = path.split("?")[0]
        if method == "POST" and path == "/identity/v2.0/tokens":
            if (body or {}).get("auth", {}).get("token", {}).get("id") != TOKEN:
                return fault("unauthorized", 401, "Invalid token")
            return 200, self.access()
        if path.startswith("/compute/v2.0/"):
            return self.compute(method, path[len("/compute/v2.0"):], body)
        if path.startswith("/network/v2.0/"):
            return self.network(method, path[len("/network/v2.0"):], body)
        if path.startswith("/volume/v2.0/"):
            return self.volume(method, path[len("/volume/v2.0"):], body)
        return fault("badRequest", 400, f"Invalid URL {path}")  # as Cyclades answers unknown URLs

    def compute(self, method, path, body):
        if path == "/flavors/detail":
            return 200, {"flavors": [{"id": 1, "name": "C1R1024D20drbd", "vcpus": 1, "ram": 1024, "disk": 20,
                                      "SNF:disk_template": "drbd", "links": []}]}
        if path == f"/images/{IMAGE}":
            return 200, {"image": {"id": IMAGE, "name": "test-img", "status": "ACTIVE", "progress": 100,
                                   "metadata": {"os": "debian", "users": "root", "osfamily": "linux"}}}
        if path.startswith("/images/"):
            return fault("itemNotFound", 404, "Image not found")
        if path == "/servers" and method == "POST":
            spec = body["server"]
            sid = next(self._ids)
            self.servers[sid] = {"name": spec["name"], "status": "BUILD", "flavor": spec["flavorRef"],
                                 "image": spec["imageRef"], "metadata": spec.get("metadata", {}), "polls": 0}
            return 202, {"server": {**self.server_record(sid), "adminPass": "Xy9-secret-pass"}}
        if path in ("/servers", "/servers/detail"):
            if path == "/servers":
                return 200, {"servers": [{"id": str(i), "name": s["name"], "links": []} for i, s in self.servers.items()]}
            return 200, {"servers": [self.server_record(i) for i in self.servers]}
        parts = path.strip("/").split("/")
        if parts[0] == "servers" and len(parts) >= 2:
            sid = int(parts[1]) if parts[1].isdigit() else -1
            if sid not in self.servers:
                return fault("itemNotFound", 404, f"Server {parts[1]} not found")
            server = self.servers[sid]
            if len(parts) == 2 and method == "GET":
                if server["status"] == "BUILD":  # built on the second look
                    server["polls"] += 1
                    if server["polls"] > 1:
                        server["status"] = "ACTIVE"
                return 200, {"server": self.server_record(sid)}
            if len(parts) == 2 and method == "DELETE":
                del self.servers[sid]
                return 204, None
            if parts[2:] == ["action"] and method == "POST":
                (action,) = body
                if action == "shutdown":
                    server["status"] = "STOPPED"
                elif action == "start":
                    server["status"] = "ACTIVE"
                elif action == "reboot" and body["reboot"].get("type") in ("SOFT", "HARD"):
                    server["status"] = "ACTIVE"
                elif action == "console" and server["status"] != "ACTIVE":
                    return fault("conflict", 409, f"Cannot get a console of server {sid} while it is {server['status']}")
                elif action == "console" and body["console"].get("type") == "vnc":
                    return 200, {"console": {"type": "vnc", "host": "vnc.example.org", "port": 25017, "password": "a1B2c3D4"}}
                else:
                    return fault("badRequest", 400, f"Unknown action {action}")
                return 202, None
        return fault("badRequest", 400, f"Invalid URL /compute/v2.0{path}")

    def network(self, method, path, body):
        if path == "/networks/detail":
            return 200, {"networks": list(self.networks.values())}
        if path == "/networks" and method == "POST":
            spec = body["network"]
            if spec.get("type") not in ("MAC_FILTERED", "IP_LESS_ROUTED"):
                return fault("badRequest", 400, f"Invalid network type {spec.get('type')}")
            nid = f"network-{next(self._ids)}"
            self.networks[nid] = {"id": nid, "name": spec["name"], "status": "ACTIVE", "router:external": False,
                                  "public": False, "shared": False, "admin_state_up": True, "subnets": [],
                                  "tenant_id": USER, "user_id": USER, "type": spec["type"]}
            return 201, {"network": self.networks[nid]}
        nid = path.strip("/").split("/")[-1]
        if nid not in self.networks:
            return fault("itemNotFound", 404, f"Network {nid} not found")
        if method == "DELETE":
            del self.networks[nid]
            return 204, None
        return 200, {"network": self.networks[nid]}

    def volume(self, method, path, body):
        kind = "volumes" if path.startswith("/volumes") else "snapshots"
        store = self.volumes if kind == "volumes" else self.snapshots
        one = kind[:-1]
        if path in (f"/{kind}", f"/{kind}/detail") and method == "GET":
            return 200, {kind: list(store.values())}
        if path == f"/{kind}" and method == "POST":
            spec = body[one]
            if kind == "volumes" and (not isinstance(spec.get("size"), int) or spec["size"] <= 0):
                return fault("badRequest", 400, "Invalid size")
            if kind == "snapshots" and spec.get("volume_id") not in self.volumes:
                return fault("itemNotFound", 404, f"Volume {spec.get('volume_id')} not found")
            oid = str(next(self._ids))
            store[oid] = {"id": oid, "status": "creating", "user_id": USER, **spec}
            return 202, {one: store[oid]}
        oid = path.strip("/").split("/")[-1]
        if oid not in store:
            return fault("itemNotFound", 404, f"{one.capitalize()} {oid} not found")
        if method == "DELETE":
            del store[oid]
            return 202, None
        return 200, {one: store[oid]}

    def _handler(self):
        cloud = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = None
                with cloud.lock:
                    cloud.requests.append({"method": self.command, "path": self.path, "body": body,
                                           "headers": dict(self.headers)})
                    if self.headers.get("X-Auth-Token") != TOKEN and not self.path.startswith("/identity/"):
                        status, reply = fault("unauthorized", 401, "Missing or invalid token")
                    else:
                        status, reply = cloud.answer(self.command, self.path, body)
                data = json.dumps(reply).encode() if reply is not None else b""
                self.send_response(status)
                if data:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _serve

        return Handler
