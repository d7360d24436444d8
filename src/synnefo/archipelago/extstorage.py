"""The Ganeti ExtStorage provider ``archipelago``: one entry point for every script.

Ganeti runs ``<provider dir>/<script>`` (create, attach, detach, remove, grow, snapshot, setinfo,
verify) with its input in the environment (``man ganeti-extstorage-interface``); each script is
the same shell wrapper (``deploy/extstorage/archipelago/provider``), which reads the provider's
``provider.conf`` (written by ``deploy/install-extstorage``: which Python, which archipelago
configuration) and runs ``python -m synnefo.archipelago.extstorage <script>``.

Everything goes through the volume store alone (no database): a Ganeti node needs only the
shared store mounted and its ``/etc/default/archipelago``. Exit 0 when done; 1 when refused or
failed, with one line ``archipelago <script>: <reason>`` on stderr and nothing changed; 2 for bad
usage or configuration.

The volume: ``VOL_CNAME`` (the disk's name, e.g. Cyclades' ``<instance>-root``) when Ganeti gives
one, else ``VOL_NAME`` (``<uuid>.ext.disk<N>``). Ganeti gives the snapshot script only
``VOL_NAME``, so create records which volume a ``VOL_NAME`` is, in the store's records
(``FILED_MAPS/.extstorage/<VOL_NAME>``, or the object ``<VOL_NAME>`` of the maps pool's
namespace ``extstorage``; with the metadata of setinfo); remove deletes it.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

from synnefo.archipelago import config as archip_config
from synnefo.archipelago import device, nbd
from synnefo.archipelago.locks import LockError
from synnefo.archipelago.mapfile import MapError
from synnefo.archipelago.store import VolumeError, VolumeStore
from synnefo.archipelago.vlmcd import socket_path

MiB = 1 << 20
SCRIPTS = ("create", "attach", "detach", "remove", "grow", "snapshot", "setinfo", "verify")
USAGE = (
    "usage: {script}  (a Ganeti ExtStorage script of provider archipelago: its input is in the environment,\n"
    "VOL_NAME, VOL_CNAME, VOL_SIZE, VOL_NEW_SIZE, EXTP_ORIGIN, VOL_METADATA, VOL_SNAPSHOT_NAME;\n"
    "see man ganeti-extstorage-interface and docs/volumes.md)"
)


class Refused(Exception):
    """Bad input from Ganeti's environment: nothing was done."""


def _mib(env, key: str) -> int:
    value = env.get(key, "")
    if not re.fullmatch(r"\d+", value) or int(value) <= 0:
        raise Refused(f"{key} must be a positive number of MiB, got {value!r}")
    return int(value) * MiB


class Provider:
    def __init__(self, store: VolumeStore, env):
        self.store, self.env = store, env
        self.storage = store.storage

    # The volume a Ganeti disk is ------------------------------------------------------------

    def ganeti_name(self) -> str:
        name = self.env.get("VOL_NAME", "")
        if not name:
            raise Refused("VOL_NAME is not set (Ganeti sets it for every script)")
        if name.startswith(".") or "/" in name:
            raise Refused(f"invalid VOL_NAME {name!r}")
        return name

    def _record(self, ganeti_name: str | None = None) -> dict | None:
        ganeti_name = ganeti_name or self.ganeti_name()
        data = self.storage.read_record(ganeti_name)
        try:
            return None if data is None else json.loads(data)
        except ValueError as exc:
            raise VolumeError(f"unreadable record of {ganeti_name}: {exc}") from None

    def _write_record(self, record: dict) -> None:
        self.storage.write_record(self.ganeti_name(), json.dumps(record).encode())

    def volume(self) -> str:
        """The store's name of the disk: VOL_CNAME if given, else what create recorded, else VOL_NAME."""
        if self.env.get("VOL_CNAME"):
            return self.env["VOL_CNAME"]
        record = self._record()
        return record["volume"] if record else self.ganeti_name()

    # Scripts --------------------------------------------------------------------------------

    def _check_can_attach(self) -> None:
        """Ganeti attaches a disk right after creating it, and when that fails it does not remove
        it (its remove needs an attached disk): refuse to create what could not be attached."""
        missing = device.missing_tools()
        if missing:
            raise Refused(f"this node cannot map volumes: missing {', '.join(missing)} "
                          f"(run {device.PACKAGES_SCRIPT}); nothing created")
        sock = socket_path(self.store.config)
        try:
            with nbd.Client(str(sock), timeout=10):
                pass
        except (OSError, nbd.NBDError):
            raise Refused(f"vlmcd is not running on this node (no server on {sock}); nothing created") from None

    def create(self) -> None:
        name = self.volume()
        size = _mib(self.env, "VOL_SIZE")
        self._check_can_attach()
        origin = self.env.get("EXTP_ORIGIN", "")
        if not origin and self.store.exists(name):
            self._adopt(name, size)
            return
        if origin:
            # Store origins only (a snapshot, or an image's map exported to PITHOSMAPS by
            # Cyclades): a Ganeti node has no database to look a Pithos image up.
            try:
                self.store.origin(origin)
            except VolumeError as exc:
                raise VolumeError(f"{exc} (origins are snapshots of the store and image maps exported to "
                                  "PITHOSMAPS; a node cannot look up Pithos images)") from None
            self.store.clone(name, origin, size)
        else:
            self.store.create(name, size)
        try:
            self._write_record({"volume": name, "origin": origin or None})
        except BaseException:
            self.store.remove(name)  # nothing half-created stays
            raise

    def _adopt(self, name: str, size: int) -> None:
        """A volume made in the store beforehand (Cyclades may make a server's volume itself, a
        thin clone named ``snf-vol-<id>``) becomes this Ganeti disk, if nothing else has it:
        a volume, not a snapshot, of exactly VOL_SIZE, not locked, no other disk's record."""
        volume_map = self.store.map_of(name)
        if volume_map.readonly:
            raise VolumeError(f"{name} already exists and is a snapshot")
        if volume_map.size != size:
            raise VolumeError(f"{name} already exists with {volume_map.size // MiB} MiB, not VOL_SIZE {size // MiB}")
        lock = self.store.locks.get(name)
        if lock is not None:
            raise LockError(f"{name} already exists and is in use (locked by {lock.owner})")
        for other in self.storage.record_names():
            if other != self.ganeti_name():
                try:
                    record = self._record(other)
                except VolumeError:
                    continue
                if record and record.get("volume") == name:
                    raise VolumeError(f"{name} already exists and is the disk {other} of Ganeti")
        self._write_record({"volume": name, "origin": None, "adopted": True})

    def _mapping(self, name: str):
        return next((m for m in device.mappings(self.store.config) if m.volume == name), None)

    def attach(self) -> str:
        """The volume's block device: the one it is mapped to (attach is idempotent), else a new
        mapping (``vlmc map``); a stale mapping (crash, reboot) is cleaned up and made again."""
        name = self.volume()
        if not self.store.exists(name):
            raise VolumeError(f"no such volume or snapshot: {name}")
        mapping = self._mapping(name)
        if mapping is not None and mapping.state() == "mapped":
            return mapping.device
        if mapping is not None:
            device.unmap(self.store.config, self.store, str(mapping.id))
        return device.map_volume(self.store.config, self.store, name).device

    def detach(self) -> None:
        """``vlmc unmap`` of the volume's device; nothing if it is not mapped."""
        mapping = self._mapping(self.volume())
        if mapping is not None:
            device.unmap(self.store.config, self.store, str(mapping.id))

    def remove(self) -> None:
        self.store.remove(self.volume())
        self.storage.remove_record(self.ganeti_name())

    def grow(self) -> None:
        name = self.volume()
        new_size = _mib(self.env, "VOL_NEW_SIZE")
        current = self.store.map_of(name).size
        if new_size < current:
            raise Refused(f"cannot shrink {name} from {current // MiB} to {new_size // MiB} MiB (VOL_NEW_SIZE)")
        self.store.resize(name, new_size)

    def snapshot(self) -> None:
        snapshot = self.env.get("VOL_SNAPSHOT_NAME", "")
        if not snapshot:
            raise Refused("VOL_SNAPSHOT_NAME is not set")
        self.store.snapshot(self.volume(), snapshot)

    def setinfo(self) -> None:
        name = self.volume()
        self.store.map_of(name)
        record = self._record() or {"volume": name, "origin": None}
        record["metadata"] = self.env.get("VOL_METADATA", "")
        self._write_record(record)

    def verify(self) -> None:
        """The configuration loads and the store is there (done before we get here); an origin
        given as ext parameter exists."""
        if self.env.get("EXTP_ORIGIN"):
            self.store.origin(self.env["EXTP_ORIGIN"])


def main(argv: list[str] | None = None, env=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    env = os.environ if env is None else env
    script = Path(argv[0]).name if argv else ""
    if script not in SCRIPTS:
        print(f"archipelago: unknown script {script!r}; one of {', '.join(SCRIPTS)}", file=sys.stderr)
        return 2
    args = argv[1:]
    if args and args[0] in ("-h", "--help"):
        print(USAGE.format(script=script))
        return 0
    if args and script != "verify":
        print(USAGE.format(script=script), file=sys.stderr)
        return 2
    prefix = f"archipelago {script}"
    try:
        store = VolumeStore(archip_config.load(env.get("ARCHIPELAGO_CONFIG")))
    except archip_config.ConfigError as exc:
        print(f"{prefix}: configuration: {exc}", file=sys.stderr)
        return 2
    except VolumeError as exc:
        print(f"{prefix}: {exc}", file=sys.stderr)
        return 2
    try:
        result = getattr(Provider(store, env), script)()
    except (Refused, VolumeError, LockError, MapError, device.DeviceError) as exc:
        print(f"{prefix}: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"{prefix}: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), file=sys.stderr)
        return 1
    if result:
        print(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
