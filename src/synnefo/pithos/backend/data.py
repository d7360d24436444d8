"""Object data in and out of the block store: request bodies into blocks (``store_stream``),
maps patched by partial updates (``patched_map``), and ranges of an object's bytes back out.

Every block a returned map references is durable before the function returns, so the caller
may commit a version that uses it.
"""

from __future__ import annotations

import hashlib
import threading
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from django.conf import settings

from synnefo.common import faults
from synnefo.pithos.backend.blocks import aligned_buffer, get_block_store
from synnefo.pithos.models import ObjectVersion


def split_map(hashmap: bytes) -> list[bytes]:
    """A map (concatenated raw digests) as the list of its block digests."""
    width = hashlib.new(settings.PITHOS_BACKEND_HASH_ALGORITHM).digest_size
    return [hashmap[i : i + width] for i in range(0, len(hashmap), width)]


def digests(version: ObjectVersion) -> list[bytes]:
    return split_map(bytes(version.hashmap))



# Block buffers per upload: one being filled from the socket while the other is hashed and
# written and, at the same time, fed to the MD5. Three measured the same on two cores
# (bench/pithos_put.py, within the noise) and hold 4 MiB more per upload.
PIPELINE_BUFFERS = 2
# Block buffers kept for reuse between uploads: a fresh 4 MiB buffer costs a page fault per
# 4 KiB page on first touch, more than the copy it receives.
_spare_buffers: list = []
_spare_lock = threading.Lock()
SPARE_BUFFERS_MAX = 16
# Single-block bodies from this size on use a pooled aligned buffer (smaller ones a plain one).
ONE_BLOCK_POOLED = 64 * 1024


def _take_buffer(size: int):
    """A page-aligned block buffer (the block store may write from it with O_DIRECT)."""
    with _spare_lock:
        while _spare_buffers:
            buffer = _spare_buffers.pop()
            if len(buffer) == size:
                return buffer
    return aligned_buffer(size)


def _give_back(buffers: list) -> None:
    with _spare_lock:
        room = SPARE_BUFFERS_MAX - len(_spare_buffers)
        _spare_buffers.extend(buffers[: max(room, 0)])


def readinto_from(read):
    """A ``readinto(view) -> n`` over a ``read(n) -> bytes`` (one copy into the block buffer)."""

    def readinto(view) -> int:
        chunk = read(len(view))
        view[: len(chunk)] = chunk
        return len(chunk)

    return readinto


def store_stream(read, length: int | None, md5: bool = True, readinto=None) -> tuple[bytes, int, str]:
    """Store a request body in blocks as it arrives; return (map, size, md5 hex).

    ``read(n)`` returns up to n bytes, b"" at the end; or ``readinto(view)`` fills a memoryview
    and returns how much it put there (0 at the end), which lets the body land in the block
    buffer without copies. ``length`` None means "until the end" (chunked transfer encoding).

    Bodies of more than one block go through a pipeline of two reused block buffers: while the
    next block is read from the client, the previous one is hashed and written (one worker),
    its MD5 computed (another) and its file fsynced (a third; hashlib, file writes and fsync
    all release the GIL, so these use the second core). Every block is durable (file and
    directory fsynced) before this returns, so before the caller commits a version using it."""
    store = get_block_store()
    block_size = store.block_size
    readinto = readinto or readinto_from(read)
    if length is not None and length <= block_size:
        return _store_one_block(store, readinto, length, md5)
    checksum = hashlib.md5(usedforsecurity=False) if md5 else None
    put_worker, sync_worker = ThreadPoolExecutor(1), ThreadPoolExecutor(1)
    md5_worker = ThreadPoolExecutor(1) if md5 else None
    in_flight: deque = deque()  # (buffer, put future, md5 future) in block order
    buffers: list = []
    syncs: list = []
    hashmap = bytearray()
    size = 0

    def put(view, buffer):
        written: list = []
        digest = store.put(view, written, aligned=buffer)
        if written:
            syncs.append(sync_worker.submit(store.sync, written))
        return digest

    def retire_oldest():
        buffer, put_done, md5_done = in_flight.popleft()
        hashmap.extend(put_done.result())
        if md5_done is not None:
            md5_done.result()
        return buffer

    try:
        while True:
            if len(buffers) < PIPELINE_BUFFERS:
                buffer = _take_buffer(block_size)
                buffers.append(buffer)
            else:
                buffer = retire_oldest()
            view = memoryview(buffer)
            want = block_size if length is None else min(block_size, length - size)
            filled = _fill(readinto, view, want)
            if length is not None and filled < want:
                raise faults.BadRequest("Request body shorter than Content-Length")
            if not filled:
                break
            if size + filled > settings.PITHOS_MAX_OBJECT_SIZE:
                raise faults.RequestEntityTooLarge("Object larger than the maximum object size")
            block = view[:filled]
            md5_done = md5_worker.submit(checksum.update, block) if md5_worker is not None else None
            in_flight.append((buffer, put_worker.submit(put, block, buffer), md5_done))
            size += filled
            if filled < want or (length is not None and size == length):
                break
        while in_flight:
            retire_oldest()
        put_worker.shutdown(wait=True)  # no more syncs are submitted after this
        for done in syncs:
            done.result()
    finally:
        for worker in (put_worker, md5_worker, sync_worker):
            if worker is not None:
                worker.shutdown(wait=True)
        _give_back(buffers)
    return bytes(hashmap), size, checksum.hexdigest() if checksum else ""


def _fill(readinto, view, want: int) -> int:
    """Read until ``want`` bytes are in ``view`` or the body ends; how many arrived."""
    filled = 0
    while filled < want:
        try:
            n = readinto(view[filled:want])
        except OSError:  # the client went away mid-body (gunicorn raises an IOError)
            raise faults.BadRequest("Upload interrupted") from None
        if not n:
            break
        filled += n
    return filled


def _store_one_block(store, readinto, length: int, md5: bool) -> tuple[bytes, int, str]:
    """A body of at most one block: read it whole, store it, make it durable."""
    pooled = length >= ONE_BLOCK_POOLED
    buffer = _take_buffer(store.block_size) if pooled else bytearray(length)
    try:
        view = memoryview(buffer)[:length]
        if _fill(readinto, view, length) < length:
            raise faults.BadRequest("Request body shorter than Content-Length")
        checksum = hashlib.md5(view, usedforsecurity=False).hexdigest() if md5 else ""
        if not length:
            return b"", 0, checksum
        unsynced: list = []
        digest = store.put(view, unsynced, aligned=buffer if pooled else None)
        store.sync(unsynced)
        return digest, length, checksum
    finally:
        if pooled:
            _give_back([buffer])


def store_blocks(read, length: int, readinto=None) -> list[str]:
    """Container POST: split a body into blocks, store them, return their hex hashes."""
    hashmap, _, _ = store_stream(read, length, md5=False, readinto=readinto)
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


# Blocks of a range read asked ahead of the one being sent (the kernel reads them meanwhile).
READ_AHEAD_BLOCKS = 2


def read_range(hashes: list[bytes], size: int, start: int, end: int) -> Iterator[bytes]:
    """The bytes [start, end) of an object with map ``hashes`` and ``size``."""
    store = get_block_store()
    block_size = store.block_size
    index = start // block_size
    position = index * block_size
    last = min(len(hashes), -(-end // block_size))  # one past the last block of the range
    store.prefetch(hashes[index : min(index + READ_AHEAD_BLOCKS, last)])
    while position < end and index < len(hashes):
        length = min(block_size, size - position)
        if index + READ_AHEAD_BLOCKS < last:  # keep the disk busy while this block goes out
            store.prefetch([hashes[index + READ_AHEAD_BLOCKS]])
        block = store.read(hashes[index], length)
        lo = max(start - position, 0)
        hi = min(end - position, length)
        yield block[lo:hi]
        position += block_size
        index += 1
