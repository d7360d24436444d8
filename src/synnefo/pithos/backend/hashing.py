"""Block and object hashes, as Pithos clients compute them.

A block's hash is the hash of the block with its trailing NUL bytes removed, so a short last
block and the same block padded with zeros are one block. An object's Merkle hash
(``X-Object-Hash``) is the root of a binary tree over its block hashes, padded with all-zero
hashes to a power of two.
"""

from __future__ import annotations

import hashlib


def block_hash(data: bytes | bytearray | memoryview, algorithm: str) -> bytes:
    return hashlib.new(algorithm, strip_nuls(data)).digest()


def strip_nuls(data: bytes | bytearray | memoryview):
    """``data`` without its trailing NUL bytes; ``data`` itself (no copy) when it has none."""
    if data[-1:] != b"\0":
        return data
    return bytes(data).rstrip(b"\0")


def merkle(hashes: list[bytes], algorithm: str) -> bytes:
    if not hashes:
        return hashlib.new(algorithm, b"").digest()
    if len(hashes) == 1:
        return hashes[0]
    size = 1
    while size < len(hashes):
        size *= 2
    zero = bytes(len(hashes[0]))
    level = list(hashes) + [zero] * (size - len(hashes))
    while len(level) > 1:
        level = [hashlib.new(algorithm, level[i] + level[i + 1]).digest() for i in range(0, len(level), 2)]
    return level[0]
