"""Object-store API through the HTTP layer: what kamaki and Swift clients rely on, and bad input."""

import hashlib
import json
import os

import pytest

from synnefo.pithos.models import ObjectVersion
from tests.pithos_helpers import Store, block_hash, small_blocks  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture
def store(client, alice, small_blocks, django_capture_on_commit_callbacks):  # noqa: F811
    user, _, token = alice
    s = Store(client, user, token, on_commit=django_capture_on_commit_callbacks)
    assert s.call("PUT", "/c1").status_code == 201
    return s


@pytest.fixture
def bob_store(client, make_user, small_blocks, django_capture_on_commit_callbacks):  # noqa: F811
    user, _, token = make_user("bob@example.org")
    return Store(client, user, token, on_commit=django_capture_on_commit_callbacks)


def test_container_lifecycle(store):
    assert store.call("PUT", "/c1").status_code == 202
    r = store.call("HEAD", "/c1")
    assert r.status_code == 204
    assert r["X-Container-Block-Size"] == "1024" and r["X-Container-Block-Hash"] == "sha256"
    assert store.call("PUT", "/c1/o", b"x").status_code == 201
    assert store.call("DELETE", "/c1").status_code == 409
    assert store.call("DELETE", "/c1/o").status_code == 204
    assert store.call("DELETE", "/c1").status_code == 204
    assert store.call("HEAD", "/c1").status_code == 404
    assert store.call("DELETE", "/c1").status_code == 404


def test_multi_block_roundtrip_etag_and_merkle_hash(store):
    data = os.urandom(3000) + b"\0" * 100
    r = store.call("PUT", "/c1/big.bin", data, HTTP_ETAG=hashlib.md5(data).hexdigest())
    assert r.status_code == 201 and r["ETag"] == hashlib.md5(data).hexdigest()
    r = store.call("GET", "/c1/big.bin")
    assert r.status_code == 200 and store.body(r) == data
    assert r["Content-Length"] == str(len(data))
    hashes = [bytes.fromhex(block_hash(data[i : i + 1024])) for i in range(0, len(data), 1024)]
    from synnefo.pithos.backend.hashing import merkle

    assert r["X-Object-Hash"] == merkle(hashes, "sha256").hex()
    hm = json.loads(store.call("GET", "/c1/big.bin?hashmap&format=json").content)
    assert hm == {"block_size": 1024, "block_hash": "sha256", "bytes": len(data), "hashes": [h.hex() for h in hashes]}


def test_hashmap_upload_protocol_with_dedup(store):
    """kamaki's upload: hashmap PUT -> 409 missing -> POST blocks -> PUT again -> 201."""
    data = os.urandom(1024) * 2 + b"tail"  # blocks: A A T
    hashes = [block_hash(data[i : i + 1024]) for i in range(0, len(data), 1024)]
    body = json.dumps({"hashes": hashes, "bytes": len(data)})
    r = store.call("PUT", "/c1/f?hashmap=True&format=json", body)
    assert r.status_code == 409
    assert json.loads(r.content) == [hashes[0], hashes[2]]  # each missing block once
    for chunk in (data[:1024], data[2048:]):
        r = store.call("POST", "/c1?update&format=json", chunk)
        assert r.status_code == 202 and json.loads(r.content)[0] == block_hash(chunk)
    assert store.call("PUT", "/c1/f?hashmap=True&format=json", body).status_code == 201
    r = store.call("GET", "/c1/f")
    assert store.body(r) == data and r["ETag"] == hashlib.md5(data).hexdigest()
    # A second object with the same blocks needs no upload at all.
    assert store.call("PUT", "/c1/g?hashmap=True&format=json", body).status_code == 201


@pytest.mark.parametrize(
    "body",
    [b"not json", json.dumps({"hashes": ["zz"], "bytes": 1}), json.dumps({"hashes": ["00" * 32], "bytes": 5000}),
     json.dumps({"hashes": ["00" * 32, "00" * 32], "bytes": 10}), json.dumps({"bytes": 1})],
)
def test_bad_hashmaps_are_400(store, body):
    assert store.call("PUT", "/c1/f?hashmap", body).status_code == 400
    assert store.call("HEAD", "/c1/f").status_code == 404


def test_ranges(store):
    data = bytes(range(256)) * 10
    store.call("PUT", "/c1/r", data)
    r = store.call("GET", "/c1/r", HTTP_RANGE="bytes=10-19")
    assert r.status_code == 206 and store.body(r) == data[10:20] and r["Content-Range"] == f"bytes 10-19/{len(data)}"
    assert store.body(store.call("GET", "/c1/r", HTTP_RANGE="bytes=-5")) == data[-5:]
    assert store.body(store.call("GET", "/c1/r", HTTP_RANGE="bytes=2500-")) == data[2500:]
    r = store.call("GET", "/c1/r", HTTP_RANGE="bytes=0-1,1020-1030")
    assert r.status_code == 206 and r["Content-Type"].startswith("multipart/byteranges")
    body = store.body(r)
    assert int(r["Content-Length"]) == len(body)
    assert data[0:2] in body and data[1020:1031] in body
    r = store.call("GET", "/c1/r", HTTP_RANGE="bytes=5000-6000")
    assert r.status_code == 416 and r["Content-Range"] == f"bytes */{len(data)}"
    assert store.call("GET", "/c1/r", HTTP_RANGE="lines=1-2").status_code == 200


def test_conditional_requests(store):
    store.call("PUT", "/c1/o", b"abc")
    etag = hashlib.md5(b"abc").hexdigest()
    assert store.call("GET", "/c1/o", HTTP_IF_NONE_MATCH=etag).status_code == 304
    assert store.call("GET", "/c1/o", HTTP_IF_NONE_MATCH=f'"{etag}"').status_code == 304
    assert store.call("GET", "/c1/o", HTTP_IF_MATCH="nope").status_code == 412
    assert store.call("GET", "/c1/o", HTTP_IF_MATCH=etag).status_code == 200
    assert store.call("GET", "/c1/o", HTTP_IF_MODIFIED_SINCE="Fri, 01 Jan 2100 00:00:00 GMT").status_code == 304
    assert store.call("GET", "/c1/o", HTTP_IF_UNMODIFIED_SINCE="Thu, 01 Jan 2015 00:00:00 GMT").status_code == 412


def test_bad_uploads_leave_nothing(store):
    r = store.call("PUT", "/c1/o", b"abc", HTTP_ETAG="0" * 32)
    assert r.status_code == 422
    assert store.call("PUT", "/c1/o", b"abc", CONTENT_LENGTH="").status_code == 411
    assert store.call("PUT", "/c1/o", b"abc", CONTENT_LENGTH="zz").status_code == 400
    assert store.call("HEAD", "/c1/o").status_code == 404
    assert store.call("PUT", "/c1/a/../b", b"x").status_code == 400
    assert store.call("PUT", "/c1/" + "x" * 1025, b"x").status_code == 400
    assert store.call("PUT", "/nocontainer/o", b"x").status_code == 404
    r = store.call("HEAD", "/c1")
    assert r["X-Container-Object-Count"] == "0" and r["X-Container-Bytes-Used"] == "0"


def test_content_type_is_guessed_when_missing(store):
    store.call("PUT", "/c1/page.html", b"<p>", content_type="")
    assert store.call("HEAD", "/c1/page.html")["Content-Type"] == "text/html"
    store.call("PUT", "/c1/noext", b"x", content_type="")
    assert store.call("HEAD", "/c1/noext")["Content-Type"] == "application/octet-stream"


def test_versions(store):
    store.call("PUT", "/c1/v", b"one")
    store.call("PUT", "/c1/v", b"two")
    versions = json.loads(store.call("GET", "/c1/v?version=list&format=json").content)["versions"]
    assert len(versions) == 2
    first = versions[0][0]
    assert store.body(store.call("GET", f"/c1/v?version={first}")) == b"one"
    assert store.body(store.call("GET", "/c1/v")) == b"two"
    r = store.call("HEAD", "/c1")
    assert r["X-Container-Object-Count"] == "1" and r["X-Container-Bytes-Used"] == "3"
    store.call("PUT", "/c2", HTTP_X_CONTAINER_POLICY_VERSIONING="none")
    store.call("PUT", "/c2/v", b"one")
    store.call("PUT", "/c2/v", b"two")
    assert len(json.loads(store.call("GET", "/c2/v?version=list").content)["versions"]) == 1
    assert store.call("PUT", "/c3", HTTP_X_CONTAINER_POLICY_VERSIONING="sometimes").status_code == 400
    import time as _time

    assert store.call("DELETE", f"/c1/v?until={_time.time() + 1}").status_code == 204
    assert len(json.loads(store.call("GET", "/c1/v?version=list").content)["versions"]) == 1
    assert store.body(store.call("GET", "/c1/v")) == b"two"


def test_copy_and_move_reuse_the_map(store):
    store.call("PUT", "/c1/src", os.urandom(2500), HTTP_X_OBJECT_META_COLOR="blue")
    src = ObjectVersion.objects.get(name="src", cluster=0)
    r = store.call("PUT", "/c1/copy", HTTP_X_COPY_FROM="/c1/src", HTTP_X_SOURCE_ACCOUNT=str(store.user.uuid))
    assert r.status_code == 201
    copy = ObjectVersion.objects.get(name="copy", cluster=0)
    assert bytes(copy.hashmap) == bytes(src.hashmap) and copy.uuid != src.uuid
    assert store.call("HEAD", "/c1/copy")["X-Object-Meta-Color"] == "blue"
    assert store.call("PUT", "/c1/moved", HTTP_X_MOVE_FROM="/c1/copy").status_code == 201
    assert store.call("HEAD", "/c1/copy").status_code == 404
    assert ObjectVersion.objects.get(name="moved", cluster=0).uuid == copy.uuid
    r = store.call("COPY", "/c1/src", HTTP_DESTINATION="/c1/third")
    assert r.status_code == 201 and store.body(store.call("GET", "/c1/third")) == store.body(store.call("GET", "/c1/src"))
    assert store.call("PUT", "/c1/x", HTTP_X_COPY_FROM="/c1/absent").status_code == 404


def test_metadata_update_replace_and_limits(store, settings):
    store.call("PUT", "/c1/m", b"x", HTTP_X_OBJECT_META_A="1")
    assert store.call("POST", "/c1/m?update", HTTP_X_OBJECT_META_B="2").status_code == 202
    r = store.call("HEAD", "/c1/m")
    assert r["X-Object-Meta-A"] == "1" and r["X-Object-Meta-B"] == "2"
    store.call("POST", "/c1/m", HTTP_X_OBJECT_META_C="3")
    r = store.call("HEAD", "/c1/m")
    assert "X-Object-Meta-A" not in r and r["X-Object-Meta-C"] == "3"
    settings.PITHOS_RESOURCE_MAX_METADATA = 2
    headers = {f"HTTP_X_OBJECT_META_K{i}": "v" for i in range(3)}
    assert store.call("POST", "/c1/m", **headers).status_code == 400
    assert store.call("POST", "/c1/m", HTTP_X_OBJECT_META_LONG="v" * 300).status_code == 400
    assert store.call("HEAD", "/c1/m")["X-Object-Meta-C"] == "3"


def test_listings(store):
    for name in ["a/1", "a/2", "b", "c/x/y", "d"]:
        store.call("PUT", f"/c1/{name}", b"x")
    names = lambda r: store.body(r).decode().split()  # noqa: E731
    assert names(store.call("GET", "/c1")) == ["a/1", "a/2", "b", "c/x/y", "d"]
    assert names(store.call("GET", "/c1?limit=2")) == ["a/1", "a/2"]
    assert names(store.call("GET", "/c1?marker=a/2&limit=2")) == ["b", "c/x/y"]
    assert names(store.call("GET", "/c1?prefix=a/")) == ["a/1", "a/2"]
    assert names(store.call("GET", "/c1?delimiter=/")) == ["a/", "b", "c/", "d"]
    assert names(store.call("GET", "/c1?delimiter=/&marker=a/")) == ["b", "c/", "d"]
    assert names(store.call("GET", "/c1?path=c/x")) == ["c/x/y"]
    assert names(store.call("GET", "/c1?reverse=true")) == ["d", "c/x/y", "b", "a/2", "a/1"]
    assert names(store.call("GET", "/c1?reverse=true&marker=b&limit=2")) == ["a/2", "a/1"]
    assert names(store.call("GET", "/c1?reverse=true&delimiter=/")) == ["d", "c/", "b", "a/"]
    assert names(store.call("GET", "/c1?reverse=true&end_marker=b")) == ["d", "c/x/y"]
    r = store.call("GET", "/c1?delimiter=/&format=json")
    assert {"subdir": "a/"} in json.loads(r.content)
    assert store.call("GET", "/c1?prefix=zzz").status_code == 204
    r = store.call("GET", "/c1?prefix=zzz&format=json")
    assert r.status_code == 200 and json.loads(r.content) == []
    r = store.call("GET", "/c1?prefix=zzz", HTTP_ACCEPT="application/json")
    assert r.status_code == 200 and json.loads(r.content) == []
    r = store.call("GET", "/c1?format=xml&limit=1")
    assert r.status_code == 200 and b"<name>a/1</name>" in r.content
    assert store.call("GET", "/c1?limit=x").status_code == 400


def test_account(store):
    store.call("PUT", "/c1/o", b"12345")
    assert store.call("POST", "", HTTP_X_ACCOUNT_META_TEAM="red").status_code == 202
    r = store.call("HEAD", "")
    assert r.status_code == 204 and r["X-Account-Bytes-Used"] == "5" and r["X-Account-Container-Count"] == "1"
    assert r["X-Account-Meta-Team"] == "red"
    containers = json.loads(store.call("GET", "?format=json").content)
    assert containers[0]["name"] == "c1" and containers[0]["bytes"] == 5 and containers[0]["count"] == 1


def test_authentication_and_isolation(store, bob_store):
    store.call("PUT", "/c1/secret", b"s")
    assert store.call("GET", "/c1/secret", token=False).status_code == 401
    assert store.call("GET", "/c1/secret", HTTP_X_AUTH_TOKEN="bogus").status_code == 401
    bob_view = Store(bob_store.client, store.user, bob_store.token, on_commit=store.on_commit)  # bob at alice's
    assert bob_view.call("GET", "/c1/secret").status_code == 403
    assert bob_view.call("PUT", "/c1/new", b"x").status_code == 403
    assert bob_view.call("HEAD", "").status_code == 403
    assert bob_view.call("PUT", "/c9").status_code == 403


def test_sharing_with_directory_inheritance(store, bob_store):
    bob = str(bob_store.user.uuid)
    bob_view = Store(bob_store.client, store.user, bob_store.token, on_commit=store.on_commit)
    store.call("PUT", "/c1/doc", b"d", HTTP_X_OBJECT_SHARING=f"read={bob}")
    store.call("PUT", "/c1/private", b"p")
    store.call("PUT", "/c1/dir", b"", content_type="application/directory", HTTP_X_OBJECT_SHARING=f"write={bob}")
    store.call("PUT", "/c1/dir/inner", b"i")
    assert store.call("HEAD", "/c1/doc")["X-Object-Sharing"] == f"read={bob}"
    r = bob_view.call("GET", "/c1/doc")
    assert r.status_code == 200 and r["X-Object-Allowed-To"] == "read"
    assert bob_view.call("PUT", "/c1/doc", b"no").status_code == 403
    assert bob_view.call("GET", "/c1/private").status_code == 403
    assert bob_view.call("PUT", "/c1/dir/inner", b"yes").status_code == 201  # inherited write
    assert store.call("HEAD", "/c1/dir/inner")["X-Object-Shared-By"] == "c1/dir"
    assert set(store.body(bob_view.call("GET", "/c1")).decode().split()) == {"doc", "dir", "dir/inner"}
    assert store.body(bob_store.client.get("/pithos/object-store/v1/", HTTP_X_AUTH_TOKEN=bob_store.token)).decode().split() == [str(store.user.uuid)]
    store.call("POST", "/c1/doc", HTTP_X_OBJECT_SHARING="")
    assert bob_view.call("GET", "/c1/doc").status_code == 403
    assert store.call("POST", "/c1/doc", HTTP_X_OBJECT_SHARING="read").status_code == 400


def test_public_links(store):
    store.call("PUT", "/c1/pub.txt", b"hello world", content_type="text/plain")
    assert store.call("POST", "/c1/pub.txt?update", HTTP_X_OBJECT_PUBLIC="true").status_code == 202
    url = store.call("HEAD", "/c1/pub.txt")["X-Object-Public"]
    assert url.startswith("http://testserver/pithos/public/")
    path = url[len("http://testserver") :]
    r = store.client.get(path)
    assert r.status_code == 200 and store.body(r) == b"hello world"
    assert "X-Object-Meta-Color" not in r and "X-Object-UUID" not in r
    store.call("POST", "/c1/pub.txt?update", HTTP_X_OBJECT_PUBLIC="false")
    assert store.client.get(path).status_code == 404


def test_quota_refuses_and_writes_nothing(store, settings):
    store.call("PUT", "/q", HTTP_X_CONTAINER_POLICY_QUOTA="10")
    assert store.call("PUT", "/q/a", b"12345").status_code == 201
    assert store.call("PUT", "/q/b", b"123456").status_code == 413
    assert store.call("HEAD", "/q/b").status_code == 404
    assert store.call("PUT", "/q/a", b"1234567890").status_code == 201  # replacing is fine
    settings.PITHOS_DEFAULT_ACCOUNT_QUOTA = 12
    assert store.call("PUT", "/c1/x", b"123").status_code == 413
    r = store.call("HEAD", "")
    assert r["X-Account-Bytes-Used"] == "10"


def test_large_objects(store):
    for i, part in enumerate([b"a" * 1500, b"b" * 700]):
        store.call("PUT", f"/segs/{i:02d}", part) if i else (store.call("PUT", "/segs"), store.call("PUT", f"/segs/{i:02d}", part))
    store.call("PUT", "/c1/dlo", b"", HTTP_X_OBJECT_MANIFEST="segs/")
    r = store.call("GET", "/c1/dlo")
    assert store.body(r) == b"a" * 1500 + b"b" * 700 and r["X-Object-Manifest"] == "segs/"
    etags = [hashlib.md5(p).hexdigest() for p in (b"a" * 1500, b"b" * 700)]
    manifest = json.dumps([{"path": "/segs/00", "etag": etags[0], "size_bytes": 1500}, {"path": "/segs/01", "etag": etags[1], "size_bytes": 700}])
    r = store.call("PUT", "/c1/slo?multipart-manifest=put", manifest)
    assert r.status_code == 201
    r = store.call("GET", "/c1/slo", HTTP_RANGE="bytes=1490-1509")
    assert store.body(r) == b"a" * 10 + b"b" * 10
    r = store.call("HEAD", "/c1/slo")
    assert r["X-Static-Large-Object"] == "True" and r["Content-Length"] == "2200"
    bad = json.dumps([{"path": "/segs/00", "etag": "0" * 32, "size_bytes": 1500}])
    assert store.call("PUT", "/c1/slo2?multipart-manifest=put", bad).status_code == 409
    listed = json.loads(store.call("GET", "/c1/slo?multipart-manifest=get").content)
    assert [s["name"] for s in listed] == ["/segs/00", "/segs/01"]
    assert store.call("DELETE", "/c1/slo?multipart-manifest=delete").status_code == 200
    assert store.call("HEAD", "/segs/00").status_code == 404 and store.call("HEAD", "/c1/slo").status_code == 404


def test_swift_mount_and_v1_auth(client, alice, small_blocks):  # noqa: F811
    user, password, token = alice
    r = client.get("/auth/v1.0", HTTP_X_AUTH_USER=f"{user.uuid}:{user.email}", HTTP_X_AUTH_KEY=password)
    assert r.status_code == 200
    assert r["X-Storage-Url"] == f"http://testserver/v1/{user.uuid}"
    swift = Store(client, user, r["X-Auth-Token"], root="/v1")
    assert swift.call("PUT", "/sc").status_code == 201
    assert swift.call("POST", "/sc", HTTP_X_CONTAINER_META_A="b").status_code == 204
    assert swift.call("POST", "/nosuch", HTTP_X_CONTAINER_META_A="b").status_code == 404
    assert client.get("/auth/v1.0", HTTP_X_AUTH_USER=user.email, HTTP_X_AUTH_KEY="wrong").status_code == 401
    r = client.get("/pithos/object-store/v1/", HTTP_X_AUTH_USER=str(user.uuid), HTTP_X_AUTH_KEY=token)
    assert r.status_code == 204 and r["X-Auth-Token"] == token
    info = json.loads(client.get("/info").content)
    assert "slo" in info and info["swift"]["max_file_size"] > 0


def test_swift_container_acl_makes_objects_world_readable(store):
    store.call("PUT", "/www", HTTP_X_CONTAINER_READ=".r:*")
    store.call("PUT", "/www/index.html", b"<h1>", content_type="text/html")
    assert store.call("GET", "/www/index.html", token=False).status_code == 200
    assert store.call("PUT", "/www/evil", b"x", token=False).status_code == 401
    assert store.call("GET", "/www", token=False).status_code == 401  # objects, not the listing
    store.call("POST", "/www", HTTP_X_CONTAINER_READ=".r:*,.rlistings")
    r = store.call("GET", "/www", token=False)
    assert r.status_code == 200 and store.body(r) == b"index.html\n"


def test_diskspace_is_charged_to_the_quotaholder(store):
    from synnefo.astakos.quotaholder import logic
    from synnefo.astakos.quotaholder.models import Resource

    uuid = str(store.user.uuid)
    logic.set_base_limit(uuid, Resource.objects.get(name="pithos.diskspace"), 10)

    def usage():
        return logic.user_quotas([uuid])[uuid][uuid]["pithos.diskspace"]

    assert store.call("PUT", "/c1/a", b"123456").status_code == 201
    assert usage()["usage"] == 6 and usage()["pending"] == 0
    assert store.call("HEAD", "")["X-Account-Policy-Quota"] == "10"
    assert store.call("PUT", "/c1/b", b"123456").status_code == 413  # 12 > 10
    assert store.call("HEAD", "/c1/b").status_code == 404
    assert usage()["usage"] == 6
    assert store.call("PUT", "/c1/a", b"1234567890").status_code == 201  # replacing: +4
    assert store.call("DELETE", "/c1/a").status_code == 204
    assert usage()["usage"] == 0


def test_failure_between_block_write_and_commit_leaves_nothing(store, monkeypatch):
    from django.db import DatabaseError

    def broken(*args, **kwargs):
        raise DatabaseError("database went away")

    monkeypatch.setattr(ObjectVersion.objects, "create", broken)
    r = store.call("PUT", "/c1/crash", b"data that reached the block store")
    assert r.status_code == 500
    monkeypatch.undo()
    assert store.call("HEAD", "/c1/crash").status_code == 404
    r = store.call("HEAD", "/c1")
    assert r["X-Container-Object-Count"] == "0" and r["X-Container-Bytes-Used"] == "0"


@pytest.mark.parametrize(
    "initial, headers, body, expected",
    [
        (b"a" * 2500, {"HTTP_CONTENT_RANGE": "bytes 1000-1004/*"}, b"XXXXX", b"a" * 1000 + b"XXXXX" + b"a" * 1495),
        (b"a" * 2048, {"HTTP_CONTENT_RANGE": "bytes */*"}, b"tail", b"a" * 2048 + b"tail"),
        (b"a" * 1000, {"HTTP_CONTENT_RANGE": "bytes 990-/*"}, b"b" * 100, b"a" * 990 + b"b" * 100),
        (b"a" * 3000, {"HTTP_X_OBJECT_BYTES": "1500"}, b"", b"a" * 1500),
        (b"abc", {"HTTP_X_OBJECT_BYTES": "5"}, b"", b"abc\0\0"),
    ],
)
def test_partial_updates(store, initial, headers, body, expected):
    store.call("PUT", "/c1/p", initial, HTTP_X_OBJECT_META_KEEP="yes")
    r = store.call("POST", "/c1/p", body, **headers)
    assert r.status_code == 204, r.content
    r = store.call("GET", "/c1/p")
    assert store.body(r) == expected
    assert r["ETag"] == hashlib.md5(expected).hexdigest() and r["X-Object-Meta-Keep"] == "yes"
    blocks = [block_hash(expected[i : i + 1024]) for i in range(0, len(expected), 1024)]
    assert json.loads(store.call("GET", "/c1/p?hashmap&format=json").content)["hashes"] == blocks


def test_bad_partial_updates_change_nothing(store):
    store.call("PUT", "/c1/p", b"abc")
    assert store.call("POST", "/c1/p", b"x", HTTP_CONTENT_RANGE="bytes 10-10/*").status_code == 416
    assert store.call("POST", "/c1/p", b"xy", HTTP_CONTENT_RANGE="bytes 0-0/*").status_code == 400
    assert store.call("POST", "/c1/p", b"x", HTTP_CONTENT_RANGE="lines 0-0/*").status_code == 400
    assert store.call("POST", "/c1/p", b"", HTTP_X_OBJECT_BYTES="-1").status_code == 400
    assert store.body(store.call("GET", "/c1/p")) == b"abc"


def test_swift_conditional_put_and_metadata_removal(store):
    assert store.call("PUT", "/c1/once", b"1", HTTP_IF_NONE_MATCH="*").status_code == 201
    assert store.call("PUT", "/c1/once", b"2", HTTP_IF_NONE_MATCH="*").status_code == 412
    assert store.body(store.call("GET", "/c1/once")) == b"1"
    store.call("POST", "/c1", HTTP_X_CONTAINER_META_A="1", HTTP_X_CONTAINER_META_B="2")
    store.call("POST", "/c1?update", HTTP_X_REMOVE_CONTAINER_META_A="x")
    r = store.call("HEAD", "/c1")
    assert "X-Container-Meta-A" not in r and r["X-Container-Meta-B"] == "2"


def test_swift_bulk_delete(store):
    store.call("PUT", "/c1/a", b"1")
    store.call("PUT", "/c1/b c", b"2")
    body = b"/c1/a\n/c1/b%20c\n/c1/missing\n/c1\n"
    r = store.call("POST", "?bulk-delete", body, content_type="text/plain", HTTP_ACCEPT="application/json")
    result = json.loads(r.content)
    assert result["Number Deleted"] == 3 and result["Number Not Found"] == 1 and result["Errors"] == []
    assert store.call("HEAD", "/c1").status_code == 404


def test_listing_filters_meta_shared_public(store, bob_store):
    store.call("PUT", "/c1/red", b"1", HTTP_X_OBJECT_META_COLOR="red", HTTP_X_OBJECT_META_SIZE="10")
    store.call("PUT", "/c1/blue", b"1", HTTP_X_OBJECT_META_COLOR="blue", HTTP_X_OBJECT_SIZE="5")
    store.call("PUT", "/c1/plain", b"1", HTTP_X_OBJECT_PUBLIC="true")
    store.call("POST", "/c1/red?update", HTTP_X_OBJECT_SHARING=f"read={bob_store.user.uuid}")
    names = lambda query: store.body(store.call("GET", f"/c1?{query}")).decode().split()  # noqa: E731
    assert names("meta=color") == ["blue", "red"]
    assert names("meta=!color") == ["plain"]
    assert names("meta=color=red") == ["red"]
    assert names("meta=color!=red") == ["blue"]
    assert names("meta=size>=1") == ["red"]
    assert names("shared") == ["red"]
    assert names("public") == ["plain"]
    assert names("shared&public") == ["plain", "red"]


def test_hashmap_reupload_reuses_the_known_md5(store, monkeypatch):
    data = os.urandom(2500)
    store.call("PUT", "/c1/orig", data)
    hashes = [block_hash(data[i : i + 1024]) for i in range(0, len(data), 1024)]
    from synnefo.pithos.backend import objects as backend

    def no_reads(*args):
        raise AssertionError("the blocks of a known map were read again")

    monkeypatch.setattr(backend, "md5_of_blocks", no_reads)
    body = json.dumps({"hashes": hashes, "bytes": len(data)})
    assert store.call("PUT", "/c1/again?hashmap", body).status_code == 201
    assert store.call("HEAD", "/c1/again")["ETag"] == hashlib.md5(data).hexdigest()


def test_deleting_never_fails_over_quota_bookkeeping(store, settings):
    settings.PITHOS_USE_QUOTAHOLDER = False
    store.call("PUT", "/c1/before-quotas", b"123456")  # written while quotas were off
    settings.PITHOS_USE_QUOTAHOLDER = True
    assert store.call("DELETE", "/c1/before-quotas").status_code == 204


def test_swift_expiring_objects(store):
    import time as _time

    assert store.call("PUT", "/c1/temp", b"x", HTTP_X_DELETE_AFTER="100").status_code == 201
    at = int(store.call("HEAD", "/c1/temp")["X-Delete-At"])
    assert abs(at - (_time.time() + 100)) < 5
    assert store.call("PUT", "/c1/bad", b"x", HTTP_X_DELETE_AT="12").status_code == 400
    assert store.call("PUT", "/c1/bad", b"x", HTTP_X_DELETE_AFTER="soon").status_code == 400
    assert store.call("HEAD", "/c1/bad").status_code == 404
    ObjectVersion.objects.filter(name="temp").update(delete_at=_time.time() - 1)
    assert store.call("GET", "/c1/temp").status_code == 404
    assert b"temp" not in store.body(store.call("GET", "/c1"))
    store.call("PUT", "/c1/keep", b"y", HTTP_X_DELETE_AFTER="100")
    assert store.call("POST", "/c1/keep?update", HTTP_X_REMOVE_DELETE_AT="1").status_code == 202
    assert "X-Delete-At" not in store.call("HEAD", "/c1/keep")
    from synnefo.pithos.backend.objects import expire_objects

    assert expire_objects() == 1
    assert store.call("HEAD", "/c1")["X-Container-Object-Count"] == "1"


def test_object_time_travel_with_until(store):
    import time as _time

    store.call("PUT", "/c1/tt", b"first")
    t1 = _time.time()
    _time.sleep(0.02)
    store.call("PUT", "/c1/tt", b"second")
    t2 = _time.time()
    _time.sleep(0.02)
    store.call("DELETE", "/c1/tt")
    t3 = _time.time()
    assert store.body(store.call("GET", f"/c1/tt?until={t1}")) == b"first"
    assert store.body(store.call("GET", f"/c1/tt?until={t2}")) == b"second"
    assert store.call("GET", f"/c1/tt?until={t3}").status_code == 404
    assert store.call("GET", "/c1/tt?until=0").status_code == 404
    assert store.call("GET", "/c1/tt?until=never").status_code == 400
    assert store.call("GET", "/c1/tt").status_code == 404
