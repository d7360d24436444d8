"""The kamaki CLI against a live all-in-one node: the seed's command sequence (config set,
store, glance) and kamaki 0.16's (CLIENTS-KAMAKI.md), with the hashmap protocol checked in the
node's access log: each distinct block goes up once, an unchanged file sends none."""

import os
import re
import subprocess
import sys
import time

import pytest
import requests

from tests.kamaki_helpers import SRC, Kamaki


MiB = 1024 * 1024




@pytest.fixture(scope="module")
def other(node):
    """A second user: (uuid, token)."""
    out = subprocess.run([sys.executable, "-m", "synnefo.manage", "user-add", "bob@example.org", "Bob", "B"],
                         env=node.env, capture_output=True, text=True, timeout=60, check=True).stdout
    return re.search(r"uuid (\S+)", out).group(1), re.search(r"token: (\S+)", out).group(1)


@pytest.fixture
def kamaki(node, tmp_path):
    """The CLI with kamaki 0.16's configuration: one cloud, its URL and token."""
    k = Kamaki(tmp_path / "kamakirc", tmp_path)
    k("config", "set", "cloud.default.url", f"{node.url}/astakos/identity/v2.0")
    k("config", "set", "cloud.default.token", node.credentials["token"])
    return k


def access_lines(node, start: int, pattern: str, until: str, timeout: float = 30) -> list[str]:
    """Access-log lines matching ``pattern`` logged after line ``start``, once a line matching
    ``until`` (the request that ends the command) is there."""
    deadline = time.monotonic() + timeout
    while True:
        lines = [line for line in node.output[start:] if "synnefo.access" in line]
        if any(re.search(until, line) for line in lines) or time.monotonic() > deadline:
            return [line for line in lines if re.search(pattern, line)]
        time.sleep(0.05)


def blocks(*parts: bytes) -> bytes:
    return b"".join(parts)


def test_the_seeds_command_sequence(node, tmp_path):
    """admin-guide.rst, "The kamaki API client": config set, store create/upload, glance
    register --public, glance list -l (a non-public image is not listed)."""
    uuid, token = node.credentials["uuid"], node.credentials["token"]
    kamaki = Kamaki(tmp_path / "seedrc", tmp_path)
    kamaki("config", "set", "image_url", f"{node.url}/cyclades/image/v1.0")
    kamaki("config", "set", "storage_url", f"{node.url}/pithos/object-store/v1")
    kamaki("config", "set", "token", token)
    listed = kamaki("config", "list").out
    assert f"image_url = {node.url}/cyclades/image/v1.0" in listed and f"token = {token}" in listed
    kamaki("config", "set", "storage_account", uuid)
    kamaki("config", "set", "storage_container", "images")
    kamaki("store", "create", "images")
    iso = tmp_path / "ubuntu.iso"
    iso.write_bytes(os.urandom(5 * MiB) + b"\0" * 1000)
    kamaki("store", "upload", "ubuntu.iso")
    r = requests.get(f"{node.url}/pithos/object-store/v1/{uuid}/images/ubuntu.iso", headers={"X-Auth-Token": token})
    assert r.status_code == 200 and r.content == iso.read_bytes()

    kamaki("glance", "register", "Ubuntu", f"pithos://{uuid}/images/ubuntu.iso", "--public",
           "--disk-format", "diskdump", "--property", "kernel=3.1.2")
    kamaki("store", "upload", "ubuntu.iso", "private.iso")
    kamaki("glance", "register", "Hidden", f"pithos://{uuid}/images/private.iso")
    out = kamaki("glance", "list", "-l").out
    assert "Ubuntu" in out and "kernel: 3.1.2" in out and "diskdump" in out
    assert "Hidden" not in out  # as the seed warns: without --public, glance list does not show it
    names = {i["name"]: i for i in kamaki.json("glance", "list", "-l")}
    assert set(names) == {"Ubuntu"} and names["Ubuntu"]["size"] == iso.stat().st_size
    assert {i["name"] for i in kamaki.json("image", "list")} >= {"Ubuntu", "Hidden"}

    # The seed's registration with a user name as the account, once names can be looked up.
    kamaki("config", "set", "cloud.default.url", f"{node.url}/astakos/identity/v2.0")
    kamaki("config", "set", "storage_account", node.credentials["email"])
    image = kamaki.json("glance", "register", "ByName", f"pithos://{node.credentials['email']}/images/ubuntu.iso", "--public")
    assert image["location"] == f"pithos://{uuid}/images/ubuntu.iso"
    assert kamaki("store", "list").out.count(".iso") == 2


def test_kamaki_016_sequence_with_the_hashmap_protocol(node, kamaki, tmp_path):
    user = kamaki.json("user", "authenticate")["user"]
    assert user["id"] == node.credentials["uuid"]
    assert kamaki.json("user", "info")["id"] == user["id"]
    quotas = kamaki.json("quota", "list")
    assert "pithos.diskspace" in quotas[user["id"]]
    assert "pithos.diskspace" in kamaki("quota", "list").out

    kamaki("container", "create", "testc")
    assert "testc" in [c["name"] for c in kamaki.json("container", "list")]
    assert kamaki.json("container", "info", "testc")["x-container-block-size"] == str(4 * MiB)
    kamaki("file", "create", "/testc/empty.txt")
    kamaki("file", "mkdir", "/testc/dir1")

    small = tmp_path / "small.txt"
    small.write_bytes(b"hello pithos\n")
    kamaki("file", "upload", str(small), "/testc/small.txt")

    # 14 MiB + 123 bytes: blocks A B A C, three distinct; each goes up exactly once.
    a, b, c = os.urandom(4 * MiB), os.urandom(4 * MiB), os.urandom(2 * MiB + 123)
    big = tmp_path / "big.bin"
    big.write_bytes(blocks(a, b, a, c))
    start = len(node.output)
    sent = kamaki.json("file", "upload", "--blocks-per-request", "1", str(big), "/testc/big.bin")  # as kamaki 0.16
    assert (sent["blocks"], sent["unique_blocks"], sent["blocks_uploaded"]) == (4, 3, 3)
    assert sent["bytes_uploaded"] == len(a) + len(b) + len(c)
    posts = access_lines(node, start, r"POST /pithos/object-store/v1/\S+/testc\?update&format=json 202",
                         until=r"PUT \S+/testc/big\.bin\?hashmap=True&format=json 201")
    assert len(posts) == 3
    # The same file again, under another name: the server has every block, none is sent.
    start = len(node.output)
    again = kamaki.json("file", "upload", str(big), "/testc/big2.bin")
    assert again["blocks_uploaded"] == 0 and again["bytes_uploaded"] == 0
    assert access_lines(node, start, r"POST \S+/testc\?update", until=r"PUT \S+/testc/big2\.bin\?hashmap\S* 201") == []
    kamaki("file", "upload", "--unchunked", str(small), "/testc/small-unchunked.txt")

    names = [o["name"] for o in kamaki.json("file", "list", "/testc")]
    assert names == ["big.bin", "big2.bin", "dir1", "empty.txt", "small-unchunked.txt", "small.txt"]
    assert "big.bin  14.0MiB" in kamaki("file", "list", "/testc", "-l").out
    assert kamaki.json("file", "info", "/testc/small.txt")["content-length"] == "13"
    hashmap = kamaki.json("file", "info", "/testc/big.bin", "--hashmap")
    assert hashmap["bytes"] == big.stat().st_size and len(hashmap["hashes"]) == 4
    assert hashmap["hashes"][0] == hashmap["hashes"][2]

    # Downloads compare equal; a repeated block is fetched once and written twice.
    out = tmp_path / "big.out"
    got = kamaki.json("file", "download", "/testc/big.bin", str(out))
    assert out.read_bytes() == big.read_bytes() and got["blocks_fetched"] == 3
    kamaki("file", "download", "/testc/small.txt", str(tmp_path / "small.out"))
    assert (tmp_path / "small.out").read_bytes() == b"hello pithos\n"
    assert kamaki("file", "cat", "/testc/small.txt").out == "hello pithos\n"

    # Publish: the URL serves the file without a token; unpublish takes it away.
    url = kamaki("file", "publish", "/testc/small.txt").out.strip()
    assert requests.get(url).content == b"hello pithos\n"
    kamaki("file", "unpublish", "/testc/small.txt")
    assert requests.get(url).status_code == 404

    kamaki("file", "copy", "/testc/small.txt", "/testc/copy.txt")
    kamaki("file", "move", "/testc/copy.txt", "/testc/moved.txt")
    names = {o["name"] for o in kamaki.json("file", "list", "/testc")}
    assert "moved.txt" in names and "copy.txt" not in names
    kamaki("file", "delete", "/testc/moved.txt", "--yes")
    assert kamaki("file", "info", "/testc/moved.txt", expect=1).err.startswith("kamaki: (404)")

    # Images: register an uploaded file by /container/path, list, info, unregister.
    kamaki("container", "create", "images")
    kamaki("file", "upload", str(big), "/images/test.diskdump")
    image = kamaki.json("image", "register", "--name", "test-img", "--location", "/images/test.diskdump",
                        "--property", "OSFAMILY=linux", "--property", "ROOT_PARTITION=1")
    assert image["location"] == f"pithos://{user['id']}/images/test.diskdump"
    assert image["properties"]["osfamily"] == "linux"
    assert "test-img" in kamaki("image", "list").out
    detailed = {i["id"]: i for i in kamaki.json("image", "list", "-l")}
    assert detailed[image["id"]]["owner_name"] == node.credentials["email"]
    info = kamaki.json("image", "info", image["id"])
    assert info["name"] == "test-img" and int(info["size"]) == big.stat().st_size
    kamaki("image", "unregister", image["id"], "--yes")
    assert image["id"] not in {i["id"] for i in kamaki.json("image", "list")}
    kamaki("flavor", "list", "-l")

    kamaki("container", "delete", "testc", expect=2)  # not empty, no -r: refused before anything
    assert kamaki.json("file", "list", "/testc")
    kamaki("container", "delete", "-r", "testc", "--yes")
    assert "testc" not in [c["name"] for c in kamaki.json("container", "list")]


def test_resumed_and_ranged_download(node, kamaki, tmp_path):
    kamaki("container", "create", "resume")
    data = os.urandom(13 * MiB + 5)  # 4 blocks
    src = tmp_path / "src.bin"
    src.write_bytes(data)
    start = len(node.output)
    sent = kamaki.json("file", "upload", str(src), "/resume/f.bin")
    # By default up to 4 missing blocks go in one POST: the server splits the body.
    assert (sent["blocks_uploaded"], sent["block_requests"], sent["bytes_uploaded"]) == (4, 1, len(data))
    assert len(access_lines(node, start, r"POST \S+/resume\?update&format=json 202",
                            until=r"PUT \S+/resume/f\.bin\?hashmap\S* 201")) == 1
    local = tmp_path / "f.bin"
    # A partial download: the first block right, the second damaged, the rest missing.
    damaged = bytearray(data[: 6 * MiB])
    damaged[4 * MiB + 10] ^= 0xFF
    local.write_bytes(bytes(damaged))
    got = kamaki.json("file", "download", "/resume/f.bin", str(local))
    assert (got["blocks_reused"], got["blocks_fetched"]) == (1, 3)
    assert local.read_bytes() == data
    # Complete and right already: nothing fetched. Longer than the object: cut to size.
    assert kamaki.json("file", "download", "/resume/f.bin", str(local))["blocks_fetched"] == 0
    local.write_bytes(data + b"trailing junk")
    kamaki("file", "download", "/resume/f.bin", str(local))
    assert local.read_bytes() == data
    assert kamaki.json("file", "download", "--no-resume", "/resume/f.bin", str(local))["blocks_fetched"] == 4
    assert local.read_bytes() == data
    # kamaki 0.16's wire behaviour: one ranged GET per block.
    got = kamaki.json("file", "download", "--no-resume", "--blocks-per-request", "1", "/resume/f.bin", str(local))
    assert got["requests"] == 4 and local.read_bytes() == data
    # An empty file: no blocks, a plain empty PUT; downloading it gives an empty file.
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    assert kamaki.json("file", "upload", str(empty), "/resume/empty")["bytes"] == 0
    local.write_bytes(b"old content")
    kamaki("file", "download", "/resume/empty", str(local))
    assert local.read_bytes() == b""


def test_sharing_and_metadata(node, kamaki, other, tmp_path):
    other_uuid, other_token = other
    kamaki("container", "create", "shared")
    f = tmp_path / "doc.txt"
    f.write_text("for bob\n")
    kamaki("file", "upload", str(f), "/shared/doc.txt")
    kamaki("file", "modify", "/shared/doc.txt", "--read-permission", other_uuid, "--write-permission", other_uuid)
    assert kamaki.json("file", "info", "/shared/doc.txt", "--sharing") == {"read": [other_uuid], "write": [other_uuid]}
    # Bob reads it through pithos://<owner>/... with his own configuration.
    bob = Kamaki(tmp_path / "bobrc", tmp_path)
    bob("config", "set", "cloud.default.url", f"{node.url}/astakos/identity/v2.0")
    bob("config", "set", "cloud.default.token", other_token)
    assert bob("file", "cat", f"pithos://{node.credentials['uuid']}/shared/doc.txt").out == "for bob\n"
    assert bob("file", "cat", f"pithos://{node.credentials['email']}/shared/doc.txt").out == "for bob\n"
    kamaki("file", "modify", "/shared/doc.txt", "--no-permissions")
    assert kamaki.json("file", "info", "/shared/doc.txt", "--sharing") == {}
    assert bob("file", "cat", f"pithos://{node.credentials['uuid']}/shared/doc.txt", expect=1).err.startswith("kamaki: (40")
    kamaki("file", "modify", "/shared/doc.txt", "--metadata-add", "color=blue")
    assert kamaki.json("file", "info", "/shared/doc.txt")["x-object-meta-color"] == "blue"
    kamaki("file", "modify", "/shared/doc.txt", "--metadata-del", "color")
    assert "x-object-meta-color" not in kamaki.json("file", "info", "/shared/doc.txt")


def test_bad_input_is_a_clear_error_and_changes_nothing(node, kamaki, tmp_path):
    f = tmp_path / "x.txt"
    f.write_text("x")
    r = kamaki("file", "upload", str(f), "/no-such-container/x.txt", expect=1)
    assert r.err.startswith("kamaki: (404)") and len(r.err.strip().splitlines()) == 1
    assert "no-such-container" not in [c["name"] for c in kamaki.json("container", "list")]
    r = kamaki("file", "download", "/no-such-container/x.txt", str(tmp_path / "out"), expect=1)
    assert "(404)" in r.err and not (tmp_path / "out").exists()
    kamaki("container", "create", "bad")
    assert "(404)" in kamaki("file", "info", "/bad/missing", expect=1).err
    assert "(404)" in kamaki("file", "cat", "/bad/missing", expect=1).err
    assert "(404)" in kamaki("image", "info", "no-such-image", expect=1).err
    assert "(404)" in kamaki("image", "register", "--name", "x", "--location", "/bad/missing", expect=1).err
    kamaki("file", "upload", str(tmp_path / "missing.txt"), "/bad/x", expect=2)
    kamaki("file", "list", "/bad", "--bogus-option", expect=2)
    kamaki("file", "info", "no-slash-container-only", expect=2)
    # A deletion that is not confirmed (no terminal, no --yes) is refused; the file stays.
    kamaki("file", "upload", str(f), "/bad/keep.txt")
    assert "--yes" in kamaki("file", "delete", "/bad/keep.txt", expect=2).err
    assert kamaki("file", "cat", "/bad/keep.txt").out == "x"
    # A wrong token: 401 with the server's message.
    kamaki("config", "set", "cloud.default.token", "not-a-token")
    r = kamaki("container", "list", expect=1)
    assert r.err.startswith("kamaki: (401)")


def test_image_members(node, kamaki, other, tmp_path):
    other_uuid, other_token = other
    kamaki("container", "create", "imgs")
    disk = tmp_path / "disk.img"
    disk.write_bytes(os.urandom(MiB))
    kamaki("file", "upload", str(disk), "/imgs/disk.img")
    image = kamaki.json("image", "register", "--name", "shared-img", "--location", "/imgs/disk.img")
    bob = Kamaki(tmp_path / "bobrc", tmp_path)
    bob("config", "set", "cloud.default.url", f"{node.url}/astakos/identity/v2.0")
    bob("config", "set", "cloud.default.token", other_token)
    assert image["id"] not in {i["id"] for i in bob.json("image", "list")}
    kamaki("image", "members", "add", image["id"], other_uuid)
    assert kamaki.json("image", "members", "list", image["id"]) == [other_uuid]
    assert image["id"] in {i["id"] for i in bob.json("image", "list")}
    kamaki("image", "members", "remove", image["id"], other_uuid)
    assert kamaki.json("image", "members", "list", image["id"]) == []
    assert image["id"] not in {i["id"] for i in bob.json("image", "list")}
    kamaki("glance", "members", "set", image["id"], other_uuid)
    assert kamaki("glance", "members", "list", image["id"]).out.strip() == other_uuid
    # Only the owner changes members: Bob is refused with the server's status.
    assert bob("image", "members", "set", image["id"], expect=1).err.startswith("kamaki: (40")


def test_progress_bars_on_a_terminal(node, kamaki, tmp_path):
    """On a terminal, uploads and downloads draw tqdm bars on stderr; JSON output has none."""
    import pty

    kamaki("container", "create", "bars")
    f = tmp_path / "bar.bin"
    f.write_bytes(os.urandom(5 * MiB))

    def on_terminal(*args):
        master, slave = pty.openpty()
        env = dict(os.environ, KAMAKI_CONFIG=str(kamaki.config), PYTHONPATH=str(SRC), COLUMNS="100")
        proc = subprocess.run([sys.executable, "-m", "synnefo.client.cli", *args], env=env, cwd=tmp_path,
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave, timeout=120)
        os.close(slave)
        seen = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
        os.close(master)
        assert proc.returncode == 0, seen
        return seen.decode(errors="replace")

    drawn = on_terminal("file", "upload", str(f), "/bars/bar.bin")
    assert "hash" in drawn and "upload" in drawn and "5.00M" in drawn
    assert "download" in on_terminal("file", "download", "/bars/bar.bin", str(tmp_path / "out.bin"))
    assert "upload" not in on_terminal("-o", "json", "file", "upload", str(f), "/bars/again.bin")


def test_an_interrupted_upload_resumes_with_the_blocks_not_yet_sent(node, kamaki, tmp_path):
    """Blocks that reached the server before an upload broke off are not sent again."""
    from synnefo.client import Cloud

    kamaki("container", "create", "partial")
    data = os.urandom(16 * MiB)  # 4 blocks
    src = tmp_path / "p.bin"
    src.write_bytes(data)
    pithos = Cloud(f"{node.url}/astakos/identity/v2.0", node.credentials["token"]).pithos
    pithos.post_block("partial", data[: 8 * MiB])  # the first two blocks went up, then it broke
    sent = kamaki.json("file", "upload", str(src), "/partial/p.bin")
    assert (sent["blocks_uploaded"], sent["bytes_uploaded"]) == (2, 8 * MiB)
    out = tmp_path / "back.bin"
    kamaki("file", "download", "/partial/p.bin", str(out))
    assert out.read_bytes() == data


def test_confirmation_on_a_terminal(node, kamaki, tmp_path):
    """Without --yes a deletion asks on the terminal: anything but y keeps the file (exit 2)."""
    import pty

    kamaki("container", "create", "ask")
    f = tmp_path / "keep.txt"
    f.write_text("keep me")
    kamaki("file", "upload", str(f), "/ask/keep.txt")

    def answer(reply: str) -> tuple[int, str]:
        master, slave = pty.openpty()
        env = dict(os.environ, KAMAKI_CONFIG=str(kamaki.config), PYTHONPATH=str(SRC))
        proc = subprocess.Popen([sys.executable, "-m", "synnefo.client.cli", "file", "delete", "/ask/keep.txt"],
                                env=env, cwd=tmp_path, stdin=slave, stdout=slave, stderr=slave)
        os.close(slave)
        os.write(master, reply.encode() + b"\n")
        seen = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
        os.close(master)
        return proc.wait(timeout=60), seen.decode(errors="replace")

    code, seen = answer("n")
    assert code == 2 and "delete /ask/keep.txt [y/N]" in seen and "aborted" in seen
    assert kamaki("file", "cat", "/ask/keep.txt").out == "keep me"
    code, seen = answer("y")
    assert code == 0
    assert "(404)" in kamaki("file", "info", "/ask/keep.txt", expect=1).err


def test_servers_with_kamaki_against_the_node(node, kamaki, tmp_path):
    """kamaki 0.16's server calls (CLIENTS-KAMAKI.md) on our compute API and the node's
    simulated Ganeti: image register, server create --wait, list, info, shutdown, start, reboot,
    delete."""
    env = node.env
    manage = [sys.executable, "-m", "synnefo.manage"]
    subprocess.run(manage + ["volume-type-create", "--name", "Kamaki", "--disk-template", "file"], env=env, check=True,
                   capture_output=True, timeout=60)
    flavors = subprocess.run(manage + ["flavor-create", "1", "512", "5", "1"], env=env, capture_output=True, text=True, timeout=60)
    flavor_id = re.search(r"flavor (\d+)", flavors.stdout).group(1)
    disk = tmp_path / "debian.diskdump"
    disk.write_bytes(os.urandom(MiB))
    kamaki("container", "create", "images", expect=None)
    kamaki("file", "upload", str(disk), "/images/debian.diskdump")
    image = kamaki.json("image", "register", "--name", "Debian", "--location", "/images/debian.diskdump",
                        "--property", "OSFAMILY=linux", "--property", "USERS=root")
    created = kamaki.json("server", "create", "--name", "k1", "--flavor-id", flavor_id, "--image-id", image["id"], "--wait")
    sid = str(created["id"])
    assert created["status"] == "ACTIVE" and created["adminPass"]
    assert kamaki("server", "list").out.split() == [sid, "k1"]
    info = kamaki.json("server", "info", sid)
    assert info["flavor"]["id"] == int(flavor_id) and info["image"]["id"] == image["id"] and info["metadata"]["users"] == "root"
    assert kamaki.json("server", "shutdown", sid, "--wait")["status"] == "STOPPED"
    assert kamaki.json("server", "start", sid, "--wait")["status"] == "ACTIVE"
    kamaki("server", "reboot", sid, "--hard")
    deadline = time.monotonic() + 60
    while kamaki.json("server", "info", sid)["status"] != "ACTIVE" or kamaki.json("server", "info", sid)["SNF:task_state"]:
        assert time.monotonic() < deadline, "reboot did not finish"
        time.sleep(0.5)
    assert kamaki.json("server", "delete", sid, "--yes", "--wait")["status"] == "DELETED"
    assert kamaki("server", "list").out.strip() == ""
    r = kamaki("server", "create", "--name", "k2", "--flavor-id", "999", "--image-id", image["id"], expect=1)
    assert "(400)" in r.err


def test_volumes_and_snapshots_with_kamaki_against_the_node(node, kamaki):
    """kamaki's volume and snapshot commands on Synnefo's v2.0 volume API (the v2.0 catalog's
    ``volume`` endpoint): an empty ext_archipelago volume, a snapshot that is a Pithos file."""
    manage = [sys.executable, "-m", "synnefo.manage"]
    out = subprocess.run(manage + ["volume-type-create", "--name", "KamakiArchip", "--disk-template", "ext_archipelago"],
                         env=node.env, check=True, capture_output=True, text=True, timeout=60).stdout
    type_id = re.search(r"(\d+)", out).group(1)
    volume = kamaki.json("volume", "create", "--size", "2", "--name", "kdata", "--volume-type", type_id)
    assert volume["status"] == "available" and volume["volume_type"] == type_id and volume["size"] == 2
    assert kamaki.json("volume", "info", volume["id"])["display_name"] == "kdata"
    snap = kamaki.json("snapshot", "create", "--volume-id", volume["id"], "--name", "ksnap")
    assert kamaki.json("snapshot", "info", snap["id"])["volume_id"] == volume["id"]
    assert f"{snap['id']} ksnap" in kamaki("snapshot", "list").out
    r = requests.head(f"{node.url}/pithos/object-store/v1/{node.credentials['uuid']}/snapshots/ksnap",
                      headers={"X-Auth-Token": node.credentials["token"]})
    assert r.status_code == 200 and r.headers["Content-Length"] == str(2 * 1024 ** 3)
    assert "(404) Volume nope not found" in kamaki("snapshot", "create", "--volume-id", "nope", "--name", "s", expect=1).err
    assert "(400) Invalid size" in kamaki("volume", "create", "--size", "0", "--name", "x", expect=1).err
    # reassign: to the project it is in (the user's base project) is a no-op; a project the user
    # is not a member of is refused.
    own = node.credentials["uuid"]
    assert kamaki.json("volume", "reassign", volume["id"], "--project-id", own) == {"id": volume["id"], "project": own}
    r = kamaki("volume", "reassign", volume["id"], "--project-id", "00000000-0000-4000-8000-000000000001", expect=1)
    assert "(403)" in r.err and "not a member" in r.err
    assert kamaki.json("volume", "info", volume["id"])["tenant_id"] == own
    kamaki("snapshot", "delete", snap["id"], "--yes")
    kamaki("volume", "delete", volume["id"], "--yes")
    assert [v["id"] for v in kamaki.json("volume", "list")] == []
