"""Helpers for volume store tests: a store over fresh directories, small blocks; the packages,
devices and daemons the block device tests need."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from synnefo.archipelago.config import Config
from synnefo.archipelago.store import VolumeStore
from tests.services import require

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ROOT / "deploy" / "archipelago-packages"

SMALL_BLOCK = 1024


def make_config(root: Path, block_size: int = SMALL_BLOCK, pithos: Path | None = None) -> Config:
    return Config(
        images=root / "objects",
        maps=root / "maps",
        pithos=pithos or root / "blocks",
        pithos_maps=root / "pithosmaps",
        block_size=block_size,
        fsync=False,
    )


def make_store(root: Path, owner: str = "node1/blockerm", **kwargs) -> VolumeStore:
    return VolumeStore(make_config(root, **kwargs), owner, create_dirs=True)


def write_config_file(path: Path, root: Path, block_size: int = SMALL_BLOCK, extra: str = "") -> Path:
    """A configuration file for a store under ``root`` (whose directories are created), plus
    ``extra`` lines."""
    for name in ("objects", "maps", "blocks", "pithosmaps"):
        (root / name).mkdir(parents=True, exist_ok=True)
    path.write_text(
        "# test store\n"
        'STORAGE="files"\n'
        f'FILED_IMAGES="{root}/objects"\n'
        f"FILED_MAPS={root}/maps\n"
        f"PITHOS='{root}/blocks'\n"
        f'export PITHOSMAPS="{root}/pithosmaps"\n'
        f"BLOCK_SIZE={block_size}\n"
        "FSYNC=no\n"
        f"RUN_DIR={root}/run\n"
        f"LOG_DIR={root}/log\n" + extra
    )
    return path


def write_rados_config_file(path: Path, ceph: dict, maps_pool: str, blocks_pool: str, root: Path,
                            block_size: int = SMALL_BLOCK, extra: str = "") -> Path:
    """A STORAGE="rados" configuration over the Ceph sandbox's pools (run and log directories
    under ``root``)."""
    path.write_text(
        'STORAGE="rados"\n'
        f"CEPH_CONF={ceph['CEPH_CONF']}\n"
        f"RADOS_POOL_MAPS={maps_pool}\n"
        f"RADOS_POOL_BLOCKS={blocks_pool}\n"
        f"BLOCK_SIZE={block_size}\n"
        f"RUN_DIR={root}/run\n"
        f"LOG_DIR={root}/log\n" + extra
    )
    return path


def nbd_tools() -> None:
    """The Debian packages of deploy/archipelago-packages (installed by it, as root)."""
    result = subprocess.run([str(PACKAGES)], capture_output=True, text=True, timeout=600)
    require(result.returncode == 0, f"deploy/archipelago-packages failed: {result.stderr.strip()[-500:]}")


def device_support() -> None:
    """What a mapped device needs: the packages, root, /dev/fuse and loop devices."""
    require(os.geteuid() == 0, "block devices need root (losetup, FUSE mounts)")
    require(os.path.exists("/dev/fuse"), "no /dev/fuse (modprobe fuse)")
    require(os.path.exists("/dev/loop-control") and shutil.which("losetup") is not None, "no loop devices (modprobe loop)")
    nbd_tools()


def device_config(tmp_path: Path, block_size: int = SMALL_BLOCK) -> Path:
    """A configuration for a store under ``tmp_path``, vlmcd logging at debug level."""
    return write_config_file(tmp_path / "archipelago", tmp_path / "s", block_size, "VERBOSITY_VLMC=2\n")


class Vlmcd:
    """vlmcd as its own process (python -m synnefo.archipelago.peers vlmcd)."""

    def __init__(self, config_path: Path, run_dir: Path, env: dict | None = None):
        self.socket = run_dir / "vlmcd.sock"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "synnefo.archipelago.peers", "vlmcd", "-c", str(config_path)],
            env={**os.environ, "PYTHONPATH": f"{ROOT / 'src'}:{ROOT}", **(env or {})},
        )
        deadline = time.monotonic() + 30
        while not self.answers():
            assert self.process.poll() is None, "vlmcd exited at start"
            assert time.monotonic() < deadline, "vlmcd did not listen within 30 s"
            time.sleep(0.02)

    def answers(self) -> bool:
        with socket.socket(socket.AF_UNIX) as probe:
            try:
                probe.connect(str(self.socket))
                return True
            except OSError:
                return False

    def stop(self, signum: int = signal.SIGTERM) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signum)
        return self.process.wait(timeout=60)
