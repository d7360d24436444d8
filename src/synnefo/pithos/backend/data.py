"""Object data in and out of the block store: request bodies into blocks (``store_stream``),
maps patched by partial updates (``patched_map``), and ranges of an object's bytes back out.

Every block a returned map references is durable before the function returns, so the caller
may commit a version that uses it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from django.conf import settings

from synnefo.common import faults
from synnefo.pithos.backend.blocks import get_block_store
from synnefo.pithos.models import ObjectVersion


def split_map(hashmap: bytes) -> list[bytes]:
    """A map (concatenated raw digests) as the list of its block digests."""
    width = hashlib.new(settings.PITHOS_BACKEND_HASH_ALGORITHM).digest_size
    return [hashmap[i : i + width] for i in range(0, len(hashmap), width)]


def digests(version: ObjectVersion) -> list[bytes]:
    return split_map(bytes(version.hashmap))



def store_stream(read, length: int | None, md5: bool = True) -> tuple[bytes, int, str]:
    """Store a request body in blocks as it arrives; return (map, size, md5 hex).

    ``read(n)`` returns up to n bytes, b"" at the end; ``length`` None means "until the end"
    (chunked transfer encoding). For bodies of more than one block, the MD5 and the flushing of
    finished blocks to disk run in two worker threads, overlapping the reading and hashing of
    the next block; either way every block is durable before this returns, so before the
    caller can commit a version that uses it."""
    store = get_block_store()
    block_size = store.block_size
    hashmap = bytearray()
    checksum = hashlib.md5(usedforsecurity=False) if md5 else None
    parallel = length is None or length > block_size  # threads pay off only for several blocks
    md5_worker = ThreadPoolExecutor(1) if parallel and md5 else None
    sync_worker = ThreadPoolExecutor(1) if parallel else None
    md5_done = None
    syncs = []
    unsynced: list = []
    size = 0
    buffer = bytearray()
    remaining = length

    def flush():
        nonlocal md5_done, size, buffer
        data = bytes(buffer)
        if md5_worker is not None:
            if md5_done is not None:
                md5_done.result()
            md5_done = md5_worker.submit(checksum.update, data)
        elif checksum is not None:
            checksum.update(data)
        written = len(unsynced)
        hashmap.extend(store.put(data, unsynced))
        if sync_worker is not None and len(unsynced) > written:
            syncs.append(sync_worker.submit(store.sync, unsynced[written:]))
        size += len(data)
        buffer = bytearray()

    try:
        while remaining is None or remaining > 0:
            want = block_size - len(buffer) if remaining is None else min(block_size - len(buffer), remaining)
            try:
                chunk = read(want)
            except OSError:  # the client went away mid-body (gunicorn raises an IOError)
                raise faults.BadRequest("Upload interrupted") from None
            if not chunk:
                if remaining is not None and remaining > 0:
                    raise faults.BadRequest("Request body shorter than Content-Length")
                break
            buffer += chunk
            if remaining is not None:
                remaining -= len(chunk)
            if len(buffer) == block_size:
                flush()
            if size + len(buffer) > settings.PITHOS_MAX_OBJECT_SIZE:
                raise faults.RequestEntityTooLarge("Object larger than the maximum object size")
        if buffer:
            flush()
        if md5_done is not None:
            md5_done.result()
        if sync_worker is None:
            store.sync(unsynced)
        for done in syncs:
            done.result()
    finally:
        for worker in (md5_worker, sync_worker):
            if worker is not None:
                worker.shutdown(wait=True)
    return bytes(hashmap), size, checksum.hexdigest() if checksum else ""


def store_blocks(read, length: int) -> list[str]:
    """Container POST: split a body into blocks, store them, return their hex hashes."""
    hashmap, _, _ = store_stream(read, length, md5=False)
    return [digest.hex() for digest in split_map(hashmap)]


@dataclass
class SourceData:
    """The first ``length`` bytes of another object version's data, written by a partial update
    (``X-Source-Object``) without passing through the client: read block by block on the
    server, and where a target block is exactly one source block, its hash is reused."""

    hashes: list[bytes]
    size: int
    length: int

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, span: slice) -> bytes:
        return b"".join(read_range(self.hashes, self.size, span.start, span.stop))

    def whole_block(self, offset: int, length: int) -> bytes | None:
        """The hash of the source block that is exactly bytes [offset, offset+length), if any."""
        block_size = get_block_store().block_size
        index, misaligned = divmod(offset, block_size)
        if misaligned or index >= len(self.hashes) or offset + length > self.length:
            return None
        return self.hashes[index] if min(block_size, self.size - offset) == length else None


def patched_map(
    version: ObjectVersion, start: int | None, data: bytes | SourceData, new_size: int | None
) -> tuple[bytes, int]:
    """The map of ``version`` with ``data`` written at ``start`` (None: appended) and then cut
    or extended to ``new_size`` (None: as the write leaves it). Blocks the change does not
    touch keep their hashes; only changed blocks are stored anew."""
    store = get_block_store()
    block_size = store.block_size
    old = digests(version)
    old_size = version.size
    start = old_size if start is None else start
    end = start + len(data)
    size = max(old_size, end) if new_size is None else new_size
    result = bytearray()
    for index in range((size + block_size - 1) // block_size):
        lo, hi = index * block_size, min((index + 1) * block_size, size)
        untouched = hi <= start or lo >= end or not len(data)
        same_extent = hi - lo == min(block_size, max(old_size - lo, 0))
        if untouched and index < len(old) and same_extent:
            result += old[index]
            continue
        if isinstance(data, SourceData) and start <= lo and hi <= end:
            reused = data.whole_block(lo - start, hi - lo)
            if reused is not None and store.touch(reused):
                result += reused
                continue
        block = bytearray(b"".join(read_range(old, old_size, lo, min(hi, old_size))) if lo < old_size else b"")
        block += bytes(hi - lo - len(block))
        overlap_lo, overlap_hi = max(lo, start), min(hi, end)
        if overlap_lo < overlap_hi:
            block[overlap_lo - lo : overlap_hi - lo] = data[overlap_lo - start : overlap_hi - start]
        result += store.put(bytes(block))
    return bytes(result), size


def md5_of_blocks(hashes: list[bytes], size: int) -> str:
    checksum = hashlib.md5(usedforsecurity=False)
    for chunk in read_range(hashes, size, 0, size):
        checksum.update(chunk)
    return checksum.hexdigest()


def read_range(hashes: list[bytes], size: int, start: int, end: int) -> Iterator[bytes]:
    """The bytes [start, end) of an object with map ``hashes`` and ``size``."""
    store = get_block_store()
    block_size = store.block_size
    index = start // block_size
    position = index * block_size
    while position < end and index < len(hashes):
        length = min(block_size, size - position)
        block = store.read(hashes[index], length)
        lo = max(start - position, 0)
        hi = min(end - position, length)
        yield block[lo:hi]
        position += block_size
        index += 1
