"""End to end: the object store of a live node (`synnefo up`) driven by real clients:
python-swiftclient (library and CLI), openstacksdk, rclone, and a hashmap client that makes
kamaki 0.16's calls (CLIENTS-KAMAKI.md section 4)."""

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests


from tests.services import require




@pytest.fixture(scope="module")
def swift(node):
    from swiftclient.client import Connection

    return Connection(authurl=f"{node.url}/auth/v1.0", user=node.credentials["email"], key=node.credentials["password"])


def test_swiftclient_roundtrip_listing_and_metadata(swift):
    swift.put_container("e2e")
    data = os.urandom(100_000)
    etag = swift.put_object("e2e", "dir/data.bin", data, etag=hashlib.md5(data).hexdigest())
    assert etag == hashlib.md5(data).hexdigest()
    headers, body = swift.get_object("e2e", "dir/data.bin")
    assert body == data and headers["etag"] == etag
    for i in range(25):
        swift.put_object("e2e", f"many/{i:03d}", b"x")
    _, listing = swift.get_container("e2e", prefix="many/", limit=10, full_listing=True)
    assert [o["name"] for o in listing] == [f"many/{i:03d}" for i in range(25)]
    name = "ünïcode dir/ファイル #1?.txt"
    swift.put_object("e2e", name, b"unicode", headers={"X-Object-Meta-Note": "caf\u00e9"})
    headers, body = swift.get_object("e2e", name)
    assert body == b"unicode" and headers["x-object-meta-note"] == "café"
    assert name in [o["name"] for o in swift.get_container("e2e", prefix="ü")[1]]
    swift.post_object("e2e", "dir/data.bin", headers={"X-Object-Meta-Color": "blue"})
    assert swift.head_object("e2e", "dir/data.bin")["x-object-meta-color"] == "blue"
    swift.delete_object("e2e", "dir/data.bin")
    from swiftclient.exceptions import ClientException

    with pytest.raises(ClientException) as err:
        swift.get_object("e2e", "dir/data.bin")
    assert err.value.http_status == 404
    account = swift.head_account()
    assert int(account["x-account-object-count"]) == 26


def test_swiftclient_keystone_v3_auth(node):
    from swiftclient.client import Connection

    conn = Connection(
        authurl=f"{node.url}/astakos/identity/v3",
        user=node.credentials["email"],
        key=node.credentials["password"],
        auth_version="3",
        os_options={"project_name": node.credentials["email"], "user_domain_name": "Default", "project_domain_name": "Default"},
    )
    conn.put_container("v3c")
    conn.put_object("v3c", "o", b"via keystone")
    assert conn.get_object("v3c", "o")[1] == b"via keystone"
    assert conn.url.endswith(f"/pithos/object-store/v1/{node.credentials['uuid']}")


def _swift_cli(node, *args, cwd):
    exe = shutil.which("swift") or str(Path(sys.executable).with_name("swift"))
    env = dict(os.environ, ST_AUTH=f"{node.url}/auth/v1.0", ST_USER=node.credentials["email"], ST_KEY=node.credentials["password"])
    result = subprocess.run([exe, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.mark.parametrize("large_object", ["slo", "dlo"])
def test_swift_cli_segmented_upload_and_checked_download(node, tmp_path, large_object):
    data = os.urandom(3 * 1024 * 1024 + 12345)
    (tmp_path / "big.bin").write_bytes(data)
    extra = ["--use-dlo"] if large_object == "dlo" else []
    _swift_cli(node, "upload", f"seg-{large_object}", "big.bin", "--segment-size", "1048576", *extra, cwd=tmp_path)
    _swift_cli(node, "download", f"seg-{large_object}", "big.bin", "-o", "out.bin", cwd=tmp_path)  # checks the MD5
    assert (tmp_path / "out.bin").read_bytes() == data
    stat = _swift_cli(node, "stat", f"seg-{large_object}", "big.bin", cwd=tmp_path)
    assert "Manifest" in stat or "Static Large" in stat or str(len(data)) in stat


def test_openstacksdk_object_store(node):
    import openstack

    conn = openstack.connect(
        auth_url=f"{node.url}/astakos/identity/v3", username=node.credentials["email"], password=node.credentials["password"],
        project_name=node.credentials["email"], user_domain_name="Default", project_domain_name="Default",
        load_yaml_config=False, load_envvars=False,
    )
    conn.object_store.create_container("sdk")
    conn.object_store.upload_object(container="sdk", name="hello.txt", data=b"hello sdk")
    assert conn.object_store.download_object("hello.txt", container="sdk") == b"hello sdk"
    assert [o.name for o in conn.object_store.objects("sdk")] == ["hello.txt"]
    assert "sdk" in [c.name for c in conn.object_store.containers()]


class HashmapClient:
    """The calls kamaki 0.16 makes to upload and download a file with the hashmap protocol."""

    def __init__(self, node):
        self.base = f"{node.url}/pithos/object-store/v1/{node.credentials['uuid']}"
        self.session = requests.Session()
        self.session.headers["X-Auth-Token"] = node.credentials["token"]

    def upload(self, container, name, data):
        head = self.session.head(f"{self.base}/{container}")
        assert head.status_code == 204
        block_size = int(head.headers["X-Container-Block-Size"])
        assert head.headers["X-Container-Block-Hash"] == "sha256"
        blocks = [data[i : i + block_size] for i in range(0, len(data), block_size)]
        hashes = [hashlib.sha256(b.rstrip(b"\0")).hexdigest() for b in blocks]
        body = json.dumps({"hashes": hashes, "bytes": len(data)})
        url = f"{self.base}/{container}/{name}?hashmap=True&format=json"
        r = self.session.put(url, data=body, headers={"Content-Type": "application/octet-stream"})
        uploaded = 0
        if r.status_code == 409:
            for missing in r.json():
                block = blocks[hashes.index(missing)]
                post = self.session.post(f"{self.base}/{container}?update&format=json", data=block, headers={"Content-Type": "application/octet-stream"})
                assert post.status_code == 202 and post.json()[0] == missing
                uploaded += 1
            r = self.session.put(url, data=body, headers={"Content-Type": "application/octet-stream"})
        assert r.status_code == 201, r.text
        return uploaded

    def download(self, container, name):
        assert self.session.head(f"{self.base}/{container}/{name}").status_code == 200
        hashmap = self.session.get(f"{self.base}/{container}/{name}?hashmap=True&format=json").json()
        size, block_size = hashmap["bytes"], hashmap["block_size"]
        out = bytearray(size)
        fetched = {}
        for index, digest in enumerate(hashmap["hashes"]):
            start = index * block_size
            end = min(start + block_size, size) - 1
            if digest not in fetched:
                r = self.session.get(f"{self.base}/{container}/{name}?format=json", headers={"Range": f"bytes={start}-{end}"})
                assert r.status_code == 206
                fetched[digest] = r.content
            out[start : end + 1] = fetched[digest][: end - start + 1]
        return bytes(out)


def test_kamaki_style_hashmap_upload_download_and_dedup(node):
    client = HashmapClient(node)
    assert client.session.put(f"{client.base}/kamaki", headers={"Content-Length": "0"}).status_code == 201
    block = os.urandom(4 * 1024 * 1024)
    data = block + os.urandom(4 * 1024 * 1024) + block + b"end of file"  # 4 blocks, 3 unique
    assert client.upload("kamaki", "big.bin", data) == 3
    assert client.upload("kamaki", "big2.bin", data) == 0  # every block already on the server
    assert client.download("kamaki", "big2.bin") == data
    listing = client.session.get(f"{client.base}/kamaki?format=json").json()
    assert {o["name"]: o["hash"] for o in listing}["big.bin"] == hashlib.md5(data).hexdigest()
    empty = client.session.get(f"{client.base}/kamaki?format=json&prefix=none")
    assert empty.status_code == 200 and empty.json() == []


def test_rclone_copy_and_check(node, tmp_path):
    rclone = shutil.which("rclone")
    if rclone is None and os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "-qq", "rclone"], capture_output=True, timeout=600)
        rclone = shutil.which("rclone")
    require(rclone is not None, "rclone (Debian package) not installed and cannot be installed")
    source = tmp_path / "src"
    (source / "sub").mkdir(parents=True)
    for name, size in [("a.txt", 10), ("sub/b.bin", 300_000), ("empty", 0)]:
        (source / name).write_bytes(os.urandom(size))
    env = dict(
        os.environ,
        RCLONE_CONFIG=str(tmp_path / "none.conf"),
        RCLONE_CONFIG_SYN_TYPE="swift",
        RCLONE_CONFIG_SYN_AUTH=f"{node.url}/auth/v1.0",
        RCLONE_CONFIG_SYN_USER=node.credentials["email"],
        RCLONE_CONFIG_SYN_KEY=node.credentials["password"],
    )
    for command in (["copy", str(source), "syn:rc"], ["check", str(source), "syn:rc"]):
        result = subprocess.run([rclone, *command], env=env, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr


def test_client_disconnect_mid_upload_leaves_nothing(node, swift):
    import socket

    swift.put_container("cut")
    path = f"/v1/{node.credentials['uuid']}/cut/partial"
    token = swift.get_auth()[1]
    with socket.create_connection(("127.0.0.1", node.port)) as sock:
        sock.sendall(
            f"PUT {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Auth-Token: {token}\r\n"
            "Content-Length: 10000000\r\nContent-Type: application/octet-stream\r\n\r\n".encode()
            + os.urandom(5 * 1024 * 1024)
        )
    from swiftclient.exceptions import ClientException

    for _ in range(50):  # the server notices the disconnect asynchronously
        try:
            swift.head_object("cut", "partial")
            raise AssertionError("a partial upload became visible")
        except ClientException as exc:
            assert exc.http_status == 404
        if int(swift.head_container("cut")["x-container-bytes-used"]) == 0:
            break
    assert int(swift.head_container("cut")["x-container-object-count"]) == 0


def test_statistics_stay_exact_under_concurrent_writers(node, swift):
    """Eight writers at once, new objects and overwrites of the same ones: the container's
    count and bytes equal what its listing holds."""
    from concurrent.futures import ThreadPoolExecutor

    from swiftclient.client import Connection

    swift.put_container("busy")

    def writer(number):
        conn = Connection(preauthurl=swift.url, preauthtoken=swift.get_auth()[1])
        for i in range(12):
            conn.put_object("busy", f"shared-{i % 3}", os.urandom(100 + number))
            conn.put_object("busy", f"own-{number}-{i}", b"x" * i)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(writer, range(8)))
    headers, listing = swift.get_container("busy", full_listing=True)
    assert int(headers["x-container-object-count"]) == len(listing) == 3 + 8 * 12
    assert int(headers["x-container-bytes-used"]) == sum(o["bytes"] for o in listing)


def test_large_puts_on_one_keepalive_connection_and_pipelined(node, swift):
    """Multi-block bodies are read straight from gunicorn's socket: the connection must stay
    usable afterwards, also with the next request already sent behind the body."""
    import http.client
    import socket

    swift.put_container("direct")
    token = swift.get_auth()[1]
    base = f"/v1/{node.credentials['uuid']}/direct"
    bodies = [os.urandom(9 * 1024 * 1024 + 123), os.urandom(4 * 1024 * 1024), b"\0" * (5 * 1024 * 1024)]
    conn = http.client.HTTPConnection("127.0.0.1", node.port, timeout=120)
    for i, body in enumerate(bodies):
        conn.request("PUT", f"{base}/o{i}", body=body, headers={"X-Auth-Token": token})
        response = conn.getresponse()
        response.read()
        assert response.status == 201 and response.getheader("ETag") == hashlib.md5(body).hexdigest()
    conn.close()
    # Two PUTs sent at once on one socket, then read both answers.
    first, second = os.urandom(6 * 1024 * 1024), b"after"
    request = "PUT {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Auth-Token: {token}\r\nContent-Length: {n}\r\n\r\n"
    with socket.create_connection(("127.0.0.1", node.port), timeout=120) as sock:
        sock.sendall(
            request.format(path=f"{base}/p1", token=token, n=len(first)).encode() + first
            + request.format(path=f"{base}/p2", token=token, n=len(second)).encode() + second
        )
        answers = b""
        while answers.count(b"HTTP/1.1 201") < 2:
            chunk = sock.recv(65536)
            assert chunk, answers
            answers += chunk
    for name, body in [("o0", bodies[0]), ("o1", bodies[1]), ("o2", bodies[2]), ("p1", first), ("p2", second)]:
        headers, content = swift.get_object("direct", name)
        assert content == body and headers["etag"] == hashlib.md5(body).hexdigest()


def test_html_form_upload(node):
    """A browser-style form upload (multipart/form-data from requests) with the token as a
    form field, then as a query parameter; a form without the file is refused."""
    auth = requests.get(f"{node.url}/auth/v1.0", headers={"X-Auth-User": node.credentials["email"],
                                                          "X-Auth-Key": node.credentials["password"]})
    token, storage = auth.headers["X-Auth-Token"], auth.headers["X-Storage-Url"]
    pithos = storage.replace("/v1/", "/pithos/object-store/v1/")
    assert requests.put(f"{pithos}/forms", headers={"X-Auth-Token": token}).status_code == 201
    data = os.urandom(5 * 1024 * 1024)
    r = requests.post(f"{pithos}/forms/photo.jpg", files={"X-Object-Data": ("photo.jpg", data, "image/jpeg")},
                      data={"X-Auth-Token": token})
    assert r.status_code == 201, r.text
    assert r.headers["ETag"] == hashlib.md5(data).hexdigest()
    r = requests.post(f"{pithos}/forms/note.txt", params={"X-Auth-Token": token},
                      files={"X-Object-Data": ("note.txt", b"hello form")})
    assert r.status_code == 201, r.text
    assert requests.post(f"{pithos}/forms/bad", files={"other": ("a", b"x")}, data={"X-Auth-Token": token}).status_code == 400
    got = requests.get(f"{pithos}/forms/photo.jpg", headers={"X-Auth-Token": token})
    assert got.content == data and got.headers["Content-Type"] == "image/jpeg"
    listing = requests.get(f"{pithos}/forms?format=json", headers={"X-Auth-Token": token}).json()
    assert [entry["name"] for entry in listing] == ["note.txt", "photo.jpg"]
