"""Running one archipelago peer as a process: ``python -m synnefo.archipelago.peers <peer> -c
CONFIG`` (what ``archipelago start`` runs). The peer logs to ``<LOG_DIR>/<peer>.log`` at the
level ``VERBOSITY_<PEER>`` (0 warnings, 1 info, 2 and 3 debug), writes ``<RUN_DIR>/<peer>.pid``
while it runs, and stops cleanly on SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import signal
import sys
import threading
from pathlib import Path

from synnefo.archipelago import config as archip_config

# peer -> "module:function", the function serve(config, stopping) that is its work; in the
# order they start (stop: the reverse)
PEERS = {
    "blockerb": "synnefo.archipelago.keepers:serve_blockerb",
    "blockerm": "synnefo.archipelago.keepers:serve_blockerm",
    "mapperd": "synnefo.archipelago.keepers:serve_mapperd",
    "vlmcd": "synnefo.archipelago.vlmcd:serve",
}
LEVELS = {0: logging.WARNING, 1: logging.INFO, 2: logging.DEBUG, 3: logging.DEBUG}


def pid_path(config, peer: str) -> Path:
    return config.run_dir / f"{peer}.pid"


def log_path(config, peer: str) -> Path:
    return config.log_dir / f"{peer}.log"


def running_pid(config, peer: str) -> int | None:
    """The pid of the running ``peer`` of this configuration (from its pid file, checked to be
    that peer's process: a pid file left by a crash, or a reused pid, counts as not running)."""
    try:
        pid = int(pid_path(config, peer).read_text())
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            words = f.read().split(b"\0")
        with open(f"/proc/{pid}/stat") as f:
            if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                return None
    except (OSError, ValueError, IndexError):
        return None
    return pid if b"synnefo.archipelago.peers" in words and peer.encode() in words else None


def main_peer(peer: str | None = None, argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=f"archipelago peer {peer or ''}".strip())
    if peer is None:
        parser.add_argument("peer", choices=list(PEERS))
    parser.add_argument("-c", "--config", help="configuration file (default $ARCHIPELAGO_CONFIG or /etc/default/archipelago)")
    parser.add_argument("--log", help="log file (default <LOG_DIR>/<peer>.log; '-' for stderr)")
    args = parser.parse_args(argv)
    peer = peer or args.peer
    try:
        config = archip_config.load(args.config)
    except archip_config.ConfigError as exc:
        print(f"{peer}: configuration: {exc}", file=sys.stderr)
        return 2
    if args.log == "-":
        handler = logging.StreamHandler(sys.stderr)
    else:
        path = Path(args.log) if args.log else log_path(config, peer)
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter(f"%(asctime)s {peer}[%(process)d] %(levelname)s %(message)s"))
    root = logging.getLogger("synnefo.archipelago")
    root.addHandler(handler)
    root.setLevel(LEVELS[config.verbosity.get(peer, 0)])
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    config.run_dir.mkdir(parents=True, exist_ok=True)
    pid_file = pid_path(config, peer)
    pid_file.write_text(f"{os.getpid()}\n")
    try:
        module, function = PEERS[peer].split(":")
        getattr(importlib.import_module(module), function)(config, stopping)
    except Exception as exc:
        logging.getLogger(f"synnefo.archipelago.{peer}").exception("failed")
        print(f"{peer}: {exc}", file=sys.stderr)
        return 1
    finally:
        if pid_file.read_text().strip() == str(os.getpid()):
            pid_file.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main_peer())
