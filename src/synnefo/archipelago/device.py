"""Block devices of volumes (``vlmc map`` / ``unmap`` / ``showmapped``).

A mapping is three layers, all local: vlmcd serves the volume over NBD on its Unix socket;
``nbdfuse`` (libnbd) exposes that export as the FUSE file ``<RUN_DIR>/mapped/<id>/<volume>``;
a loop device (``losetup``, direct I/O when the kernel allows it) over that file is the block
device. (There is no ``nbd`` kernel module here; loop and FUSE are.) The mapping's state is
``<RUN_DIR>/mapped/<id>.json`` so that it outlives the ``vlmc`` process: ``showmapped`` lists
them, and marks ``stale`` those whose loop device, FUSE mount or nbdfuse process is gone (e.g.
after a crash or reboot); ``unmap`` cleans a stale mapping up like a live one.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import time
import urllib.parse
from dataclasses import asdict, dataclass
from pathlib import Path

from synnefo.archipelago import nbd
from synnefo.archipelago.locks import device_owner
from synnefo.archipelago.vlmcd import socket_path

TOOLS = {"nbdfuse": "libnbd-bin", "fusermount3": "fuse3", "losetup": "mount"}
PACKAGES_SCRIPT = "deploy/archipelago-packages"
WAIT = 20.0  # seconds for nbdfuse to come up, a FUSE mount to go, vlmcd to release a lock


class DeviceError(Exception):
    """A refused or failed map/unmap (clear message)."""


@dataclass
class Mapping:
    id: int
    volume: str
    device: str
    mount: str  # the FUSE mount point (a directory)
    file: str  # the FUSE file the loop device reads
    nbdfuse_pid: int
    readonly: bool = False

    def state(self) -> str:
        """``mapped``, or ``stale`` if a layer is gone."""
        if not _alive(self.nbdfuse_pid) or not _mounted(self.mount) or _backing_file(self.device) != self.file:
            return "stale"
        return "mapped"


def missing_tools() -> list[str]:
    return [f"{tool} ({package})" for tool, package in TOOLS.items() if shutil.which(tool) is None]


def _mapped_dir(config) -> Path:
    return config.run_dir / "mapped"


def mappings(config) -> list[Mapping]:
    directory = _mapped_dir(config)
    if not directory.is_dir():
        return []
    found = []
    for path in sorted(directory.glob("*.json"), key=lambda p: int(p.stem) if p.stem.isdigit() else -1):
        try:
            found.append(Mapping(**json.loads(path.read_text())))
        except (ValueError, TypeError):
            continue  # a state file cut by a crash in map: its id directory is cleaned by unmap <id>
    return found


def find(config, what: str) -> Mapping:
    """A mapping by device (``/dev/loop3``), id (``3``) or volume name."""
    for mapping in mappings(config):
        if what in (mapping.device, str(mapping.id), mapping.volume):
            return mapping
    raise DeviceError(f"{what} is not mapped (see vlmc showmapped)")


def _alive(pid: int) -> bool:
    try:
        os.waitpid(pid, os.WNOHANG)  # reap it if it is our child (tests map in-process)
    except ChildProcessError:
        pass
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def _mounted(mount: str) -> bool:
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == mount for line in f)


def _backing_file(device: str) -> str | None:
    try:
        return Path(f"/sys/block/{Path(device).name}/loop/backing_file").read_text().strip()
    except OSError:
        return None


def _run(command: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def _tail(path: Path) -> str:
    try:
        return " ".join(path.read_text().split()[-40:])
    except OSError:
        return ""


def map_volume(config, store, name: str) -> Mapping:
    if not store.exists(name):
        raise DeviceError(f"no such volume or snapshot: {name}")
    for mapping in mappings(config):
        if mapping.volume == name:
            raise DeviceError(f"{name} is already mapped at {mapping.device} (id {mapping.id}, {mapping.state()})")
    sock = socket_path(config)
    try:
        with nbd.Client(str(sock)) as client:
            _, readonly = client.info(name)
    except (FileNotFoundError, ConnectionRefusedError):
        raise DeviceError(f"vlmcd is not running (no server on {sock}): archipelago start") from None
    except nbd.NBDError as exc:
        raise DeviceError(f"cannot map {name}: {exc}") from None
    missing = missing_tools()
    if missing:
        raise DeviceError(f"missing {', '.join(missing)}: run {PACKAGES_SCRIPT} (as root)")
    directory = _mapped_dir(config)
    directory.mkdir(parents=True, exist_ok=True)
    ident = 0
    while True:  # the mount directory is the id's reservation (mkdir is atomic)
        try:
            (directory / str(ident)).mkdir()
            break
        except FileExistsError:
            ident += 1
    mount = directory / str(ident)
    fuse_file = mount / name
    log_file, pid_file = directory / f"{ident}.log", directory / f"{ident}.nbdfuse.pid"
    uri = f"nbd+unix:///{urllib.parse.quote(name, safe='')}?socket={urllib.parse.quote(str(sock), safe='/')}"
    with open(log_file, "wb") as log:
        process = subprocess.Popen(["nbdfuse", "-P", str(pid_file), *(["-r"] if readonly else []), str(fuse_file), uri],
                                   stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
    deadline = time.monotonic() + WAIT
    while not pid_file.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            if process.poll() is None:
                process.kill()
            process.wait()
            mount.rmdir()
            raise DeviceError(f"nbdfuse failed for {name}: {_tail(log_file)}")
        time.sleep(0.02)
    device = _attach_loop(str(fuse_file), readonly)
    if device is None:
        _unmount(str(mount), process.pid)
        mount.rmdir()
        raise DeviceError(f"losetup failed for {fuse_file}: {_tail(log_file)}")
    mapping = Mapping(ident, name, device, str(mount), str(fuse_file), process.pid, readonly)
    (directory / f"{ident}.json").write_text(json.dumps(asdict(mapping)))
    return mapping


def _attach_loop(path: str, readonly: bool) -> str | None:
    """A free loop device over ``path`` (direct I/O if possible: no second page cache)."""
    base = ["losetup", "--find", "--show", *(["--read-only"] if readonly else [])]
    for attempt in range(6):  # another losetup may take the free device first
        for options in (["--direct-io=on"], []):
            result = _run(base + options + [path])
            if result.returncode == 0:
                return result.stdout.strip()
        time.sleep(0.1 * (attempt + 1))
    return None


def _unmount(mount: str, pid: int) -> None:
    deadline = time.monotonic() + WAIT
    while _mounted(mount):
        result = _run(["fusermount3", "-u", mount])
        if result.returncode == 0:
            break
        if time.monotonic() > deadline:
            raise DeviceError(f"cannot unmount {mount}: {result.stderr.strip()}")
        time.sleep(0.05)
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)


def unmap(config, store, what: str) -> Mapping:
    """Detach the loop device, unmount the FUSE file (nbdfuse disconnects, vlmcd closes the
    volume and releases its lock) and forget the mapping. Refused while the device is in use
    (mounted, opened exclusively)."""
    mapping = find(config, what)
    if _backing_file(mapping.device) == mapping.file:
        try:
            os.close(os.open(mapping.device, os.O_RDONLY | os.O_EXCL))
        except OSError as exc:
            if exc.errno == errno.EBUSY:
                raise DeviceError(f"{mapping.device} is in use (mounted or open by a hypervisor?)") from None
            raise
        result = _run(["losetup", "--detach", mapping.device])
        if result.returncode != 0 and _backing_file(mapping.device) == mapping.file:
            raise DeviceError(f"losetup --detach {mapping.device}: {result.stderr.strip()}")
        deadline = time.monotonic() + WAIT
        while _backing_file(mapping.device) == mapping.file and time.monotonic() < deadline:
            time.sleep(0.02)
    _unmount(mapping.mount, mapping.nbdfuse_pid)
    # vlmcd closes the volume when nbdfuse's connection ends: wait for the lock to go, so that
    # what comes next (vlmc remove, a migration's open on another host) finds it free.
    holder = device_owner(store.owner)
    deadline = time.monotonic() + WAIT
    while not mapping.readonly and time.monotonic() < deadline:
        lock = store.locks.get(mapping.volume)
        if lock is None or lock.owner != holder or not _alive(lock.pid):
            break
        time.sleep(0.02)
    directory = _mapped_dir(config)
    for leftover in (f"{mapping.id}.json", f"{mapping.id}.log", f"{mapping.id}.nbdfuse.pid"):
        (directory / leftover).unlink(missing_ok=True)
    try:
        os.rmdir(mapping.mount)
    except FileNotFoundError:
        pass
    return mapping
