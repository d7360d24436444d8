"""Images: Synnefo's image API v1.0 as kamaki 0.16 uses it (CLIENTS-KAMAKI.md), the Glance v2
subset the OpenStack clients use, and the Pithos files underneath."""

import hashlib
import json
from urllib.parse import quote

import pytest

from tests.pithos_helpers import Store, small_blocks  # noqa: F401

pytestmark = pytest.mark.django_db
V1 = "/cyclades/image/v1.0"
V2 = "/cyclades/image/v2"


@pytest.fixture
def alice_store(client, alice, small_blocks, django_capture_on_commit_callbacks):  # noqa: F811
    user, _, token = alice
    s = Store(client, user, token, on_commit=django_capture_on_commit_callbacks)
    assert s.call("PUT", "/images").status_code == 201
    assert s.call("PUT", "/images/debian.diskdump", b"disk image bytes" * 200).status_code == 201
    return s


@pytest.fixture
def bob(make_user):
    return make_user("bob@example.org")


def api(client, method, path, token, data=b"", content_type="application/octet-stream", **headers):
    return client.generic(method, path, data=data, content_type=content_type, HTTP_X_AUTH_TOKEN=token, **headers)


def register(client, store, name="Debian Base", path="images/debian.diskdump", **headers):
    defaults = {
        "HTTP_X_IMAGE_META_NAME": quote(name),
        "HTTP_X_IMAGE_META_LOCATION": f"pithos://{store.user.uuid}/{path}",
        "HTTP_X_IMAGE_META_DISK_FORMAT": "diskdump",
        "HTTP_X_IMAGE_META_PROPERTY_OSFAMILY": "linux",
        "HTTP_X_IMAGE_META_PROPERTY_ROOT_PARTITION": "1",
    }
    defaults.update(headers)
    return api(client, "POST", f"{V1}/images/", store.token, **defaults)


def test_kamaki_register_list_info_unregister(client, alice_store):
    r = register(client, alice_store, name="Débian Base")
    assert r.status_code == 200
    image_id = r["X-Image-Meta-Id"]
    version = alice_store.call("HEAD", "/images/debian.diskdump")
    assert r["X-Image-Meta-Size"] == version["Content-Length"] and r["X-Image-Meta-Status"] == "AVAILABLE"
    assert r["X-Image-Meta-Checksum"] == version["X-Object-Hash"]
    assert r["X-Image-Meta-Name"] == quote("Débian Base") and r["X-Image-Meta-Property-osfamily"] == "linux"
    assert r["X-Image-Meta-Location"] == f"pithos://{alice_store.user.uuid}/images/debian.diskdump"
    # kamaki 0.16 needs bare arrays.
    listed = api(client, "GET", f"{V1}/images/?sort_dir=asc", alice_store.token).json()
    assert listed == [{"id": image_id, "name": "Débian Base", "status": "AVAILABLE", "disk_format": "diskdump",
                       "container_format": "bare", "size": 3200}]
    (detail,) = api(client, "GET", f"{V1}/images/detail?sort_dir=asc", alice_store.token).json()
    assert detail["properties"] == {"osfamily": "linux", "root_partition": "1"}
    assert detail["owner"] == str(alice_store.user.uuid) and detail["is_public"] is False
    head = api(client, "HEAD", f"{V1}/images/{image_id}", alice_store.token)
    assert head.status_code == 200 and head["X-Image-Meta-Id"] == image_id
    # The Synnefo update: only the given values change.
    r = api(client, "PUT", f"{V1}/images/{image_id}", alice_store.token, HTTP_X_IMAGE_META_PROPERTY_USERS="root user")
    assert r.status_code == 200
    assert api(client, "GET", f"{V1}/images/detail", alice_store.token).json()[0]["properties"] == {
        "osfamily": "linux", "root_partition": "1", "users": "root user"}
    # Unregister keeps the file.
    assert api(client, "DELETE", f"{V1}/images/{image_id}", alice_store.token).status_code == 204
    assert api(client, "GET", f"{V1}/images/", alice_store.token).json() == []
    assert alice_store.call("HEAD", "/images/debian.diskdump").status_code == 200


def test_registration_bad_input_changes_nothing(client, alice_store, bob):
    uuid = alice_store.user.uuid
    cases = [
        ({"HTTP_X_IMAGE_META_LOCATION": "http://x/y"}, 400),
        ({"HTTP_X_IMAGE_META_LOCATION": f"pithos://{uuid}/images/missing"}, 404),
        ({"HTTP_X_IMAGE_META_LOCATION": f"pithos://{uuid}/nocontainer/x"}, 404),
        ({"HTTP_X_IMAGE_META_LOCATION": f"pithos://{bob[0].uuid}/images/x"}, 403),
        ({"HTTP_X_IMAGE_META_NAME": ""}, 400),
        ({"HTTP_X_IMAGE_META_DISK_FORMAT": "floppy"}, 400),
        ({"HTTP_X_IMAGE_META_CONTAINER_FORMAT": "zip"}, 400),
        ({"HTTP_X_IMAGE_META_ID": "8c1e1b52-7fb7-4f5e-a3e5-0d3c40d1b0aa"}, 400),
        ({"HTTP_X_IMAGE_META_SIZE": "12"}, 400),
        ({"HTTP_X_IMAGE_META_SIZE": "lots"}, 400),
        ({"HTTP_X_IMAGE_META_CHECKSUM": "00" * 32}, 400),
        ({"HTTP_X_IMAGE_META_IS_PUBLIC": "perhaps"}, 400),
        ({"HTTP_X_IMAGE_META_STORE": "s3"}, 400),
        ({"HTTP_X_IMAGE_META_OWNER": str(bob[0].uuid)}, 403),
        ({"HTTP_X_IMAGE_META_LOCATION": ""}, 501),
    ]
    for headers, status in cases:
        r = register(client, alice_store, **headers)
        assert r.status_code == status, (headers, r.content)
    assert api(client, "GET", f"{V1}/images/", alice_store.token).json() == []
    assert api(client, "GET", f"{V1}/images/", "bogus").status_code == 401


def test_public_images_and_members_are_pithos_sharing(client, alice_store, bob):
    bob_user, _, bob_token = bob
    image_id = register(client, alice_store)["X-Image-Meta-Id"]
    assert api(client, "GET", f"{V1}/images/", bob_token).json() == []
    assert api(client, "HEAD", f"{V1}/images/{image_id}", bob_token).status_code == 404
    # Members: Bob may read it, in Plankton and in Pithos.
    body = json.dumps({"memberships": [{"member_id": str(bob_user.uuid)}]})
    assert api(client, "PUT", f"{V1}/images/{image_id}/members", alice_store.token, body).status_code == 204
    assert api(client, "GET", f"{V1}/images/{image_id}/members", alice_store.token).json() == {
        "members": [{"member_id": str(bob_user.uuid), "can_share": False}]}
    assert [i["id"] for i in api(client, "GET", f"{V1}/images/", bob_token).json()] == [image_id]
    assert api(client, "GET", f"{V1}/shared-images/{bob_user.uuid}", bob_token).json() == {
        "shared_images": [{"image_id": image_id, "can_share": False}]}
    assert "read=" in alice_store.call("HEAD", "/images/debian.diskdump")["X-Object-Sharing"]
    # Bob may not change it.
    assert api(client, "PUT", f"{V1}/images/{image_id}", bob_token, HTTP_X_IMAGE_META_NAME="x").status_code == 403
    assert api(client, "DELETE", f"{V1}/images/{image_id}", bob_token).status_code == 403
    assert api(client, "DELETE", f"{V1}/images/{image_id}/members/{bob_user.uuid}", alice_store.token).status_code == 204
    assert api(client, "GET", f"{V1}/images/", bob_token).json() == []
    # Public: everybody sees it, and the members list stays empty.
    assert api(client, "PUT", f"{V1}/images/{image_id}", alice_store.token, HTTP_X_IMAGE_META_IS_PUBLIC="true").status_code == 200
    (seen,) = api(client, "GET", f"{V1}/images/detail", bob_token).json()
    assert seen["is_public"] is True and seen["id"] == image_id
    assert api(client, "GET", f"{V1}/images/{image_id}/members", alice_store.token).json() == {"members": []}
    bad = api(client, "PUT", f"{V1}/images/{image_id}/members", alice_store.token, b'{"memberships": [{"member_id": "not-a-uuid"}]}')
    assert bad.status_code == 400


def test_an_image_follows_its_file(client, alice_store):
    image_id = register(client, alice_store)["X-Image-Meta-Id"]
    # A new upload of the file keeps the image (same object, same id), with the new size.
    assert alice_store.call("PUT", "/images/debian.diskdump", b"new" * 10).status_code == 201
    assert api(client, "HEAD", f"{V1}/images/{image_id}", alice_store.token)["X-Image-Meta-Size"] == "30"
    # A move keeps it too; deleting the file makes it disappear.
    r = alice_store.call("MOVE", "/images/debian.diskdump", HTTP_DESTINATION="/images/moved.diskdump")
    assert r.status_code == 201
    head = api(client, "HEAD", f"{V1}/images/{image_id}", alice_store.token)
    assert head["X-Image-Meta-Location"].endswith("/images/moved.diskdump")
    assert alice_store.call("DELETE", "/images/moved.diskdump").status_code == 204
    assert api(client, "HEAD", f"{V1}/images/{image_id}", alice_store.token).status_code == 404
    assert api(client, "GET", f"{V1}/images/", alice_store.token).json() == []


def test_list_filters_and_sorting(client, alice_store):
    alice_store.call("PUT", "/images/b.raw", b"x" * 10)
    first = register(client, alice_store, name="A")["X-Image-Meta-Id"]
    second = register(client, alice_store, name="B", path="images/b.raw", HTTP_X_IMAGE_META_DISK_FORMAT="raw")["X-Image-Meta-Id"]
    names = lambda q: [i["name"] for i in api(client, "GET", f"{V1}/images/detail?{q}", alice_store.token).json()]  # noqa: E731
    assert names("") == ["B", "A"]  # newest first by default
    assert names("sort_key=name&sort_dir=asc") == ["A", "B"]
    assert names("disk_format=raw") == ["B"] and names("size_max=100") == ["B"] and names("name=A") == ["A"]
    assert api(client, "GET", f"{V1}/images/detail?sort_key=owner", alice_store.token).status_code == 400
    assert api(client, "GET", f"{V1}/images/detail?size_min=big", alice_store.token).status_code == 400
    assert {first, second} == {i["id"] for i in api(client, "GET", f"{V1}/images/", alice_store.token).json()}
    assert api(client, "GET", f"{V1}/images/{first}", alice_store.token).status_code == 501
    assert api(client, "GET", f"{V1}/images/not-an-id", alice_store.token).status_code == 404


# --- Glance v2 -------------------------------------------------------------------------------


def test_glance_version_document(client):
    r = client.get("/cyclades/image")
    assert r.status_code == 300
    assert r.json()["versions"][0]["links"][0]["href"] == "http://testserver/cyclades/image/v2/"


def test_glance_create_upload_download_delete(client, alice_store):
    token = alice_store.token
    body = {"disk_format": "raw", "name": "img1", "container_format": "bare", "owner_specified.openstack.md5": "",
            "owner_specified.openstack.sha256": "", "owner_specified.openstack.object": "images/img1"}
    r = api(client, "POST", f"{V2}/images", token, json.dumps(body), content_type="application/json")
    assert r.status_code == 201, r.content
    created = r.json()
    assert created["status"] == "queued" and created["visibility"] == "private" and created["size"] is None
    image_id = created["id"]
    with alice_store.on_commit(execute=True):
        r = api(client, "PUT", f"{V2}/images/{image_id}/file", token, b"hello, image!", HTTP_X_OPENSTACK_IMAGE_SIZE="13")
    assert r.status_code == 204
    shown = api(client, "GET", f"{V2}/images/{image_id}", token).json()
    assert shown["status"] == "active" and shown["size"] == 13
    assert shown["checksum"] == hashlib.md5(b"hello, image!").hexdigest()
    # The data is a Pithos file, and the image is a Plankton image too.
    assert alice_store.body(alice_store.call("GET", "/images/img1")) == b"hello, image!"
    assert api(client, "HEAD", f"{V1}/images/{image_id}", token)["X-Image-Meta-Status"] == "AVAILABLE"
    download = api(client, "GET", f"{V2}/images/{image_id}/file", token)
    assert b"".join(download.streaming_content) == b"hello, image!"
    # Data goes in once.
    assert api(client, "PUT", f"{V2}/images/{image_id}/file", token, b"again").status_code == 409
    # id=in: filtering, as `openstack server list` resolves image names.
    r = api(client, "GET", f"{V2}/images?id=in:{image_id},{'0' * 8}-0000-4000-8000-{'0' * 12}", token)
    assert [i["id"] for i in r.json()["images"]] == [image_id]
    with alice_store.on_commit(execute=True):
        assert api(client, "DELETE", f"{V2}/images/{image_id}", token).status_code == 204
    assert api(client, "GET", f"{V2}/images/{image_id}", token).status_code == 404
    assert alice_store.call("HEAD", "/images/img1").status_code == 404


def test_glance_patch_visibility_and_properties(client, alice_store, bob):
    token = alice_store.token
    image_id = register(client, alice_store)["X-Image-Meta-Id"]
    patch = [{"op": "replace", "path": "/visibility", "value": "public"}, {"op": "add", "path": "/hw_disk_bus", "value": "virtio"},
             {"op": "remove", "path": "/root_partition"}, {"op": "replace", "path": "/min_disk", "value": 20}]
    r = api(client, "PATCH", f"{V2}/images/{image_id}", token, json.dumps(patch), content_type="application/openstack-images-v2.1-json-patch")
    assert r.status_code == 200, r.content
    record = r.json()
    assert record["visibility"] == "public" and record["hw_disk_bus"] == "virtio" and record["min_disk"] == 20
    assert "root_partition" not in record and record["osfamily"] == "linux"
    assert [i["id"] for i in api(client, "GET", f"{V2}/images", bob[2]).json()["images"]] == [image_id]
    for bad, status in (([{"op": "replace", "path": "/size", "value": 1}], 403), ([{"op": "move", "path": "/x"}], 400),
                        ([{"op": "remove", "path": "/nothing"}], 409), ({"op": "add"}, 400)):
        r = api(client, "PATCH", f"{V2}/images/{image_id}", token, json.dumps(bad), content_type="application/openstack-images-v2.1-json-patch")
        assert r.status_code == status, (bad, r.content)
    r = api(client, "PATCH", f"{V2}/images/{image_id}", token, json.dumps(patch), content_type="application/json")
    assert r.status_code == 415
    r = api(client, "PATCH", f"{V2}/images/{image_id}", bob[2], json.dumps(patch), content_type="application/openstack-images-v2.1-json-patch")
    assert r.status_code == 403


def test_glance_bad_creates(client, alice_store):
    token = alice_store.token
    for body, status in (({"name": "x", "disk_format": "floppy"}, 400), ({"name": "x", "visibility": "everyone"}, 400),
                         ({"name": "x", "id": "nope"}, 400), ({"name": "x", "size": 3}, 403), ({"name": "x", "min_ram": -1}, 400),
                         ({"name": "x", "owner_specified.openstack.object": "images/../x"}, 400)):
        r = api(client, "POST", f"{V2}/images", token, json.dumps(body), content_type="application/json")
        assert r.status_code == status, (body, r.content)
    assert api(client, "GET", f"{V2}/images", token).json()["images"] == []
    # No half-created objects either.
    listing = alice_store.call("GET", "/images?format=json")
    assert [o["name"] for o in json.loads(alice_store.body(listing))] == ["debian.diskdump"]


# --- the compute API's images (kamaki's server create reads them) ------------------------------

C = "/cyclades/compute/v2.0"


def test_compute_images_are_plankton_images(client, alice_store, bob):
    token = alice_store.token
    image_id = register(client, alice_store)["X-Image-Meta-Id"]
    r = api(client, "GET", f"{C}/images/{image_id}", token)
    assert r.status_code == 200
    record = r.json()["image"]
    assert record["status"] == "ACTIVE" and record["progress"] == 100 and record["name"] == "Debian Base"
    assert record["metadata"] == {"osfamily": "linux", "root_partition": "1"}
    assert [i["id"] for i in api(client, "GET", f"{C}/images", token).json()["images"]] == [image_id]
    assert api(client, "GET", f"{C}/images/detail", bob[2]).json() == {"images": []}
    assert api(client, "GET", f"{C}/images/{image_id}", bob[2]).status_code == 404
    # Metadata: POST merges, PUT one key, DELETE one key.
    r = api(client, "POST", f"{C}/images/{image_id}/metadata", token, b'{"metadata": {"users": "root"}}', content_type="application/json")
    assert r.status_code == 201 and r.json()["metadata"]["users"] == "root"
    r = api(client, "PUT", f"{C}/images/{image_id}/metadata/os", token, b'{"meta": {"os": "debian"}}', content_type="application/json")
    assert r.status_code == 201 and r.json() == {"meta": {"os": "debian"}}
    assert api(client, "GET", f"{C}/images/{image_id}/metadata/os", token).json() == {"meta": {"os": "debian"}}
    assert api(client, "DELETE", f"{C}/images/{image_id}/metadata/os", token).status_code == 204
    assert api(client, "GET", f"{C}/images/{image_id}/metadata/os", token).status_code == 404
    r = api(client, "PUT", f"{C}/images/{image_id}/metadata/os", token, b'{"meta": {"other": "x"}}', content_type="application/json")
    assert r.status_code == 400
    r = api(client, "POST", f"{C}/images/{image_id}/metadata", bob[2], b'{"metadata": {"a": "b"}}', content_type="application/json")
    assert r.status_code == 404
    assert api(client, "DELETE", f"{C}/images/{image_id}", token).status_code == 204
    assert api(client, "GET", f"{C}/images/{image_id}", token).status_code == 404


def test_image_list_and_show_commands(client, alice_store, bob):
    import io

    from django.core.management import CommandError, call_command

    image_id = register(client, alice_store)["X-Image-Meta-Id"]
    out = io.StringIO()
    call_command("image-list", "--output-format", "json", stdout=out)
    (listed,) = json.loads(out.getvalue())
    assert listed["id"] == image_id and listed["owner"] == str(alice_store.user.uuid) and listed["public"] is False
    out = io.StringIO()
    call_command("image-list", "--user", "bob@example.org", "--output-format", "json", stdout=out)
    assert json.loads(out.getvalue()) == []
    out = io.StringIO()
    call_command("image-show", image_id, "--output-format", "json", stdout=out)
    shown = json.loads(out.getvalue())
    assert shown["property:osfamily"] == "linux" and shown["location"].endswith("/images/debian.diskdump")
    with pytest.raises(CommandError, match="not found"):
        call_command("image-show", "no-such-image", stdout=io.StringIO())
    with pytest.raises(CommandError, match="Bad filter"):
        call_command("image-list", "--filter-by", "name=x", stdout=io.StringIO())
