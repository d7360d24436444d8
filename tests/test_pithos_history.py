"""Time travel on account and container level (``until=<timestamp>``): listings, counts and
bytes as they were then, keyset paging over the past, and purging history."""

import json
import time

import pytest

from tests.pithos_helpers import Store, small_blocks  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture
def store(client, alice, small_blocks, django_capture_on_commit_callbacks):  # noqa: F811
    user, _, token = alice
    return Store(client, user, token, on_commit=django_capture_on_commit_callbacks)


def moment() -> float:
    """A timestamp strictly between the writes before and after it."""
    time.sleep(0.01)
    t = time.time()
    time.sleep(0.01)
    return t


def names(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [entry.get("name", entry.get("subdir")) for entry in json.loads(response.content)]


@pytest.fixture
def timeline(store):
    """c1: a(3 bytes), b(5) at t1; then a rewritten (10), b deleted, c added (7) at t2;
    c2 created after t1."""
    assert store.call("PUT", "/c1").status_code == 201
    t0 = moment()
    store.call("PUT", "/c1/a", b"one")
    store.call("PUT", "/c1/b", b"bbbbb")
    t1 = moment()
    store.call("PUT", "/c1/a", b"0123456789")
    store.call("DELETE", "/c1/b")
    store.call("PUT", "/c1/c", b"ccccccc")
    assert store.call("PUT", "/c2").status_code == 201
    store.call("PUT", "/c2/x", b"xx")
    t2 = moment()
    return t0, t1, t2


def test_container_listing_and_counts_as_of_then(store, timeline):
    t0, t1, t2 = timeline
    assert names(store.call("GET", f"/c1?format=json&until={t1}")) == ["a", "b"]
    assert names(store.call("GET", f"/c1?format=json&until={t2}")) == ["a", "c"]
    assert names(store.call("GET", f"/c1?format=json&until={t0}")) == []
    records = {r["name"]: r for r in json.loads(store.call("GET", f"/c1?format=json&until={t1}").content)}
    assert records["a"]["bytes"] == 3 and records["b"]["bytes"] == 5
    r = store.call("HEAD", f"/c1?until={t1}")
    assert r.status_code == 204
    assert r["X-Container-Object-Count"] == "2" and r["X-Container-Bytes-Used"] == "8"
    assert "X-Container-Until-Timestamp" in r
    r = store.call("GET", f"/c1?until={t1}")  # text listing carries the same headers
    assert store.body(r) == b"a\nb\n" and r["X-Container-Object-Count"] == "2"
    now = store.call("HEAD", "/c1")
    assert now["X-Container-Object-Count"] == "2" and now["X-Container-Bytes-Used"] == "17"
    assert "X-Container-Until-Timestamp" not in now
    # The object read at the same moment agrees with the listing.
    assert store.body(store.call("GET", f"/c1/a?until={t1}")) == b"one"


def test_account_as_of_then(store, timeline):
    t0, t1, t2 = timeline
    r = store.call("HEAD", f"?until={t1}")
    assert r.status_code == 204
    assert r["X-Account-Container-Count"] == "1"
    assert r["X-Account-Object-Count"] == "2" and r["X-Account-Bytes-Used"] == "8"
    assert "X-Account-Until-Timestamp" in r
    r = store.call("HEAD", f"?until={t2}")
    assert r["X-Account-Container-Count"] == "2" and r["X-Account-Bytes-Used"] == "19"
    listing = json.loads(store.call("GET", f"?format=json&until={t1}").content)
    assert [c["name"] for c in listing] == ["c1"]
    assert listing[0]["count"] == 2 and listing[0]["bytes"] == 8
    assert t0 < float(listing[0]["x_container_until_timestamp"]) <= t1
    listing = json.loads(store.call("GET", f"?format=json&until={t2}").content)
    assert [(c["name"], c["count"], c["bytes"]) for c in listing] == [("c1", 2, 17), ("c2", 1, 2)]
    assert "x_container_until_timestamp" not in json.loads(store.call("GET", "?format=json").content)[0]


def test_container_that_did_not_exist_then_is_404(store, timeline):
    t0, t1, t2 = timeline
    assert store.call("HEAD", f"/c2?until={t1}").status_code == 404
    assert store.call("GET", f"/c2?format=json&until={t1}").status_code == 404
    assert store.call("HEAD", f"/c2?until={t2}").status_code == 204


def test_keyset_paging_and_delimiters_in_the_past(store):
    store.call("PUT", "/c1")
    for name in ["d/1", "d/2", "e", "f", "g", "h"]:
        store.call("PUT", f"/c1/{name}", b"v1")
    t1 = moment()
    store.call("DELETE", "/c1/f")
    store.call("PUT", "/c1/e", b"newer")
    store.call("PUT", "/c1/a", b"later")
    seen, marker = [], ""
    while True:
        page = names(store.call("GET", f"/c1?format=json&limit=2&until={t1}&marker={marker}"))
        if not page:
            break
        seen += page
        marker = page[-1]
    assert seen == ["d/1", "d/2", "e", "f", "g", "h"]
    assert names(store.call("GET", f"/c1?format=json&delimiter=/&until={t1}")) == ["d/", "e", "f", "g", "h"]
    assert names(store.call("GET", f"/c1?format=json&reverse=true&limit=3&until={t1}")) == ["h", "g", "f"]
    listing = json.loads(store.call("GET", f"/c1?format=json&prefix=e&until={t1}").content)
    assert [(r["name"], r["bytes"]) for r in listing] == [("e", 2)]


@pytest.mark.parametrize("path", ["/c1?until=yesterday", "/c1?until=nan", "?until=abc", "/c1?format=json&until=inf"])
def test_bad_until_is_400(store, timeline, path):
    assert store.call("GET", path).status_code == 400
    assert store.call("HEAD", path).status_code == 400


def test_delete_until_purges_history_and_keeps_current(store, timeline):
    t0, t1, t2 = timeline
    assert store.call("DELETE", "/c1?until=never").status_code == 400
    assert names(store.call("GET", f"/c1?format=json&until={t1}")) == ["a", "b"]  # nothing purged
    assert store.call("DELETE", f"/c1?until={t2}").status_code == 204
    # The old versions are gone, the current objects stay.
    assert store.call("HEAD", "/c1").status_code == 204
    assert names(store.call("GET", "/c1?format=json")) == ["a", "c"]
    assert json.loads(store.call("GET", "/c1/a?version=list").content)["versions"].__len__() == 1
    assert names(store.call("GET", f"/c1?format=json&until={t1}")) == []
    # With nothing current left, DELETE ?until removes the container too (kamaki's delete -r).
    assert store.call("DELETE", "/c2?delimiter=/").status_code == 204
    assert store.call("DELETE", f"/c2?until={time.time() + 1}").status_code == 204
    assert store.call("HEAD", "/c2").status_code == 404


def test_until_on_shared_listing_shows_only_what_is_shared(store, timeline, client, make_user, django_capture_on_commit_callbacks):
    bob, _, bob_token = make_user("bob@example.org")
    store.call("POST", "/c1/a", HTTP_X_OBJECT_SHARING=f"read={bob.uuid}")
    other = Store(client, bob, bob_token, on_commit=django_capture_on_commit_callbacks)
    other.url = store.url
    t1 = timeline[1]
    assert names(other.call("GET", f"/c1?format=json&until={t1}")) == ["a"]
    assert other.call("HEAD", f"?until={t1}").status_code == 403
