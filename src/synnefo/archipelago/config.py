"""The archipelago configuration: ``/etc/default/archipelago``, shell-style ``KEY="value"``.

``STORAGE="files"`` needs ``FILED_IMAGES`` (the volumes' own writable objects), ``FILED_MAPS``
(volume and snapshot maps, and the locks), ``PITHOS`` (the Pithos content-addressed block
store, shared) and ``PITHOSMAPS`` (maps of Pithos objects exported for clones). There are no
defaults for these: a missing one is refused, by name. ``STORAGE="rados"`` needs
``RADOS_POOL_MAPS`` (maps, locks, records) and ``RADOS_POOL_BLOCKS`` (the content-addressed
blocks, Pithos's ``PITHOS_RADOS_POOL_BLOCKS``, and the volumes' objects), with ``CEPH_CONF``
(default /etc/ceph/ceph.conf) naming the cluster; see storage.py. Optional: ``BLOCK_SIZE``
(bytes, must equal PITHOS_BACKEND_BLOCK_SIZE), ``FSYNC`` ("yes"/"no"), ``VERBOSITY_*`` (the
peers' log levels), ``RUN_DIR`` (sockets, pid files, mappings) and ``LOG_DIR`` (the peers' logs).
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_PATH = "/etc/default/archipelago"
DEFAULT_BLOCK_SIZE = 4 * 1024 * 1024
DEFAULT_RUN_DIR = "/run/archipelago"
DEFAULT_LOG_DIR = "/var/log/archipelago"
DEFAULT_CEPH_CONF = "/etc/ceph/ceph.conf"
REQUIRED = {
    "files": ("FILED_IMAGES", "FILED_MAPS", "PITHOS", "PITHOSMAPS"),
    "rados": ("RADOS_POOL_MAPS", "RADOS_POOL_BLOCKS"),
}
# The peers (see docs/volumes.md) and the setting of each one's log level (0-3).
VERBOSITY = {"blockerb": "VERBOSITY_BLOCKERB", "blockerm": "VERBOSITY_BLOCKERM", "mapperd": "VERBOSITY_MAPPER",
             "vlmcd": "VERBOSITY_VLMC"}
VERBOSITY_KEYS = tuple(VERBOSITY.values())


class ConfigError(Exception):
    pass


@dataclass(frozen=True)
class Config:
    images: Path | None  # FILED_IMAGES (files)
    maps: Path | None  # FILED_MAPS (files)
    pithos: Path | None  # PITHOS (files)
    pithos_maps: Path | None  # PITHOSMAPS (files)
    block_size: int = DEFAULT_BLOCK_SIZE
    fsync: bool = True
    source: str = "<built>"
    run_dir: Path = Path(DEFAULT_RUN_DIR)  # RUN_DIR
    log_dir: Path = Path(DEFAULT_LOG_DIR)  # LOG_DIR
    verbosity: dict = field(default_factory=dict)  # peer name -> 0-3 (VERBOSITY)
    keeper_interval: float = 60.0  # KEEPER_INTERVAL: seconds between the store-side peers' passes
    storage: str = "files"  # STORAGE
    rados_pool_maps: str = ""  # RADOS_POOL_MAPS (rados)
    rados_pool_blocks: str = ""  # RADOS_POOL_BLOCKS (rados)
    ceph_conf: str = DEFAULT_CEPH_CONF  # CEPH_CONF (rados)


def parse(text: str, source: str = "<text>") -> dict[str, str]:
    """``KEY=value`` lines (values may be shell-quoted; ``#`` comments, ``export`` allowed)."""
    values: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :].strip()
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise ConfigError(f"{source}:{number}: expected KEY=value, got {raw.strip()!r}")
        try:
            words = shlex.split(value, comments=True)
        except ValueError as exc:
            raise ConfigError(f"{source}:{number}: {exc}") from None
        values[key] = " ".join(words)
    return values


def from_values(values: dict[str, str], source: str = "<values>") -> Config:
    storage = values.get("STORAGE", "")
    if storage not in REQUIRED:
        raise ConfigError(f"{source}: STORAGE must be \"files\" or \"rados\", got {storage!r}")
    missing = [key for key in REQUIRED[storage] if not values.get(key)]
    if missing:
        raise ConfigError(f"{source}: STORAGE=\"{storage}\" needs {', '.join(missing)} (no defaults)")
    if storage == "rados":
        from synnefo.common.radosclient import rados_available

        if not rados_available():
            raise ConfigError(f"{source}: STORAGE=\"rados\": the rados backend is not available on this node "
                              "(no python rados module, Debian python3-rados); use STORAGE=\"files\"")
    for key in VERBOSITY_KEYS:
        if values.get(key, "0") not in ("0", "1", "2", "3"):
            raise ConfigError(f"{source}: {key} must be 0, 1, 2 or 3, got {values[key]!r}")
    try:
        block_size = int(values.get("BLOCK_SIZE") or DEFAULT_BLOCK_SIZE)
    except ValueError:
        raise ConfigError(f"{source}: BLOCK_SIZE must be a number of bytes, got {values['BLOCK_SIZE']!r}") from None
    if block_size <= 0 or block_size % 512:
        raise ConfigError(f"{source}: BLOCK_SIZE must be a positive multiple of 512, got {block_size}")
    try:
        keeper_interval = float(values.get("KEEPER_INTERVAL") or 60)
    except ValueError:
        keeper_interval = 0
    if not keeper_interval > 0:
        raise ConfigError(f"{source}: KEEPER_INTERVAL must be a positive number of seconds, got {values['KEEPER_INTERVAL']!r}")
    fsync = values.get("FSYNC", "yes").lower()
    if fsync not in ("yes", "no"):
        raise ConfigError(f"{source}: FSYNC must be yes or no, got {fsync!r}")
    def path(key):
        return Path(values[key]) if values.get(key) else None

    return Config(
        images=path("FILED_IMAGES"),
        maps=path("FILED_MAPS"),
        pithos=path("PITHOS"),
        pithos_maps=path("PITHOSMAPS"),
        block_size=block_size,
        fsync=fsync == "yes",
        source=source,
        run_dir=Path(values.get("RUN_DIR") or DEFAULT_RUN_DIR),
        log_dir=Path(values.get("LOG_DIR") or DEFAULT_LOG_DIR),
        verbosity={peer: int(values.get(key) or 0) for peer, key in VERBOSITY.items()},
        keeper_interval=keeper_interval,
        storage=storage,
        rados_pool_maps=values.get("RADOS_POOL_MAPS", ""),
        rados_pool_blocks=values.get("RADOS_POOL_BLOCKS", ""),
        ceph_conf=values.get("CEPH_CONF") or DEFAULT_CEPH_CONF,
    )


def load(path: str | os.PathLike | None = None) -> Config:
    """The configuration at ``path`` (else $ARCHIPELAGO_CONFIG, else /etc/default/archipelago)."""
    path = Path(path or os.environ.get("ARCHIPELAGO_CONFIG") or DEFAULT_PATH)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such configuration file (see docs/volumes.md)") from None
    except OSError as exc:
        raise ConfigError(f"{path}: {exc.strerror}") from None
    return from_values(parse(text, str(path)), str(path))


def node_values(data_dir: str | os.PathLike, pithos_blocks: str | os.PathLike | None = None,
                block_size: int = DEFAULT_BLOCK_SIZE, rados: dict[str, str] | None = None) -> dict[str, str]:
    """A working configuration for an all-in-one node's data directory: files beside Pithos's
    block directory, or, with ``rados`` (CEPH_CONF, RADOS_POOL_MAPS, RADOS_POOL_BLOCKS: Pithos's
    blocks pool), RADOS."""
    data_dir = Path(data_dir)
    archip = data_dir / "archip"
    if rados:
        where = {"STORAGE": "rados", **rados}
    else:
        where = {
            "STORAGE": "files",
            "FILED_IMAGES": str(archip / "objects"),
            "FILED_MAPS": str(archip / "maps"),
            "PITHOS": str(pithos_blocks or data_dir / "blocks"),
            "PITHOSMAPS": str(archip / "pithosmaps"),
        }
    return {**where, "BLOCK_SIZE": str(block_size), "RUN_DIR": str(archip / "run"), "LOG_DIR": str(archip / "log")}


def render(values: dict[str, str]) -> str:
    lines = ["# Archipelago configuration (see docs/volumes.md)."]
    lines += [f'{key}="{value}"' if not set(value) & set('"$`\\\n') else f"{key}={shlex.quote(value)}"
              for key, value in values.items()]
    return "\n".join(lines) + "\n"
