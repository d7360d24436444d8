"""The map of a volume or snapshot, as stored: a 512-byte header, then one entry per block.

Header (big-endian): signature ``AMF.``, format version (2), volume size in bytes (uint64),
block size (uint32), map flags (uint32: READONLY, DELETED), epoch (uint64); zero padded.
Entry (128 bytes): flags (uint8: WRITABLE, ARCHIP, ZERO, DELETED), name length (uint32), name
(123 bytes, zero padded). An entry is one of:

* zero (``ZERO``, no name): the block reads as zeros and was never written;
* a content-addressed block (no flag, the hex digest as name): read-only, in the Pithos store,
  possibly shared with Pithos objects, images, snapshots and other volumes;
* a writable object of this volume (``WRITABLE | ARCHIP``, ``<volume>_<epoch>_<index>``, both
  16 hex digits): written in place, owned by this volume alone.

In memory a map's entries are ``None`` (zero), ``bytes`` (digest) or ``str`` (object name).
Maps are replaced atomically (``write_atomic``): a reader sees the old map or the new one.
"""

from __future__ import annotations

import os
import re
import secrets
import struct
from dataclasses import dataclass, field
from pathlib import Path

from synnefo.pithos.backend.blocks import write_new_file

SIGNATURE = b"AMF."
VERSION = 2
HEADER = struct.Struct(">4sIQIIQ")
HEADER_SIZE = 512
ENTRY = struct.Struct(">BI123s")
ENTRY_SIZE = ENTRY.size  # 128
NAME_MAX = 123

# Entry flags
WRITABLE, ARCHIP, ZERO, DELETED = 1, 2, 4, 8
# Map flags
MAP_READONLY, MAP_DELETED = 1, 2

# Volume names: room for "_<16 hex>_<16 hex>" in an entry name.
VOLUME_NAME_MAX = NAME_MAX - 16 - 16 - 2
VOLUME_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9.:@+=-]*")

Entry = bytes | str | None


class MapError(Exception):
    pass


def check_name(name: str) -> str:
    if not (0 < len(name) <= VOLUME_NAME_MAX) or not VOLUME_NAME.fullmatch(name):
        raise MapError(
            f"invalid volume name {name!r}: 1-{VOLUME_NAME_MAX} characters of letters, digits and .:@+=-, "
            "starting with a letter or digit"
        )
    return name


def object_name(volume: str, epoch: int, index: int) -> str:
    return f"{volume}_{epoch:016x}_{index:016x}"


def object_pattern(volume: str) -> re.Pattern:
    """The names of every writable object ``volume`` may own (any epoch), and of the temporary
    files a crash may leave of them (``write_atomic``)."""
    name = re.escape(volume) + r"_[0-9a-f]{16}_[0-9a-f]{16}"
    return re.compile(rf"{name}|\.tmp-{name}-[0-9a-f]+")


def block_count(size: int, block_size: int) -> int:
    return -(-size // block_size)


@dataclass
class Map:
    size: int
    block_size: int
    epoch: int = 1
    flags: int = 0
    entries: list[Entry] = field(default_factory=list)

    @property
    def readonly(self) -> bool:
        return bool(self.flags & MAP_READONLY)

    def encode_header(self) -> bytes:
        return HEADER.pack(SIGNATURE, VERSION, self.size, self.block_size, self.flags, self.epoch).ljust(HEADER_SIZE, b"\0")

    def encode(self) -> bytes:
        return b"".join([self.encode_header(), *map(encode_entry, self.entries)])

    @classmethod
    def decode(cls, data: bytes, source: str = "map") -> Map:
        if len(data) < HEADER_SIZE:
            raise MapError(f"{source}: truncated header")
        signature, version, size, block_size, flags, epoch = HEADER.unpack_from(data)
        if signature != SIGNATURE or version != VERSION:
            raise MapError(f"{source}: not an archipelago map (version {VERSION})")
        count = block_count(size, block_size)
        if len(data) != HEADER_SIZE + count * ENTRY_SIZE:
            raise MapError(f"{source}: {len(data)} bytes, expected {HEADER_SIZE + count * ENTRY_SIZE}")
        entries: list[Entry] = []
        for eflags, length, raw in ENTRY.iter_unpack(memoryview(data)[HEADER_SIZE:]):
            name = raw[:length].decode()
            if eflags & ZERO:
                entries.append(None)
            elif eflags & WRITABLE:
                entries.append(name)
            else:
                entries.append(bytes.fromhex(name))
        return cls(size, block_size, epoch, flags, entries)


_ZERO_ENTRY = ENTRY.pack(ZERO, 0, b"")


def encode_entry(entry: Entry) -> bytes:
    """One entry as stored (``ENTRY_SIZE`` bytes, at ``entry_offset`` of its index)."""
    if entry is None:
        return _ZERO_ENTRY
    name, flags = (entry.hex().encode(), 0) if isinstance(entry, bytes) else (entry.encode(), WRITABLE | ARCHIP)
    if len(name) > NAME_MAX:  # struct would cut it silently
        raise MapError(f"object name longer than {NAME_MAX} bytes: {name[:40]!r}...")
    return ENTRY.pack(flags, len(name), name)


def entry_offset(index: int) -> int:
    return HEADER_SIZE + index * ENTRY_SIZE


def read(path: Path) -> Map:
    return Map.decode(path.read_bytes(), path.name)


def fsync_path(path: Path) -> None:
    """fsync a file or a directory (its entries: renames, links, unlinks)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes, fsync: bool = True) -> None:
    """Replace ``path`` by ``data`` all at once: temporary file, fsync, rename, fsync the directory.
    A crash at any point leaves the old content (and at most a ``.tmp-*`` file)."""
    tmp = path.parent / f".tmp-{path.name}-{secrets.token_hex(6)}"
    try:
        write_new_file(tmp, data, fsync)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if fsync:
        fsync_path(path.parent)
