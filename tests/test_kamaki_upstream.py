"""The kamaki CLI against upstream-shaped replies (tests/upstream_cloud.py, a real HTTP server
on 127.0.0.1): servers, networks, volumes and snapshots, which our node does not serve yet,
the configuration file kamaki 0.16 writes, output formats and exit codes."""

import json

import pytest

from tests.kamaki_helpers import Kamaki
from tests.upstream_cloud import IMAGE, TOKEN, USER, UpstreamCloud


@pytest.fixture(scope="module")
def cloud():
    with UpstreamCloud() as cloud:
        yield cloud


@pytest.fixture
def kamaki(cloud, tmp_path):
    rc = tmp_path / "kamakirc"
    # As kamaki 0.16 writes it (`kamaki config set cloud.fake.url ...` etc.), with options we do not use.
    rc.write_text(f'[global]\ndefault_cloud = fake\ncolors = off\nlog_file = {tmp_path}/kamaki.log\n\n'
                  f'[cloud "fake"]\nurl = {cloud.url}/identity/v2.0\ntoken = {TOKEN}\n')
    return Kamaki(rc, tmp_path)


def test_server_lifecycle_in_upstream_shapes(cloud, kamaki):
    start = len(cloud.requests)
    created = kamaki.json("server", "create", "--name", "s1", "--flavor-id", "1", "--image-id", IMAGE,
                          "--network", "net-public-0001", "--wait")
    assert created["status"] == "ACTIVE" and created["adminPass"] == "Xy9-secret-pass"
    sid = created["id"]
    (post,) = [r for r in cloud.requests[start:] if r["method"] == "POST" and r["path"] == "/compute/v2.0/servers"]
    # kamaki's body: integer flavorRef, the image's os/users copied into the metadata.
    assert post["body"] == {"server": {"flavorRef": 1, "name": "s1", "imageRef": IMAGE,
                                       "metadata": {"os": "debian", "users": "root"},
                                       "networks": [{"uuid": "net-public-0001"}]}}
    assert [r["path"] for r in cloud.requests[start:] if r["method"] == "GET"][0] == f"/compute/v2.0/images/{IMAGE}"

    assert kamaki("server", "list").out.strip().splitlines() == [f"{sid} s1"]
    assert kamaki.json("server", "list", "-l")[0]["status"] == "ACTIVE"
    assert kamaki.json("server", "info", sid)["SNF:fqdn"] == f"snf-{sid}.vm.example.org"
    assert kamaki.json("server", "shutdown", sid, "--wait")["status"] == "STOPPED"
    assert "already STOPPED" in kamaki("server", "shutdown", sid).out
    assert "(409)" in kamaki("server", "console", sid, expect=1).err  # only a running server has one
    assert kamaki.json("server", "start", sid, "--wait")["status"] == "ACTIVE"
    kamaki("server", "reboot", sid, "--hard")
    console = kamaki("server", "console", sid).out
    assert "host: vnc.example.org" in console and "port: 25017" in console and "password: a1B2c3D4" in console
    assert kamaki.json("server", "console", sid)["port"] == 25017
    actions = [r["body"] for r in cloud.calls("POST", f"/compute/v2.0/servers/{sid}/action")]
    vnc = {"console": {"type": "vnc"}}
    assert actions == [{"shutdown": {}}, vnc, {"start": {}}, {"reboot": {"type": "HARD"}}, vnc, vnc]
    kamaki("server", "console", sid, "--type", "spice", expect=2)  # argparse refuses it
    kamaki("server", "delete", sid, expect=2)  # not confirmed: refused, still there
    assert kamaki.json("server", "info", sid)["id"] == sid
    assert kamaki.json("server", "delete", sid, "--yes", "--wait")["status"] == "DELETED"
    r = kamaki("server", "info", sid, expect=1)
    assert r.err.strip() == f"kamaki: (404) Server {sid} not found"


def test_server_bad_input(cloud, kamaki):
    assert "positive integer" in kamaki("server", "info", "abc", expect=2).err  # kamaki's int(id) check
    r = kamaki("server", "create", "--name", "x", "--flavor-id", "1", "--image-id", "no-such-image", expect=1)
    assert r.err.strip() == "kamaki: (404) Image not found"
    creations = [r for r in cloud.calls("POST") if r["path"] == "/compute/v2.0/servers"]
    assert all(r["body"]["server"]["name"] != "x" for r in creations)  # nothing sent
    kamaki("server", "create", "--name", "x", expect=2)  # argparse: missing options


def test_flavors(kamaki):
    assert "C1R1024D20drbd: 1 CPU, 1024 MiB RAM, 20 GiB drbd" in kamaki("flavor", "list", "-l").out


def test_networks_with_the_catalog_version_appended(cloud, kamaki):
    # The catalog lists network without a version: kamaki appends /v2.0, and so do we.
    assert [n["id"] for n in kamaki.json("network", "list")] [0] == "net-public-0001"
    created = kamaki.json("network", "create", "--name", "net1")
    (post,) = cloud.calls("POST", "/network/v2.0/networks")
    assert post["body"] == {"network": {"type": "MAC_FILTERED", "name": "net1", "admin_state_up": True}}
    assert kamaki.json("network", "info", created["id"])["name"] == "net1"
    assert "Invalid network type" in kamaki("network", "create", "--name", "n", "--type", "BOGUS", expect=1).err
    kamaki("network", "delete", created["id"], "--yes")
    assert "(404)" in kamaki("network", "info", created["id"], expect=1).err


def test_volumes_and_snapshots(cloud, kamaki):
    volume = kamaki.json("volume", "create", "--size", "10", "--name", "data", "--volume-type", "1")
    (post,) = cloud.calls("POST", "/volume/v2.0/volumes")
    assert post["body"] == {"volume": {"size": 10, "display_name": "data", "volume_type": "1"}}
    assert [v["id"] for v in kamaki.json("volume", "list")] == [volume["id"]]
    assert kamaki.json("volume", "info", volume["id"])["display_name"] == "data"
    snap = kamaki.json("snapshot", "create", "--volume-id", volume["id"], "--name", "snap1")
    assert kamaki("snapshot", "list").out.strip() == f"{snap['id']} snap1"
    assert kamaki.json("snapshot", "info", snap["id"])["volume_id"] == volume["id"]
    assert "(404) Volume nope not found" in kamaki("snapshot", "create", "--volume-id", "nope", "--name", "s", expect=1).err
    assert "(400) Invalid size" in kamaki("volume", "create", "--size", "0", "--name", "x", expect=1).err
    kamaki("snapshot", "delete", snap["id"], "--yes")
    kamaki("volume", "delete", volume["id"], "--yes")
    assert kamaki.json("volume", "list") == []
    kamaki("volume", "create", "--size", "ten", "--name", "x", expect=2)


def test_user_and_token_errors(cloud, kamaki, tmp_path):
    assert kamaki.json("user", "info")["id"] == USER
    out = kamaki("user", "authenticate").out
    assert "user@example.org" in out and f"{cloud.url}/compute/v2.0" in out
    kamaki("config", "set", "cloud.fake.token", "wrong")
    assert kamaki("server", "list", expect=1).err.strip() == "kamaki: (401) Invalid token"


def test_config_file_compatible_with_kamakis(cloud, kamaki, tmp_path):
    kamaki("config", "set", "cloud.other.url", "http://127.0.0.1:9/identity/v2.0")
    kamaki("config", "set", "cloud.other.token", "t2")
    text = kamaki.config.read_text()
    assert '[cloud "fake"]' in text and '[cloud "other"]' in text and "log_file" in text  # kept
    assert oct(kamaki.config.stat().st_mode & 0o777) == "0o600"  # it holds tokens
    assert kamaki("config", "get", "cloud.other.token").out.strip() == "t2"
    listed = kamaki.json("config", "list")
    assert listed["default_cloud"] == "fake" and listed["cloud.other.url"].startswith("http://127.0.0.1:9")
    # --cloud picks another cloud: that one is unreachable, a one-line error and exit 1.
    r = kamaki("--cloud", "other", "server", "list", expect=1)
    assert r.err.startswith("kamaki: cannot reach") and len(r.err.strip().splitlines()) == 1
    assert "no cloud called 'nope'" in kamaki("--cloud", "nope", "server", "list", expect=2).err
    kamaki("config", "delete", "cloud.other")
    assert "other" not in kamaki.config.read_text()
    kamaki("config", "get", "cloud.other.url", expect=2)
    kamaki("config", "set", "badkey.x", "1", expect=2)
    # Options go before or after the command.
    assert json.loads(kamaki("server", "list", "--output-format", "json").out) == json.loads(
        kamaki("-o", "json", "server", "list").out)


def test_home_kamakirc_is_the_default(cloud, tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    (home / ".kamakirc").write_text(f'[global]\ndefault_cloud = fake\n[cloud "fake"]\nurl = {cloud.url}/identity/v2.0\ntoken = {TOKEN}\n')
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("KAMAKI_CONFIG", raising=False)
    import subprocess
    import sys

    from tests.kamaki_helpers import SRC

    proc = subprocess.run([sys.executable, "-m", "synnefo.client.cli", "-o", "json", "user", "info"],
                          env={"HOME": str(home), "PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["id"] == USER


def test_no_configuration_is_a_usage_error(tmp_path):
    k = Kamaki(tmp_path / "none", tmp_path)
    r = k("server", "list", expect=2)
    assert "cloud.<name>.url" in r.err
    k("no-such-group", expect=2)


def test_a_broken_config_file_is_a_usage_error(tmp_path):
    rc = tmp_path / "broken"
    rc.write_text("this is not an ini file\n")
    r = Kamaki(rc, tmp_path)("config", "list", expect=2)
    assert r.err.startswith(f"kamaki: {rc}: not a kamaki config file")


def test_the_kamaki_entry_point():
    """pyproject's ``kamaki`` script is the CLI's main, which returns the exit status."""
    import tomllib
    from pathlib import Path

    from synnefo.client.cli import main

    pyproject = tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml").read_text())
    assert pyproject["project"]["scripts"]["kamaki"] == "synnefo.client.cli:main"
    assert "tqdm" in " ".join(pyproject["project"]["dependencies"])
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0


def test_config_values_may_start_with_a_dash(kamaki):
    """URL-safe base64 tokens start with "-" about once in 64: they are values, not options."""
    kamaki("config", "set", "cloud.default.token", "-abc-def")
    assert kamaki("config", "get", "cloud.default.token").out.strip() == "-abc-def"
    kamaki("config", "set", "cloud.default.token", "a", "b", expect=2)
