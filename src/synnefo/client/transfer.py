"""Hashmap transfers (SYNNEFO.md 3.4-3.5), the way kamaki does them but in Python 3.

Upload: hash the file locally in the container's block size with its hash algorithm (trailing
NUL bytes stripped before hashing), ``PUT ?hashmap`` the list; the server answers 201 when it
has every block, else 409 with the missing ones; those are POSTed to the container once each
(a block repeated in the file goes up once), a few per request and several requests in
parallel, and the hashmap PUT is retried.
An unchanged re-upload therefore sends no data at all.

Download: ``GET ?hashmap`` gives the block list; each distinct block is fetched once with a
ranged GET (runs of consecutive blocks share one, streamed block by block), in parallel, and
written at every offset it occurs. A partial or outdated local
file is resumed: blocks whose local bytes already hash right are not fetched.
"""

from __future__ import annotations

import hashlib
import mimetypes
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from synnefo.client.http import ClientError

Progress = Callable[[int], None]
DEFAULT_WORKERS = 5  # kamaki's thread count for block transfers
BLOCKS_PER_REQUEST = 4  # missing blocks per container POST (kamaki 0.16 sends 1)
HASHMAP_RETRIES = 3  # PUT ?hashmap attempts after uploading what was missing


def block_hash(block: bytes, algorithm: str = "sha256") -> str:
    return hashlib.new(algorithm, block.rstrip(b"\0")).hexdigest()


def hash_file(path: Path, block_size: int, algorithm: str = "sha256",
              progress: Progress | None = None, workers: int | None = None) -> tuple[list[str], int]:
    """(block hashes, size) of a local file. Blocks are hashed on every core (hashlib releases
    the GIL on large buffers), each thread reading its own block."""
    size = os.path.getsize(path)
    count = -(-size // block_size)
    fd = os.open(path, os.O_RDONLY)
    try:
        def one(index: int) -> str:
            block = os.pread(fd, block_size, index * block_size)
            if progress:
                progress(len(block))
            return block_hash(block, algorithm)

        with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
            hashes = list(pool.map(one, range(count)))
    finally:
        os.close(fd)
    return hashes, size


@dataclass
class UploadResult:
    size: int
    hashes: list[str]
    blocks_uploaded: int = 0  # distinct blocks sent
    requests: int = 0  # block POSTs (each carries up to blocks_per_request blocks)
    bytes_uploaded: int = 0
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class DownloadResult:
    size: int
    blocks_fetched: int = 0  # distinct blocks fetched
    requests: int = 0  # ranged GETs (each over a run of consecutive blocks)
    blocks_reused: int = 0  # blocks the local file already had right
    bytes_fetched: int = 0


def _read_at(path: Path, offset: int, length: int) -> bytes:
    with open(path, "rb") as f:
        f.seek(offset)
        return f.read(length)


def upload_file(client, container: str, obj: str, path, *, content_type: str | None = None,
                workers: int = DEFAULT_WORKERS, blocks_per_request: int = BLOCKS_PER_REQUEST,
                hash_progress: Progress | None = None,
                upload_progress: Progress | None = None, headers: dict[str, str] | None = None) -> UploadResult:
    """Upload a local file to ``container/obj`` with the hashmap protocol."""
    path = Path(path)
    if not path.is_file():
        raise ClientError(f"{path}: not a readable file")
    content_type = content_type or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    block_size, algorithm = client.block_info(container)
    hashes, size = hash_file(path, block_size, algorithm, hash_progress)
    if size == 0:  # nothing to hash: a plain empty PUT
        return UploadResult(0, [], headers=client.put_object(container, obj, b"", content_type=content_type, headers=headers))
    result = UploadResult(size, hashes)
    first_offset: dict[str, int] = {}
    for index, h in enumerate(hashes):
        first_offset.setdefault(h, index * block_size)
    for _attempt in range(HASHMAP_RETRIES + 1):
        created, missing, reply = client.put_hashmap(container, obj, hashes, size,
                                                     content_type=content_type, headers=headers)
        if created:
            result.headers = reply
            return result
        unknown = [h for h in missing if h not in first_offset]
        if unknown:
            raise ClientError(f"the server asks for blocks the file does not have: {unknown[:3]}", 409)

        # Missing blocks in file order, each once, in bodies of up to ``blocks_per_request``
        # blocks (the server splits a body into blocks; fewer, larger requests let it sync its
        # writes once per request). Only the file's last block can be short, and it is last.
        unique = sorted(dict.fromkeys(missing), key=first_offset.__getitem__)
        step = max(1, blocks_per_request)
        batches = [unique[i:i + step] for i in range(0, len(unique), step)]

        def send(batch: list[str]) -> int:
            data = b"".join(_read_at(path, first_offset[h], block_size) for h in batch)
            answered = client.post_block(container, data)
            if list(answered) != batch:
                raise ClientError(f"block upload answered {list(answered)[:2]} for blocks {batch[:2]}", 0)
            if upload_progress:
                upload_progress(len(data))
            return len(data)

        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            sent = list(pool.map(send, batches))
        result.blocks_uploaded += len(unique)
        result.requests += len(batches)
        result.bytes_uploaded += sum(sent)
    raise ClientError(f"{container}/{obj}: blocks still missing after {HASHMAP_RETRIES} retries", 409)


def download_file(client, container: str, obj: str, path, *, workers: int = DEFAULT_WORKERS,
                  blocks_per_request: int = 0, resume: bool = True, progress: Progress | None = None,
                  version: str | None = None) -> DownloadResult:
    """Download ``container/obj`` into ``path`` by its hashmap; with ``resume`` (the default) an
    existing local file is kept and only its wrong or missing blocks are fetched."""
    path = Path(path)
    hashmap = client.get_hashmap(container, obj, version=version)
    block_size, size = int(hashmap["block_size"]), int(hashmap["bytes"])
    algorithm = str(hashmap.get("block_hash", "sha256"))
    hashes: list[str] = list(hashmap["hashes"])
    result = DownloadResult(size)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | (0 if resume else os.O_TRUNC), 0o644)
    try:
        local_size = os.fstat(fd).st_size
        wanted: dict[str, list[int]] = {}
        for index, h in enumerate(hashes):
            start = index * block_size
            length = min(block_size, size - start)
            if resume and start + length <= local_size:
                if block_hash(os.pread(fd, length, start), algorithm) == h:
                    result.blocks_reused += 1
                    if progress:
                        progress(length)
                    continue
            wanted.setdefault(h, []).append(start)

        # Ranged GETs over runs of consecutive needed blocks (each distinct block once, at its
        # first offset). A run holds at most ``blocks_per_request`` blocks; 0 (the default)
        # spreads the blocks evenly over the workers: few requests, each streamed.
        firsts = sorted(offsets[0] for offsets in wanted.values())
        cap = blocks_per_request if blocks_per_request > 0 else max(1, -(-len(firsts) // max(1, workers)))
        runs: list[list[int]] = []
        for start in firsts:
            if runs and start == runs[-1][-1] + block_size and len(runs[-1]) < cap:
                runs[-1].append(start)
            else:
                runs.append([start])
        by_offset = {offsets[0]: (h, offsets) for h, offsets in wanted.items()}

        def fetch(run: list[int]) -> int:
            first, end = run[0], min(run[-1] + block_size, size) - 1
            got = 0
            pieces = client.iter_range(container, obj, first, end, block_size)
            try:
                for start, block in zip(run, pieces):
                    h, offsets = by_offset[start]
                    if block_hash(block, algorithm) != h:
                        raise ClientError(f"block at {start} of {container}/{obj} changed while downloading", 0)
                    for offset in offsets:
                        os.pwrite(fd, block, offset)
                        if progress:
                            progress(len(block))
                    got += len(block)
            finally:
                pieces.close()  # the response goes back to the connection pool now, not at GC
            if got != end - first + 1:
                raise ClientError(f"{container}/{obj} changed while downloading (short range at {first})", 0)
            return got

        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            fetched = list(pool.map(fetch, runs))
        os.ftruncate(fd, size)  # cut a longer local file; extend to size for trailing zero blocks
        result.blocks_fetched = len(firsts)
        result.requests = len(runs)
        result.bytes_fetched = sum(fetched)
    finally:
        os.close(fd)
    return result


def stream_object(client, container: str, obj: str, out, *, progress: Progress | None = None) -> int:
    """Write the object to a binary stream (``file cat``) by its hashmap, block by block, in order."""
    hashmap = client.get_hashmap(container, obj)
    block_size, size = int(hashmap["block_size"]), int(hashmap["bytes"])
    written = 0
    for index in range(len(hashmap["hashes"])):
        start = index * block_size
        data = client.get_range(container, obj, start, min(start + block_size, size) - 1)
        out.write(data)
        written += len(data)
        if progress:
            progress(len(data))
    return written
