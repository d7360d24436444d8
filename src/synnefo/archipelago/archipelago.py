"""``archipelago``: start, stop and show the peers of this node (see docs/volumes.md, "Peers").

    archipelago [-c CONFIG] [-u] start|stop|restart [PEER]
    archipelago [-c CONFIG] status

Peers, in start order: ``blockerb``, ``blockerm``, ``mapperd`` (the store-side peers, the
"userspace" ones that ``-u`` selects) and ``vlmcd`` (the volume server behind the block
devices). Each runs as ``python -m synnefo.archipelago.peers <peer>`` in its own session, with
``<RUN_DIR>/<peer>.pid`` and ``<LOG_DIR>/<peer>.log``. Exit codes: 0 done, 1 refused or
failed, 2 bad usage or configuration.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time

from synnefo.archipelago import config as archip_config
from synnefo.archipelago import device, peers
from synnefo.archipelago.store import VolumeError, VolumeStore

USERSPACE = ("blockerb", "blockerm", "mapperd")
START_WAIT, STOP_WAIT = 30.0, 60.0


class Refused(Exception):
    pass


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="archipelago", description="Start, stop and show the archipelago peers.")
    p.add_argument("-c", "--config", help="configuration file (default $ARCHIPELAGO_CONFIG or /etc/default/archipelago)")
    p.add_argument("-u", "--user", action="store_true", help=f"only the userspace peers ({', '.join(USERSPACE)})")
    sub = p.add_subparsers(dest="command", required=True, metavar="command")
    for name, text in (("start", "start the peers (or one)"), ("stop", "stop the peers (or one)"),
                       ("restart", "stop, then start")):
        sub.add_parser(name, help=text).add_argument("peer", nargs="?", choices=list(peers.PEERS))
    sub.add_parser("status", help="each peer: running (pid) or stopped")
    return p


def selected(args) -> list[str]:
    if args.command != "status" and args.peer:
        if args.user and args.peer not in USERSPACE:
            raise Refused(f"{args.peer} is not a userspace peer (-u: {', '.join(USERSPACE)})")
        return [args.peer]
    return [peer for peer in peers.PEERS if peer in USERSPACE or not args.user]


def start(config, config_path: str, peer: str, out) -> None:
    pid = peers.running_pid(config, peer)
    if pid:
        print(f"{peer}: already running (pid {pid})", file=out)
        return
    config.run_dir.mkdir(parents=True, exist_ok=True)
    log = peers.log_path(config, peer)
    log.parent.mkdir(parents=True, exist_ok=True)
    peers.pid_path(config, peer).unlink(missing_ok=True)  # a stale one (checked just above)
    with open(log, "ab") as log_file:
        process = subprocess.Popen([sys.executable, "-m", "synnefo.archipelago.peers", peer, "-c", config_path],
                                   stdin=subprocess.DEVNULL, stdout=log_file, stderr=log_file,
                                   start_new_session=True)
    deadline = time.monotonic() + START_WAIT
    while not ready(config, peer, process.pid):
        if process.poll() is not None or time.monotonic() > deadline:
            if process.poll() is None:
                process.kill()
            process.wait()
            tail = log.read_text(errors="replace").strip().splitlines()[-3:]
            raise Refused(f"{peer} did not start: {' / '.join(tail) or 'no log'} (see {log})")
        time.sleep(0.02)
    print(f"{peer}: started (pid {process.pid})", file=out)


def ready(config, peer: str, pid: int) -> bool:
    if peers.running_pid(config, peer) != pid:
        return False
    if peer == "vlmcd":
        from synnefo.archipelago.vlmcd import socket_path

        return socket_path(config).exists()
    return True


def stop(config, peer: str, out) -> None:
    pid = peers.running_pid(config, peer)
    if not pid:
        print(f"{peer}: not running", file=out)
        return
    if peer == "vlmcd":
        live = [f"{m.device} ({m.volume})" for m in device.mappings(config) if m.state() == "mapped"]
        if live:
            raise Refused(f"vlmcd serves mapped volumes: {', '.join(live)}; vlmc unmap them first")
    os.kill(pid, signal.SIGTERM)  # the peer finishes what it is doing, then exits
    deadline = time.monotonic() + STOP_WAIT
    while peers.running_pid(config, peer) == pid:
        if time.monotonic() > deadline:
            raise Refused(f"{peer} (pid {pid}) did not stop within {STOP_WAIT:.0f} s; see {peers.log_path(config, peer)}")
        time.sleep(0.02)
    print(f"{peer}: stopped", file=out)


def main(argv: list[str] | None = None, out=None) -> int:
    out = out or sys.stdout
    args = parser().parse_args(argv)
    config_path = args.config or os.environ.get("ARCHIPELAGO_CONFIG") or archip_config.DEFAULT_PATH
    try:
        config = archip_config.load(config_path)
    except archip_config.ConfigError as exc:
        print(f"archipelago: configuration: {exc}", file=sys.stderr)
        return 2
    try:
        names = selected(args)
        if args.command == "status":
            for peer in names:
                pid = peers.running_pid(config, peer)
                print(f"{peer}\t{f'running (pid {pid})' if pid else 'stopped'}", file=out)
            return 0
        if args.command in ("stop", "restart"):
            for peer in reversed(names):
                stop(config, peer, out)
        if args.command in ("start", "restart"):
            VolumeStore(config)  # the store's directories must be there (mounted)
            for peer in names:
                start(config, os.path.abspath(config_path), peer, out)
    except (Refused, VolumeError) as exc:
        print(f"archipelago: {exc}", file=sys.stderr)
        return 1
    return 0


def main_exit() -> None:
    """The ``archipelago`` console script."""
    sys.exit(main())
