"""Helpers for volume store tests: a store over fresh directories, small blocks."""

from pathlib import Path

from synnefo.archipelago.config import Config
from synnefo.archipelago.store import VolumeStore

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


def write_config_file(path: Path, root: Path, block_size: int = SMALL_BLOCK) -> Path:
    """A configuration file for a store under ``root`` (whose directories are created)."""
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
    )
    return path
