"""The RADOS block store on the real Ceph of deploy/ceph-sandbox: the store itself, and the core
of the object-store API tests (upload, download, ranges, hashmap protocol with dedup) run on it."""

import time

import pytest

from synnefo.pithos.backend.blocks import RadosBlockStore, get_block_store, reset_block_store
from synnefo.pithos.backend.hashing import block_hash
from tests.ceph_helpers import ceph, rados_pool  # noqa: F401
# The API tests below run here with ``small_blocks`` (and so ``store``) on RADOS.
from tests.test_pithos_api import (  # noqa: F401
    store,
    test_bad_hashmaps_are_400,
    test_bad_uploads_leave_nothing,
    test_container_lifecycle,
    test_copy_and_move_reuse_the_map,
    test_failure_between_block_write_and_commit_leaves_nothing,
    test_hashmap_upload_protocol_with_dedup,
    test_large_objects,
    test_multi_block_roundtrip_etag_and_merkle_hash,
    test_partial_updates,
    test_ranges,
)


@pytest.fixture
def small_blocks(settings, ceph, rados_pool):  # noqa: F811
    """Pithos on a fresh RADOS pool with 1 KiB blocks."""
    settings.PITHOS_BACKEND_STORAGE = "rados"
    settings.PITHOS_RADOS_CEPH_CONF = ceph["CEPH_CONF"]
    settings.PITHOS_RADOS_POOL_BLOCKS = rados_pool
    settings.PITHOS_BACKEND_BLOCK_SIZE = 1024
    reset_block_store()
    assert isinstance(get_block_store(), RadosBlockStore)
    yield 1024
    reset_block_store()


@pytest.fixture
def blocks(ceph, rados_pool):  # noqa: F811
    return RadosBlockStore(ceph["CEPH_CONF"], rados_pool, 1024, "sha256")


def test_blocks_are_named_by_hash_and_stored_without_trailing_nuls(blocks, ceph, rados_pool):  # noqa: F811
    from synnefo.common.radosclient import ioctx

    digest = blocks.put(b"abc\0\0")
    assert digest == block_hash(b"abc", "sha256")
    assert ioctx(ceph["CEPH_CONF"], rados_pool).read(digest.hex()) == b"abc"  # the object, as Ceph has it
    assert blocks.get(digest) == b"abc" and blocks.read(digest, 5) == b"abc\0\0"
    assert blocks.read_range(digest, 1, 4) == b"bc\0\0"
    assert blocks.put(b"abc") == digest  # written once: the second put finds it


def test_absent_blocks(blocks):
    absent = b"\1" * 32
    with pytest.raises(KeyError):
        blocks.get(absent)
    assert not blocks.contains(absent) and not blocks.touch(absent)
    assert not blocks.contains(absent)  # touching an absent block does not create it
    present = blocks.put(b"here")
    assert blocks.missing([absent, present, absent]) == [absent]


def test_oversized_block_is_refused(blocks):
    with pytest.raises(ValueError):
        blocks.put(b"x" * 1025)


def test_a_full_block_and_an_empty_block(blocks):
    data = bytes(range(256)) * 4
    assert blocks.get(blocks.put(data)) == data
    assert blocks.read(blocks.put(b""), 3) == b"\0\0\0"


def test_collection_deletes_unused_blocks_and_spares_touched_ones(blocks):
    old = blocks.put(b"unused")
    assert (old, pytest.approx(time.time(), abs=5)) in [
        (d, t) for shard in blocks.shards() for d, t in blocks.iter_shard(shard)]
    assert not blocks.delete_if_unused_since(old, time.time() - 3600)  # used within the grace
    assert blocks.delete_if_unused_since(old, time.time() + 10)
    assert not blocks.contains(old) and not blocks.delete_if_unused_since(old, time.time() + 10)


def test_a_block_touched_while_the_collection_looks_survives(blocks, monkeypatch):
    """The sweep reads the block's state, a writer touches it, the sweep's delete must fail."""
    digest = blocks.put(b"about to be reused")
    real_stat = blocks._stat

    def stat_then_touch(name):
        seen = real_stat(name)
        monkeypatch.setattr(blocks, "_stat", real_stat)
        assert blocks.touch(digest)  # the concurrent writer
        return seen

    monkeypatch.setattr(blocks, "_stat", stat_then_touch)
    assert not blocks.delete_if_unused_since(digest, time.time() + 10)
    assert blocks.get(digest) == b"about to be reused"


def test_a_missing_pool_is_a_clear_error(ceph):  # noqa: F811
    from synnefo.common.radosclient import RadosUnavailable

    with pytest.raises(RadosUnavailable, match="no-such-pool"):
        RadosBlockStore(ceph["CEPH_CONF"], "no-such-pool", 1024, "sha256")
