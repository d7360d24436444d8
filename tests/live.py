"""A real all-in-one node for end-to-end tests: ``synnefo up`` in a subprocess, on a fresh data
directory, on the database engine of the current pass (a throwaway PostgreSQL database in the
PostgreSQL pass)."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import requests

from tests.pgcheck import params as pg_params


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LiveNode:
    data_dir: Path
    settings_dir: Path
    port: int
    simulated_port: int = 0  # snf-ganeti-simulated's (SIMULATED_GANETI_PORT)
    process: subprocess.Popen | None = None
    output: list[str] = field(default_factory=list)
    credentials: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(SYNNEFO_DATA_DIR=str(self.data_dir), SYNNEFO_SETTINGS_DIR=str(self.settings_dir))
        env.pop("DJANGO_SETTINGS_MODULE", None)
        return env

    def simulated_client(self):
        """The real RAPI client on the node's simulated cluster, with the node's own credentials."""
        from synnefo.cyclades.ganeti.rapi import GanetiRapiClient

        files = self.data_dir / "ganeti-simulated"
        password = (files / "rapi-password").read_text().strip()
        return GanetiRapiClient("127.0.0.1", self.simulated_port, "synnefo", password, ca_file=str(files / "rapi.pem"))

    def start(self, timeout: float = 60) -> None:
        command = [sys.executable, "-m", "synnefo.cli", "up", "--bind", f"127.0.0.1:{self.port}"]
        self.process = subprocess.Popen(
            command, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
        )
        deadline = time.monotonic() + timeout
        for line in self.process.stdout:
            self.output.append(line)
            if match := re.match(r"\s+(email|password|token|uuid):\s+(\S+)", line):
                self.credentials[match.group(1)] = match.group(2)
            if "Ctrl-C stops" in line or time.monotonic() > deadline:
                break
        # Keep reading the node's log, or its processes block once the pipe is full.
        threading.Thread(target=self._drain, args=(self.process.stdout,), daemon=True).start()
        while time.monotonic() < deadline:
            try:
                if requests.get(self.url + "/healthz", timeout=5).status_code == 200:
                    return
            except requests.RequestException:  # not listening yet, or slow on a loaded machine
                time.sleep(0.2)
        self.stop()  # leave nothing running behind a failed start
        raise RuntimeError("synnefo up did not start:\n" + "".join(self.output))

    def _drain(self, stream) -> None:
        for line in stream:
            self.output.append(line)

    def stop(self) -> int:
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        time.sleep(0.1)  # let the drain thread take the last lines
        return self.process.returncode


def make_node(tmp: Path, database: str) -> tuple[LiveNode, callable]:
    """A node (not started) and the cleanup to call when done with it."""
    data_dir, settings_dir = tmp / "data", tmp / "etc"
    settings_dir.mkdir(parents=True)
    simulated_port = free_port()
    conf = ["SYNNEFO_WEB_WORKERS = 2\n", f"SIMULATED_GANETI_PORT = {simulated_port}\n"]
    cleanup = lambda: None  # noqa: E731
    if database == "postgresql":
        import psycopg

        name = f"synnefo_e2e_{uuid.uuid4().hex[:12]}"
        pg = pg_params()
        with psycopg.connect(dbname="postgres", autocommit=True, **pg) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')

        def cleanup():
            with psycopg.connect(dbname="postgres", autocommit=True, **pg) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

        conf.append(
            "DATABASES = {'default': {'ENGINE': 'django.db.backends.postgresql', "
            f"'NAME': {name!r}, 'HOST': {pg['host']!r}, 'PORT': {pg['port']!r}, "
            f"'USER': {pg['user']!r}, 'PASSWORD': {pg['password']!r}}}}}\n"
        )
    (settings_dir / "50-test.conf").write_text("".join(conf))
    return LiveNode(data_dir, settings_dir, free_port(), simulated_port), cleanup


@contextmanager
def running_node(tmp: Path, conf=""):
    """A started node on the current pass's database engine, with ``conf`` (settings text, or a
    function of the not yet started node giving it) as an extra settings file; stopped and its
    database dropped afterwards."""
    node, cleanup = make_node(tmp, os.environ.get("SYNNEFO_TEST_DATABASE", "sqlite"))
    text = conf(node) if callable(conf) else conf
    if text:
        (node.settings_dir / "60-test-extra.conf").write_text(text)
    try:
        node.start()
        yield node
    finally:
        if node.process is not None and node.process.poll() is None:
            node.stop()
        cleanup()

