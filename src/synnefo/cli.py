"""``synnefo``: run an all-in-one node.

``synnefo up`` prepares the data directory (database migrations, a first administrator on an
empty database), starts the simulated Ganeti cluster's RAPI service (snf-ganeti-simulated) when
the node uses it, and serves every component on ``SYNNEFO_BIND`` with gunicorn beside
snf-dispatcher, until Ctrl-C or SIGTERM stops every process it started.
"""

from __future__ import annotations

import argparse
import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from synnefo.common.conf import setup_django_or_exit

CREDENTIALS_FILE = "admin-credentials.txt"


def migrate() -> None:
    from django.core.management import call_command
    from django.db.migrations.executor import MigrationExecutor
    from django.db import connection

    executor = MigrationExecutor(connection)
    pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if pending:
        print(f"synnefo: applying {len(pending)} database migrations...", flush=True)
        call_command("migrate", interactive=False, verbosity=1)


def bootstrap_admin(data_dir: Path) -> None:
    """On an empty database, create the first administrator and say where its secrets are."""
    from django.conf import settings

    from synnefo.astakos.logic import tokens, users
    from synnefo.astakos.models import User

    if User.objects.exists():
        return
    email = settings.ASTAKOS_BOOTSTRAP_ADMIN_EMAIL
    password = users.random_password()
    user = users.create_user(email, "Synnefo", "Administrator", password=password, admin=True)
    token, _ = tokens.renew_main_token(user)
    path = data_dir / CREDENTIALS_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(f"email: {email}\npassword: {password}\ntoken: {token}\nuuid: {user.uuid}\n")
    print(
        "synnefo: created the first administrator (shown once):\n"
        f"  email:    {email}\n  password: {password}\n  token:    {token}\n  uuid:     {user.uuid}\n"
        f"synnefo: saved to {path} (mode 0600)",
        flush=True,
    )


def wants_simulated_service() -> bool:
    """Run snf-ganeti-simulated when the node uses (or is about to add) the simulated backend."""
    from django.conf import settings

    from synnefo.cyclades.models import Backend

    if not settings.SYNNEFO_UP_SIMULATED_BACKEND:
        return False
    return not Backend.objects.exists() or Backend.objects.filter(clustername=settings.SIMULATED_GANETI_CLUSTER_NAME).exists()


def start_simulated_service(timeout: float = 30) -> subprocess.Popen | None:
    """Start snf-ganeti-simulated and wait until it answers RAPI with our credentials (so the
    backend check below talks to it, not to whatever else holds the port). None if it failed."""
    from synnefo.cyclades.ganeti.rapi import GanetiApiError, GanetiRapiClient
    from synnefo.cyclades.ganeti.simulated_rapi import backend_fields, files_from_settings

    files = files_from_settings()
    files.ensure()  # before the child starts: both would create them otherwise
    fields = backend_fields(files)
    process = subprocess.Popen(_simulated_command())
    client = GanetiRapiClient(fields["host"], fields["port"], fields["username"], fields["password"],
                              ca_file=fields["ca_file"], retries=0, connect_timeout=1, timeout=5)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and process.poll() is None:
            try:
                client.get_version()
                return process
            except GanetiApiError as exc:
                if exc.code is not None:  # something answered, but not our service
                    print(f"synnefo: 127.0.0.1:{fields['port']} is not this node's simulated cluster: {exc}",
                          file=sys.stderr, flush=True)
                    break
                time.sleep(0.2)
    finally:
        client.close()
    if process.poll() is None:
        process.terminate()
        process.wait(timeout=10)
    print("synnefo: the simulated Ganeti cluster (snf-ganeti-simulated) did not start; see above "
          "(SIMULATED_GANETI_PORT sets its port)", file=sys.stderr, flush=True)
    return None


def bootstrap_simulated_backend() -> None:
    """Point the simulated backend at the running snf-ganeti-simulated service: on a node
    without Ganeti backends add it (clearly named as such), so the all-in-one node runs the
    whole compute path with no Ganeti installed; a backend of an older data directory (host
    ``simulated``, the in-process cluster) is moved to the service; a changed port, password or
    certificate path (a moved data directory) is written to the backend."""
    from django.conf import settings
    from django.core.management import call_command

    from synnefo.cyclades.ganeti.rapi import GanetiApiError
    from synnefo.cyclades.ganeti.simulated import SIMULATED_HOST
    from synnefo.cyclades.ganeti.simulated_rapi import backend_fields
    from synnefo.cyclades.logic.backends import update_status
    from synnefo.cyclades.models import Backend

    name = settings.SIMULATED_GANETI_CLUSTER_NAME
    fields = backend_fields()
    in_process = Backend.objects.filter(host=SIMULATED_HOST).exclude(clustername=name)
    if in_process.exists():
        print(f"synnefo: warning: backends {', '.join(in_process.values_list('clustername', flat=True))} are "
              "in-process simulated clusters (for tests): each web worker sees its own instances", flush=True)
    backend = Backend.objects.filter(clustername=name).first()
    if backend is not None:
        legacy = backend.host == SIMULATED_HOST
        # Ours: the in-process one of old, or the service's (also after the data directory moved).
        ours = backend.ca_file == fields["ca_file"] or (backend.host, backend.username) == (fields["host"], fields["username"])
        if legacy or ours:
            changed = {k: v for k, v in fields.items() if getattr(backend, k) != v}
            if changed:
                for key, value in changed.items():
                    setattr(backend, key, value)
                backend.insecure = False
                backend.save()
                try:
                    update_status(backend)  # the statistics of the cluster it now reaches
                except GanetiApiError as exc:
                    print(f"synnefo: warning: cannot read the simulated cluster's status: {exc}", flush=True)
            if legacy:
                print(f"synnefo: the simulated backend '{name}' now uses the shared simulated cluster "
                      f"(snf-ganeti-simulated on 127.0.0.1:{fields['port']})", flush=True)
        return
    if Backend.objects.exists():
        return
    quiet = io.StringIO()
    call_command("backend-add", "--simulated", stdout=quiet)
    backend = Backend.objects.get(clustername=name)
    call_command("backend-modify", str(backend.pk), "--drained=False", stdout=quiet)
    print(f"synnefo: added the simulated Ganeti backend '{name}' (no VMs really run; "
          "see docs/ganeti.md to attach a real cluster)", flush=True)


def _simulated_command() -> list[str]:
    return [sys.executable, "-c", "from synnefo.cyclades.ganeti.simulated_rapi import main; main()"]


def _dispatcher_command() -> list[str]:
    return [sys.executable, "-c", "from synnefo.cyclades.dispatcher import main; main()"]


def _gunicorn_command(settings) -> list[str]:
    workers = settings.SYNNEFO_WEB_WORKERS or 2 * (os.cpu_count() or 1)
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "synnefo.webproject.wsgi:application",
        "--config",
        "python:synnefo.webproject.gunicorn_config",
        "--bind",
        settings.SYNNEFO_BIND,
        "--worker-class",
        "gthread",
        "--workers",
        str(workers),
        "--threads",
        str(settings.SYNNEFO_WEB_THREADS),
        "--graceful-timeout",
        "10",
        "--log-level",
        "warning",
    ]


def serve(commands: dict[str, list[str]], running: dict[str, subprocess.Popen] | None = None) -> int:
    """Run the processes (beside the ``running`` ones); when one exits or a signal comes, stop
    all of them."""
    stopping = False

    def stop(signum, frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    children = dict(running or {})
    children.update({name: subprocess.Popen(cmd) for name, cmd in commands.items()})
    code = 0
    while not stopping:
        exited = {name: p.returncode for name, p in children.items() if p.poll() is not None}
        if exited:
            for name, rc in exited.items():
                print(f"synnefo: {name} exited with status {rc}; stopping", file=sys.stderr, flush=True)
            code = 1
            break
        time.sleep(0.2)
    for process in children.values():
        if process.poll() is None:
            process.terminate()
    deadline = time.monotonic() + 15
    for process in children.values():
        try:
            process.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            process.kill()
    print("synnefo: stopped", flush=True)
    return code


def bootstrap_pools() -> None:
    """An all-in-one node gets the MAC-prefix and bridge pools networks need (docs/networks.md),
    unless they exist: users can create MAC_FILTERED networks at once."""
    from synnefo.cyclades.logic import pools
    from synnefo.cyclades.models import BridgePoolTable, MacPrefixPoolTable

    for kind, table, base, size in (("mac-prefix", MacPrefixPoolTable, "aa:00:0", 65536),
                                    ("bridge", BridgePoolTable, "prv", 20)):
        if not table.objects.exists():
            pools.create_pool(kind, base, size)
            print(f"synnefo: created the {kind} pool (base {base}, size {size})", flush=True)


def up(args) -> int:
    if args.data_dir:
        os.environ["SYNNEFO_DATA_DIR"] = args.data_dir
    if args.bind:
        os.environ["SYNNEFO_BIND"] = args.bind
    setup_django_or_exit("synnefo")
    from django.conf import settings

    data_dir = Path(settings.SYNNEFO_DATA_DIR)
    # Children must find the same data directory and bind address whatever they derive.
    os.environ["SYNNEFO_DATA_DIR"] = str(data_dir)
    os.environ["SYNNEFO_BIND"] = settings.SYNNEFO_BIND
    print(f"synnefo: data directory {data_dir}", flush=True)
    migrate()
    bootstrap_admin(data_dir)
    bootstrap_pools()
    from synnefo.archipelago.pithos import bootstrap_node as bootstrap_volume_store

    bootstrap_volume_store(data_dir)
    running = {}
    if wants_simulated_service():
        simulated = start_simulated_service()
        if simulated is None:
            return 1
        running["simulated-ganeti"] = simulated
        bootstrap_simulated_backend()
    base = f"http://{settings.SYNNEFO_BIND}"
    print(
        f"synnefo: serving {', '.join(settings.SYNNEFO_COMPONENTS)} on {base}/\n"
        f"  identity (Keystone v3): {base}/astakos/identity/v3   (Astakos v2.0: {base}/astakos/identity/v2.0)\n"
        f"  object store (Swift):   {base}/v1/<uuid>   (v1 auth: {base}/auth/v1.0)\n"
        + (f"  Ganeti RAPI (SIMULATED): https://127.0.0.1:{settings.SIMULATED_GANETI_PORT}   (backend "
           f"{settings.SIMULATED_GANETI_CLUSTER_NAME})\n" if running else "")
        + "synnefo: Ctrl-C stops",
        flush=True,
    )
    return serve({"web": _gunicorn_command(settings), "dispatcher": _dispatcher_command()}, running)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="synnefo", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    up_parser = sub.add_parser("up", help="Prepare and serve an all-in-one node")
    up_parser.add_argument("--data-dir", help="State directory (default: $SYNNEFO_DATA_DIR or ./var)")
    up_parser.add_argument("--bind", help="host:port to serve on (default: $SYNNEFO_BIND or 127.0.0.1:8000)")
    args = parser.parse_args(argv)
    sys.exit(up(args))


if __name__ == "__main__":
    main()
