"""Object POST writes: partial updates from another object (``X-Source-Object``) and HTML form
uploads (``multipart/form-data``), end to end through the API, bad input included."""

import hashlib
import json
import os

import pytest
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.pithos_helpers import Store, block_hash, small_blocks  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture
def store(client, alice, small_blocks, django_capture_on_commit_callbacks):  # noqa: F811
    user, _, token = alice
    s = Store(client, user, token, on_commit=django_capture_on_commit_callbacks)
    assert s.call("PUT", "/c1").status_code == 201
    return s


@pytest.fixture
def bob(client, make_user, small_blocks, django_capture_on_commit_callbacks):  # noqa: F811
    user, _, token = make_user("bob@example.org")
    s = Store(client, user, token, on_commit=django_capture_on_commit_callbacks)
    assert s.call("PUT", "/shared").status_code == 201
    return s


def content(store, path) -> bytes:
    r = store.call("GET", path)
    assert r.status_code == 200, r.content
    return store.body(r)


def hashes(store, path) -> list[str]:
    return json.loads(store.call("GET", f"{path}?hashmap&format=json").content)["hashes"]


# ------------------------------------------------------------------------ X-Source-Object

SRC = os.urandom(2500)


@pytest.mark.parametrize(
    "content_range, expected",
    [
        ("bytes 1024-/*", b"a" * 1024 + SRC),  # block-aligned: the source's blocks are reused
        ("bytes 10-19/*", b"a" * 10 + SRC[:10] + b"a" * 2980),  # first END-START+1 bytes of the source
        ("bytes */*", b"a" * 3000 + SRC),  # append
        ("bytes 3000-/*", b"a" * 3000 + SRC),
        ("bytes 0-2499/*", SRC + b"a" * 500),
    ],
)
def test_source_object_is_written_into_the_range(store, content_range, expected):
    store.call("PUT", "/c1/src", SRC)
    store.call("PUT", "/c1/t", b"a" * 3000, HTTP_X_OBJECT_META_KEEP="yes")
    r = store.call("POST", "/c1/t", HTTP_X_SOURCE_OBJECT="/c1/src", HTTP_CONTENT_RANGE=content_range)
    assert r.status_code == 204, r.content
    r = store.call("GET", "/c1/t")
    assert store.body(r) == expected
    assert r["ETag"] == hashlib.md5(expected).hexdigest() and r["X-Object-Meta-Keep"] == "yes"
    assert hashes(store, "/c1/t") == [block_hash(expected[i : i + 1024]) for i in range(0, len(expected), 1024)]
    assert store.call("HEAD", "/c1")["X-Container-Bytes-Used"] == str(len(SRC) + len(expected))
    assert content(store, "/c1/src") == SRC  # the source is untouched


def test_aligned_source_blocks_are_not_read(store, monkeypatch, settings):
    store.call("PUT", "/c1/src", SRC)
    store.call("PUT", "/c1/t", b"a" * 1024)
    from synnefo.pithos.backend import data

    def no_reads(*args):
        raise AssertionError("a block was read")

    settings.PITHOS_UPDATE_MD5 = False  # (the MD5 of the result would read every block)
    with monkeypatch.context() as patch:
        patch.setattr(data, "read_range", no_reads)
        r = store.call("POST", "/c1/t", HTTP_X_SOURCE_OBJECT="/c1/src", HTTP_CONTENT_RANGE="bytes 1024-/*")
    assert r.status_code == 204, r.content
    assert hashes(store, "/c1/t")[1:] == hashes(store, "/c1/src")
    assert content(store, "/c1/t") == b"a" * 1024 + SRC


def test_source_version_and_other_account(store, bob):
    bob.call("PUT", "/shared/doc", b"old-data")
    first = bob.call("HEAD", "/shared/doc")["X-Object-Version"]
    bob.call("PUT", "/shared/doc", b"new-data")
    store.call("PUT", "/c1/t", b"________")
    headers = dict(HTTP_X_SOURCE_OBJECT="/shared/doc", HTTP_X_SOURCE_ACCOUNT=str(bob.user.uuid), HTTP_CONTENT_RANGE="bytes 0-/*")
    # Not shared with alice: 403, and her object is unchanged.
    assert store.call("POST", "/c1/t", **headers).status_code == 403
    assert content(store, "/c1/t") == b"________"
    bob.call("POST", "/shared/doc", HTTP_X_OBJECT_SHARING=f"read={store.user.uuid}")
    assert store.call("POST", "/c1/t", **headers).status_code == 204
    assert content(store, "/c1/t") == b"new-data"
    assert store.call("POST", "/c1/t", HTTP_X_SOURCE_VERSION=first, **headers).status_code == 204
    assert content(store, "/c1/t") == b"old-data"
    # Read access to the source does not give write access to it.
    r = bob.call("HEAD", "/shared/doc")
    assert r["X-Object-Version"] != first and content(bob, "/shared/doc") == b"new-data"


@pytest.mark.parametrize(
    "headers, body, status",
    [
        ({"HTTP_X_SOURCE_OBJECT": "/c1/missing", "HTTP_CONTENT_RANGE": "bytes 0-/*"}, b"", 404),
        ({"HTTP_X_SOURCE_OBJECT": "/nocontainer/src", "HTTP_CONTENT_RANGE": "bytes 0-/*"}, b"", 404),
        ({"HTTP_X_SOURCE_OBJECT": "/c1/src", "HTTP_CONTENT_RANGE": "bytes 0-/*", "HTTP_X_SOURCE_VERSION": "999999"}, b"", 404),
        ({"HTTP_X_SOURCE_OBJECT": "/c1/src", "HTTP_CONTENT_RANGE": "bytes 0-/*", "HTTP_X_SOURCE_VERSION": "x"}, b"", 400),
        ({"HTTP_X_SOURCE_OBJECT": "/c1", "HTTP_CONTENT_RANGE": "bytes 0-/*"}, b"", 400),
        ({"HTTP_X_SOURCE_OBJECT": "/c1/../src", "HTTP_CONTENT_RANGE": "bytes 0-/*"}, b"", 400),
        ({"HTTP_X_SOURCE_OBJECT": "/c1/src"}, b"", 400),  # no Content-Range
        ({"HTTP_X_SOURCE_OBJECT": "/c1/src", "HTTP_CONTENT_RANGE": "bytes 0-/*"}, b"body", 400),
        ({"HTTP_X_SOURCE_OBJECT": "/c1/src", "HTTP_CONTENT_RANGE": "bytes 0-5000/*"}, b"", 416),  # longer than source
        ({"HTTP_X_SOURCE_OBJECT": "/c1/src", "HTTP_CONTENT_RANGE": "bytes 9-/*"}, b"", 416),  # past the target's end
        ({"HTTP_X_SOURCE_OBJECT": "/c1/src", "HTTP_CONTENT_RANGE": "bytes 5-2/*"}, b"", 400),
        ({"HTTP_X_SOURCE_OBJECT": "/c1/src", "HTTP_CONTENT_RANGE": "lines 0-/*"}, b"", 400),
    ],
)
def test_bad_source_updates_change_nothing(store, headers, body, status):
    store.call("PUT", "/c1/src", SRC)
    store.call("PUT", "/c1/t", b"12345678")
    before = store.call("HEAD", "/c1/t")["X-Object-Version"]
    r = store.call("POST", "/c1/t", body, **headers)
    assert r.status_code == status, r.content
    assert content(store, "/c1/t") == b"12345678"
    assert store.call("HEAD", "/c1/t")["X-Object-Version"] == before
    assert len(json.loads(store.call("GET", "/c1/t?version=list").content)["versions"]) == 1


def test_source_update_growth_is_charged_to_quota(store):
    store.call("PUT", "/c1/src", SRC)
    store.call("PUT", "/c1/t", b"x")
    store.call("POST", "/c1", HTTP_X_CONTAINER_POLICY_QUOTA=str(len(SRC) + 100))
    r = store.call("POST", "/c1/t", HTTP_X_SOURCE_OBJECT="/c1/src", HTTP_CONTENT_RANGE="bytes */*")
    assert r.status_code == 413
    assert content(store, "/c1/t") == b"x"
    assert store.call("HEAD", "/c1")["X-Container-Bytes-Used"] == str(len(SRC) + 1)
    r = store.call("POST", "/c1/t", HTTP_X_SOURCE_OBJECT="/c1/src", HTTP_CONTENT_RANGE="bytes 0-49/*")
    assert r.status_code == 204
    assert store.call("HEAD", "/c1")["X-Container-Bytes-Used"] == str(len(SRC) + 50)


def test_source_update_is_charged_to_the_quotaholder(store):
    from synnefo.astakos.quotaholder import logic
    from synnefo.astakos.quotaholder.models import Resource

    uuid = str(store.user.uuid)
    logic.set_base_limit(uuid, Resource.objects.get(name="pithos.diskspace"), len(SRC) + 200)

    def usage():
        return logic.user_quotas([uuid])[uuid][uuid]["pithos.diskspace"]["usage"]

    store.call("PUT", "/c1/src", SRC)
    store.call("PUT", "/c1/t", b"x" * 100)
    assert usage() == len(SRC) + 100
    # Doubling the source into the target would pass the limit: refused, nothing charged.
    assert store.call("POST", "/c1/t", HTTP_X_SOURCE_OBJECT="/c1/src", HTTP_CONTENT_RANGE="bytes */*").status_code == 413
    assert usage() == len(SRC) + 100 and content(store, "/c1/t") == b"x" * 100
    r = store.call("POST", "/c1/t", HTTP_X_SOURCE_OBJECT="/c1/src", HTTP_CONTENT_RANGE="bytes 100-149/*")
    assert r.status_code == 204
    assert usage() == len(SRC) + 150


# ------------------------------------------------------------------------ HTML form upload


def form(**fields) -> bytes:
    return encode_multipart(BOUNDARY, fields)


def post_form(store, path, body, token=True, query=""):
    return store.call("POST", path + query, body, token=token, content_type=MULTIPART_CONTENT)


def test_form_upload_creates_the_object(store):
    data = os.urandom(3000)
    body = form(**{"X-Object-Data": SimpleUploadedFile("photo.png", data, content_type="image/png")})
    r = post_form(store, "/c1/up.png", body)
    assert r.status_code == 201, r.content
    assert r["ETag"] == hashlib.md5(data).hexdigest() and r["X-Object-Version"]
    got = store.call("GET", "/c1/up.png")
    assert store.body(got) == data and got["Content-Type"] == "image/png"
    # Again: a new version, the old one kept in the history.
    r = post_form(store, "/c1/up.png", form(**{"X-Object-Data": SimpleUploadedFile("p", b"second")}))
    assert r.status_code == 201
    assert content(store, "/c1/up.png") == b"second"
    assert len(json.loads(store.call("GET", "/c1/up.png?version=list").content)["versions"]) == 2
    assert store.call("HEAD", "/c1")["X-Container-Object-Count"] == "1"


def test_form_upload_token_as_parameter(store):
    upload = {"X-Object-Data": SimpleUploadedFile("a.txt", b"via query")}
    r = post_form(store, "/c1/q.txt", form(**upload), token=False, query=f"?X-Auth-Token={store.token}")
    assert r.status_code == 201, r.content
    upload = {"X-Object-Data": SimpleUploadedFile("a.txt", b"via field"), "X-Auth-Token": store.token}
    assert post_form(store, "/c1/f.txt", form(**upload), token=False).status_code == 201
    assert content(store, "/c1/q.txt") == b"via query" and content(store, "/c1/f.txt") == b"via field"
    assert store.call("HEAD", "/c1/f.txt")["Content-Type"] == "text/plain"
    upload = {"X-Object-Data": SimpleUploadedFile("a.txt", b"x"), "X-Auth-Token": "not-a-token"}
    assert post_form(store, "/c1/bad.txt", form(**upload), token=False).status_code == 401
    assert post_form(store, "/c1/none.txt", form(**{"X-Object-Data": SimpleUploadedFile("a", b"x")}), token=False).status_code == 401
    assert store.call("HEAD", "/c1/bad.txt").status_code == 404 and store.call("HEAD", "/c1/none.txt").status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        form(other=SimpleUploadedFile("a", b"x")),  # no X-Object-Data
        form(**{"X-Object-Data": "just text"}),  # a field, not a file
        form(**{"X-Object-Data": [SimpleUploadedFile("a", b"x"), SimpleUploadedFile("b", b"y")]}),  # two files
        b"--" + BOUNDARY.encode() + b"\r\nContent-Disposition: form-data; name=\"X-Object-Data\"; filename=\"a\"\r\n",
        b"not a multipart body at all",
    ],
)
def test_bad_forms_are_400_and_write_nothing(store, body):
    store.call("PUT", "/c1/keep", b"kept")
    assert post_form(store, "/c1/keep", body).status_code == 400
    assert post_form(store, "/c1/new", body).status_code == 400
    assert content(store, "/c1/keep") == b"kept"
    assert store.call("HEAD", "/c1/new").status_code == 404
    assert store.call("HEAD", "/c1")["X-Container-Object-Count"] == "1"


def test_form_upload_permissions_and_quota(store, bob):
    upload = form(**{"X-Object-Data": SimpleUploadedFile("a", b"x" * 500)})
    bob.url = store.url
    assert post_form(bob, "/c1/intruder", upload).status_code == 403
    assert post_form(store, "/nocontainer/a", upload).status_code == 404
    store.call("POST", "/c1", HTTP_X_CONTAINER_POLICY_QUOTA="100")
    assert post_form(store, "/c1/big", upload).status_code == 413
    assert store.call("HEAD", "/c1/intruder").status_code == 404 and store.call("HEAD", "/c1/big").status_code == 404
