"""Block store and hashing units: content addressing, dedup, padding, Merkle hashes."""

import hashlib
import os

import pytest
from hypothesis import given, strategies as st

from synnefo.pithos.backend.blocks import FileBlockStore
from synnefo.pithos.backend.hashing import block_hash, merkle


def test_blocks_are_named_by_hash_without_trailing_nuls(tmp_path):
    store = FileBlockStore(tmp_path, 8, "sha256")
    digest = store.put(b"abc\0\0")
    assert digest == hashlib.sha256(b"abc").digest()
    assert store.put(b"abc") == digest  # the same block: stored once
    assert store.get(digest) == b"abc"
    assert store.read(digest, 8) == b"abc" + bytes(5)
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(files) == 1 and files[0].name == digest.hex()
    assert store.missing([digest, b"\1" * 32, b"\1" * 32]) == [b"\1" * 32]


def test_oversized_block_is_refused(tmp_path):
    with pytest.raises(ValueError):
        FileBlockStore(tmp_path, 4, "sha256").put(b"12345")


def test_a_failed_write_leaves_no_block(tmp_path, monkeypatch):
    store = FileBlockStore(tmp_path, 8, "sha256")

    def crash(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        store.put(b"data")
    assert not store.contains(hashlib.sha256(b"data").digest())
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def _reference_merkle(hashes):
    if not hashes:
        return hashlib.sha256(b"").digest()
    if len(hashes) == 1:
        return hashes[0]
    n = 1
    while n < len(hashes):
        n *= 2
    level = hashes + [bytes(32)] * (n - len(hashes))
    while len(level) > 1:
        level = [hashlib.sha256(level[i] + level[i + 1]).digest() for i in range(0, len(level), 2)]
    return level[0]


@given(st.lists(st.binary(min_size=32, max_size=32), max_size=9))
def test_merkle_matches_the_definition(hashes):
    assert merkle(hashes, "sha256") == _reference_merkle(hashes)


def test_merkle_known_values():
    h = [block_hash(bytes([i]) * 10, "sha256") for i in range(1, 4)]
    assert merkle([], "sha256").hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert merkle(h[:1], "sha256") == h[0]
    left = hashlib.sha256(h[0] + h[1]).digest()
    right = hashlib.sha256(h[2] + bytes(32)).digest()
    assert merkle(h, "sha256") == hashlib.sha256(left + right).digest()


@pytest.mark.parametrize("length", [1, 4095, 4096, 5000, 8192])
def test_direct_io_blocks_have_exact_content(tmp_path, length):
    """O_DIRECT writes whole 4 KiB pages from the aligned buffer and cuts the file back: the
    block file holds exactly the content (trailing NULs stripped), whatever the buffer holds
    past it."""
    from synnefo.pithos.backend.blocks import aligned_buffer

    store = FileBlockStore(tmp_path, 8192, "sha256", direct_io=True)
    buffer = aligned_buffer(8192)
    buffer[:] = b"\xff" * 8192  # garbage past the content must not reach the file
    content = os.urandom(length - 1) + b"x" if length > 1 else b"x"
    buffer[:length] = content
    padded = memoryview(buffer)[: min(length + 3, 8192)]
    if length + 3 <= 8192:
        buffer[length : length + 3] = b"\0\0\0"  # trailing NULs: stripped from the stored block
    digest = store.put(padded, aligned=buffer)
    assert digest == hashlib.sha256(content).digest()
    assert store.direct_io  # the filesystem of the test's temp dir took O_DIRECT
    assert store.get(digest) == content
    assert not [p for p in tmp_path.rglob(".tmp-*")]


def test_direct_io_falls_back_where_refused(tmp_path, monkeypatch):
    """A filesystem that refuses O_DIRECT (tmpfs answers EINVAL) gets normal writes."""
    import errno

    from synnefo.pithos.backend.blocks import aligned_buffer

    real_open = os.open

    def no_direct(path, flags, *args):
        if flags & getattr(os, "O_DIRECT", 0):
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_open(path, flags, *args)

    monkeypatch.setattr(os, "open", no_direct)
    store = FileBlockStore(tmp_path, 8192, "sha256", direct_io=True)
    buffer = aligned_buffer(8192)
    buffer[:5] = b"hello"
    digest = store.put(memoryview(buffer)[:5], aligned=buffer)
    assert store.get(digest) == b"hello" and store.direct_io is False
    assert store.get(store.put(b"again")) == b"again"


def test_prefetch_is_a_harmless_hint(tmp_path, monkeypatch):
    store = FileBlockStore(tmp_path, 8, "sha256")
    digest = store.put(b"abc")
    store.prefetch([digest, b"\1" * 32])  # a missing block is skipped
    from synnefo.pithos.backend import data

    asked = []
    monkeypatch.setattr(data, "get_block_store", lambda: store)
    monkeypatch.setattr(store, "prefetch", lambda digests: asked.extend(digests))
    hashes = [store.put(bytes([65 + i]) * 8) for i in range(5)]
    assert b"".join(data.read_range(hashes, 40, 8, 32)) == b"BBBBBBBBCCCCCCCCDDDDDDDD"
    assert asked == hashes[1:4]  # the blocks of the range, each asked for once, none past it
