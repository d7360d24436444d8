"""``vlmc``: the volume tool (see docs/volumes.md for every command).

Exit codes: 0 done, 1 refused or failed (one line on stderr: ``vlmc: <reason>``), 2 bad usage
or configuration.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys

from synnefo.archipelago import config as archip_config
from synnefo.archipelago import device
from synnefo.archipelago.locks import LockError
from synnefo.archipelago.mapfile import MapError
from synnefo.archipelago.store import VolumeError, VolumeStore

UNITS = {"": 1 << 20, "B": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


class UsageError(Exception):
    pass


def parse_size(text: str) -> int:
    """``1024`` (MiB, as upstream vlmc), or with a unit: ``512B``, ``64K``, ``10M``, ``10G``, ``1T``."""
    match = re.fullmatch(r"\s*(\d+)\s*([BKMGT]?)(?:i?B)?\s*", text, re.IGNORECASE)
    if not match or int(match[1]) <= 0:
        raise argparse.ArgumentTypeError(f"invalid size {text!r}: a positive number of MiB, or with a unit B/K/M/G/T")
    return int(match[1]) * UNITS[match[2].upper()]


def human(size: int) -> str:
    for unit in ("T", "G", "M", "K"):
        if size >= UNITS[unit] and size % UNITS[unit] == 0:
            return f"{size // UNITS[unit]}{unit}"
    return f"{size}B"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="vlmc", description="Archipelago volumes: create, clone, snapshot, lock.")
    p.add_argument("-c", "--config", help="configuration file (default $ARCHIPELAGO_CONFIG or /etc/default/archipelago)")
    sub = p.add_subparsers(dest="command", required=True, metavar="command")
    create = sub.add_parser("create", help="create a volume: empty (--size) or a thin clone (--snap)")
    create.add_argument("volume")
    create.add_argument("--snap", help="snapshot, pithos://account/container/object or image id to clone")
    create.add_argument("--size", type=parse_size, help="size (MiB, or with a unit B/K/M/G/T)")
    snapshot = sub.add_parser("snapshot", help="freeze a volume as a read-only snapshot")
    snapshot.add_argument("volume")
    snapshot.add_argument("snapshot")
    snapshot.add_argument("--account", help="also register it in this account's Pithos 'snapshots' container (uuid)")
    for name, text in (("remove", "remove a volume or snapshot and its own objects"), ("info", "show a volume"),
                       ("open", "open a volume (take its lock; succeeds if already open by us)"),
                       ("close", "close a volume opened by us (release its lock)"),
                       ("lock", "lock a volume for this host")):
        sub.add_parser(name, help=text).add_argument("volume")
    unlock = sub.add_parser("unlock", help="release our lock of a volume; -f breaks anyone's")
    unlock.add_argument("-f", "--force", action="store_true", help="break a lock held by another owner")
    unlock.add_argument("volume")
    resize = sub.add_parser("resize", help="grow a volume")
    resize.add_argument("volume")
    resize.add_argument("--size", type=parse_size, required=True, help="new size (MiB, or with a unit)")
    sub.add_parser("list", help="list volumes and snapshots")
    sub.add_parser("map", help="map a volume to a block device (vlmcd must run); prints the device").add_argument("volume")
    sub.add_parser("unmap", help="unmap a block device (or a mapping's id or volume)").add_argument("device")
    sub.add_parser("showmapped", help="list the mapped volumes: id, volume, device, state")
    return p


def _django():
    """Set Django up (only for Pithos images and snapshot registration)."""
    from synnefo.common.conf import setup_django_or_exit

    setup_django_or_exit("vlmc")


def _needs_pithos(origin: str) -> bool:
    return "://" in origin or bool(re.fullmatch(r"[0-9a-fA-F-]{32,36}", origin))


def run(args, store: VolumeStore, out) -> None:
    command = args.command
    if command == "create":
        if args.snap is None and args.size is None:
            raise UsageError("create needs --snap or --size (or both)")
        if args.snap is None:
            store.create(args.volume, args.size)
        elif _needs_pithos(args.snap) and not store.exists(args.snap):
            _django()
            from synnefo.archipelago import pithos

            pithos.clone(store, args.volume, args.snap, args.size)
        else:
            store.clone(args.volume, args.snap, args.size)
        print(f"created {args.volume} ({human(store.map_of(args.volume).size)})", file=out)
    elif command == "snapshot":
        store.snapshot(args.volume, args.snapshot)
        print(f"snapshot {args.snapshot} of {args.volume}", file=out)
        if args.account:
            _django()
            from synnefo.archipelago import pithos

            version = pithos.register_snapshot(store, args.snapshot, args.account)
            print(f"registered pithos://{args.account}/{pithos.SNAPSHOTS_CONTAINER}/{version.name}", file=out)
    elif command == "remove":
        store.remove(args.volume)
        print(f"removed {args.volume}", file=out)
    elif command == "list":
        for name, volume_map in store.list():
            kind = "snapshot" if volume_map.readonly else "volume"
            lock = store.locks.get(name)
            print(f"{name}\t{kind}\t{human(volume_map.size)}\t{lock.owner if lock else '-'}", file=out)
    elif command == "info":
        print(json.dumps(store.info(args.volume), indent=2), file=out)
    elif command == "open":
        print(f"opened {args.volume}" if store.open(args.volume) else f"{args.volume} already open by {store.owner}", file=out)
    elif command == "close":
        store.close(args.volume)
        print(f"closed {args.volume}", file=out)
    elif command == "lock":
        print(f"locked {args.volume}" if store.lock(args.volume) else f"{args.volume} already locked by {store.owner}", file=out)
    elif command == "unlock":
        lock = store.unlock(args.volume, args.force)
        print(f"unlocked {args.volume}" + (f" (broke the lock of {lock.owner})" if lock.owner != store.owner else ""), file=out)
    elif command == "map":
        print(device.map_volume(store.config, store, args.volume).device, file=out)
    elif command == "unmap":
        mapping = device.unmap(store.config, store, args.device)
        print(f"unmapped {mapping.device} ({mapping.volume})", file=out)
    elif command == "showmapped":
        print("id\tvolume\tdevice\tstate", file=out)
        for mapping in device.mappings(store.config):
            print(f"{mapping.id}\t{mapping.volume}\t{mapping.device}\t{mapping.state()}", file=out)
    elif command == "resize":
        store.resize(args.volume, args.size)
        print(f"resized {args.volume} to {human(args.size)}", file=out)


def main(argv: list[str] | None = None, out=None) -> int:
    out = out or sys.stdout
    args = parser().parse_args(argv)
    try:
        config = archip_config.load(args.config or os.environ.get("ARCHIPELAGO_CONFIG"))
    except archip_config.ConfigError as exc:
        print(f"vlmc: configuration: {exc}", file=sys.stderr)
        return 2
    try:
        run(args, VolumeStore(config), out)
    except UsageError as exc:
        print(f"vlmc: {exc}", file=sys.stderr)
        return 2
    except (VolumeError, LockError, MapError, device.DeviceError) as exc:
        print(f"vlmc: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"vlmc: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), file=sys.stderr)
        return 1
    return 0


def main_exit() -> None:
    """The ``vlmc`` console script."""
    sys.exit(main())


if __name__ == "__main__":
    main_exit()
