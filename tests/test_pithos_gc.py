"""Garbage collection of unreferenced blocks: what goes, what stays, and concurrency safety."""

import io
import os
import time

import pytest
from django.core.management import call_command

from synnefo.pithos.backend import gc
from synnefo.pithos.backend.blocks import get_block_store
from tests.pithos_helpers import Store, block_hash, small_blocks  # noqa: F401

pytestmark = pytest.mark.django_db


def age(store, digest_hex, seconds=10_000):
    path = store._path(digest_hex)
    old = time.time() - seconds
    os.utime(path, (old, old))


def test_collects_only_unreferenced_old_blocks(client, alice, small_blocks, django_capture_on_commit_callbacks):  # noqa: F811
    s = Store(client, alice[0], alice[2], on_commit=django_capture_on_commit_callbacks)
    s.call("PUT", "/c")
    s.call("PUT", "/c/kept", b"k" * 1500)  # two blocks
    s.call("PUT", "/c/gone", b"g" * 100)
    s.call("PUT", "/c/gone", b"h" * 100)  # the old version stays in history: still referenced
    s.call("POST", "/c?update", b"orphan block", content_type="application/octet-stream")
    s.call("POST", "/c?update", b"young orphan", content_type="application/octet-stream")
    store = get_block_store()
    for data in (b"k" * 1024, b"k" * 476, b"g" * 100, b"h" * 100, b"orphan block"):
        age(store, block_hash(data))
    out = io.StringIO()
    call_command("pithos-gc", "--grace", "3600", stdout=out)
    assert "deleted 1" in out.getvalue() and "kept 1 recent" in out.getvalue()
    assert not store.contains(bytes.fromhex(block_hash(b"orphan block")))
    assert store.contains(bytes.fromhex(block_hash(b"young orphan")))
    assert s.body(s.call("GET", "/c/kept")) == b"k" * 1500
    versions = s.call("GET", "/c/gone?version=list").json()["versions"]
    assert s.body(s.call("GET", f"/c/gone?version={versions[0][0]}")) == b"g" * 100


def test_dry_run_deletes_nothing(small_blocks):  # noqa: F811
    store = get_block_store()
    digest = store.put(b"lonely")
    age(store, digest.hex())
    report = gc.collect(grace=60, dry_run=True)
    assert report.deleted == 1 and store.contains(digest)


def test_a_block_reused_during_collection_survives(small_blocks):  # noqa: F811
    """An upload that reuses an old unreferenced block touches it; the sweep puts it back."""
    store = get_block_store()
    digest = store.put(b"about to be reused")
    age(store, digest.hex())
    cutoff = time.time() - 60
    assert store.missing([digest]) == []  # a hashmap PUT finds it (and touches it) ...
    assert not store.delete_if_unused_since(digest, cutoff)  # ... so the sweep keeps it
    assert store.contains(digest)


def test_resume_skips_swept_shards(small_blocks, tmp_path):  # noqa: F811
    store = get_block_store()
    digests = [store.put(os.urandom(64)) for _ in range(20)]
    for d in digests:
        age(store, d.hex())
    shards = store.shards()
    state = tmp_path / "state.json"
    state.write_text('{"cutoff": %f, "shards_done": %s}' % (time.time() - 60, str(shards[:-1]).replace("'", '"')))
    report = gc.collect(grace=60, state_file=state, resume=True)
    assert report.shards_done == shards[-1:]
    assert not state.exists()
