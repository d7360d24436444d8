"""Test helpers for the Ganeti backends: captured RAPI answers served by a fake transport
(units), and the real sandbox cluster (deploy/ganeti-sandbox) for integration tests."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import requests

from tests.services import require

ROOT = Path(__file__).resolve().parent.parent
SHAPES = ROOT.parent / "shared" / "reference" / "ganeti-rapi-shapes"
SANDBOX = ROOT / "deploy" / "ganeti-sandbox"
SANDBOX_ENV = Path("/run/ganeti-sandbox/env")


def shape(name: str) -> dict:
    return json.loads((SHAPES / f"{name}.json").read_text())


class FixtureAdapter(requests.adapters.BaseAdapter):
    """Answers requests from captured RAPI exchanges: {(method, path): (status, body)}; records
    every request; ``fail_connects`` connection errors come first."""

    def __init__(self, routes: dict, fail_connects: int = 0):
        super().__init__()
        self.routes = routes
        self.requests: list[requests.PreparedRequest] = []
        self.fail_connects = fail_connects

    def send(self, request, **kwargs):
        self.requests.append(request)
        if self.fail_connects:
            self.fail_connects -= 1
            raise requests.exceptions.ConnectionError("connection refused (injected)")
        path = urlsplit(request.url).path
        status, body = self.routes.get((request.method, path), (404, {"code": 404, "message": "Not Found", "explain": "Nothing matches the given URI"}))
        response = requests.Response()
        response.status_code = status
        response.reason = {200: "OK", 401: "Unauthorized", 404: "Not Found", 500: "Internal Server Error"}.get(status, "")
        response._content = json.dumps(body).encode() if not isinstance(body, bytes) else body
        response.headers["Content-Type"] = "application/json"
        response.url = request.url
        response.request = request
        return response

    def close(self):
        pass


def routes_from_shapes(*names: str) -> dict:
    routes = {}
    for name in names:
        data = shape(name)
        routes[(data["request"]["method"], data["request"]["path"].split("?")[0])] = (data["status"], data["response"])
    return routes


def sandbox_env() -> dict:
    """Bring the real sandbox cluster up (root + Debian) and return its env; skip (fail under
    CI=true) when that is impossible here."""
    can = os.geteuid() == 0 and shutil.which("apt-get") is not None and shutil.which("ip") is not None
    require(can, "the Ganeti sandbox needs root, apt-get and iproute2 (deploy/ganeti-sandbox up)")
    result = subprocess.run([str(SANDBOX), "up"], capture_output=True, text=True, timeout=600)
    require(result.returncode == 0, f"deploy/ganeti-sandbox up failed: {result.stderr[-2000:]}")
    env = {}
    for line in SANDBOX_ENV.read_text().splitlines():
        key, _, value = line.partition("=")
        env[key] = value.split("#")[0].strip()
    return env


def ganeti_disks(ganeti) -> dict:
    """Every disk in the sandbox's Ganeti configuration: name -> attached to an instance."""
    script = ("import json; c = json.load(open('/var/lib/ganeti/config.data')); "
              "used = {d for i in c['instances'].values() for d in i['disks']}; "
              "print(json.dumps({d.get('name') or k: k in used for k, d in c['disks'].items()}))")
    out = subprocess.run([ganeti["GANETI_NSEXEC"], "/usr/bin/python3", "-c", script], capture_output=True, text=True,
                         timeout=60, check=True)
    return json.loads(out.stdout)


def job_file_from_shape(name: str, **op_overrides) -> dict:
    """A job-queue file (the format eventd reads) rebuilt from a captured GET /2/jobs/<id>."""
    job = shape(name)["response"]
    ops = []
    for i, op_input in enumerate(job["ops"]):
        op = {"input": op_input, "status": job["opstatus"][i], "result": job["opresult"][i], "log": job["oplog"][i],
              "start_timestamp": job["start_ts"], "exec_timestamp": job["start_ts"], "end_timestamp": job["end_ts"],
              "priority": 0}
        op.update(op_overrides)
        ops.append(op)
    return {"id": job["id"], "ops": ops, "received_timestamp": job["received_ts"], "start_timestamp": job["start_ts"],
            "end_timestamp": job["end_ts"]}


def amqp_available(wait: float = 20.0) -> bool:
    """RabbitMQ answers on 127.0.0.1:5672 (waiting a little: a broker-restart test may be running)."""
    import socket
    import time

    deadline = time.monotonic() + wait
    while True:
        try:
            with socket.create_connection(("127.0.0.1", 5672), timeout=1):
                return True
        except OSError:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.5)


RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672//"


class RecordingClient:
    """Stands in for AMQPClient in units: records (routing key, body)."""

    def __init__(self):
        self.published = []
        self.dead = []

    def publish(self, routing_key, body, exchange=None, headers=None):
        self.published.append((routing_key, body))

    def dead_letter(self, message, reason):
        self.dead.append((message.body, reason))

    def close(self):
        pass


def delete_topology() -> None:
    """Delete the exchanges and queues of the current settings, on a fresh connection (the test's
    own may have been cut by a broker restart)."""
    from synnefo.common import amqp

    client = amqp.AMQPClient()
    try:
        client.connect()
        channel = client.connection.default_channel
        queues, dl = amqp.event_queues(client.native_dl)
        for queue in queues + dl:
            queue(channel).delete()
        for exchange in amqp.exchanges():
            exchange(channel).delete()
    finally:
        client.close()
