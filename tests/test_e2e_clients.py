"""End to end: `synnefo up` on a fresh data directory, driven by the real OpenStack clients
(keystoneauth1, openstacksdk, the openstack CLI) and by raw HTTP the way kamaki talks."""

import hashlib
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests






def os_env(node) -> dict:
    env = dict(os.environ)
    env.update(
        OS_AUTH_URL=f"{node.url}/astakos/identity/v3",
        OS_IDENTITY_API_VERSION="3",
        OS_USERNAME=node.credentials["email"],
        OS_PASSWORD=node.credentials["password"],
        OS_PROJECT_NAME=node.credentials["email"],
        OS_USER_DOMAIN_NAME="Default",
        OS_PROJECT_DOMAIN_NAME="Default",
        HOME=str(node.data_dir),  # no clouds.yaml of the machine's
    )
    return env


def test_first_start_bootstraps_an_admin_and_saves_the_credentials(node):
    assert set(node.credentials) == {"email", "password", "token", "uuid"}
    saved = node.data_dir / "admin-credentials.txt"
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert node.credentials["token"] in saved.read_text()


def password_auth(node) -> dict:
    return dict(
        auth_url=f"{node.url}/astakos/identity/v3",
        username=node.credentials["email"],
        password=node.credentials["password"],
        project_name=node.credentials["email"],
        user_domain_name="Default",
        project_domain_name="Default",
    )


def test_keystoneauth_session(node):
    from keystoneauth1 import session
    from keystoneauth1.identity import v3

    auth = v3.Password(**password_auth(node))
    sess = session.Session(auth=auth)
    assert sess.get_token()
    assert sess.get_user_id() == node.credentials["uuid"]
    assert sess.get_project_id() == node.credentials["uuid"]
    assert sess.get_endpoint(service_type="identity", interface="public") == f"{node.url}/astakos/identity/v3"
    assert sess.get_endpoint(service_type="account", interface="public") == f"{node.url}/astakos/account/v1.0"


def test_keystoneauth_token_method_with_the_bootstrap_token(node):
    from keystoneauth1 import session
    from keystoneauth1.identity import v3

    auth = v3.Token(auth_url=f"{node.url}/astakos/identity/v3", token=node.credentials["token"], project_id=node.credentials["uuid"])
    assert session.Session(auth=auth).get_user_id() == node.credentials["uuid"]


def test_openstacksdk(node):
    import openstack

    conn = openstack.connect(**password_auth(node), load_yaml_config=False, load_envvars=False)
    conn.authorize()
    assert conn.current_user_id == node.credentials["uuid"]
    user = conn.identity.get_user(node.credentials["uuid"])
    assert user.email == node.credentials["email"]


def openstack_cli(node, *args, output=True):
    """Run the openstack CLI against the node; its JSON output unless ``output`` is False."""
    exe = shutil.which("openstack") or str(Path(sys.executable).with_name("openstack"))
    command = [exe, *args, "-f", "json"] if output else [exe, *args]
    result = subprocess.run(command, env=os_env(node), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout) if output else None


def test_openstack_cli_token_issue_and_catalog_list(node):
    token = openstack_cli(node, "token", "issue")
    assert token["user_id"] == token["project_id"] == node.credentials["uuid"]
    catalog = {entry["Type"]: entry for entry in openstack_cli(node, "catalog", "list")}
    assert "identity" in catalog and "account" in catalog
    # The token the CLI got works on the v2.0 API the way kamaki uses it.
    r = requests.post(f"{node.url}/astakos/identity/v2.0/tokens", json={"auth": {"token": {"id": token["id"]}}}, headers={"X-Auth-Token": token["id"]})
    assert r.status_code == 200 and r.json()["access"]["user"]["id"] == node.credentials["uuid"]


def test_wrong_password_is_a_clean_401(node):
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": node.credentials["email"], "password": "nope", "domain": {"id": "default"}}}}}}
    r = requests.post(f"{node.url}/astakos/identity/v3/auth/tokens", json=body)
    assert r.status_code == 401 and r.json()["error"]["code"] == 401


def test_the_simulated_cluster_is_one_rapi_service_that_every_process_sees(node):
    (backend,) = json.loads(snf_manage(node, "backend-list", "-o", "clustername,host,port,pinst_cnt", "--output-format", "json"))
    assert (backend["clustername"], backend["host"], backend["port"]) == ("simulated.local", "127.0.0.1", node.simulated_port)
    assert backend["pinst_cnt"] == 0
    # A VM record (as the compute API makes), then its instance created through the real RAPI
    # client with the backend's stored address, user, password and CA (as a web worker would)...
    name = snf_manage(node, "shell", "--no-imports", "-c", "from synnefo.cyclades.models import Backend, VirtualMachine; "
                      "print(VirtualMachine.objects.create(backend=Backend.objects.get()).backend_vm_id)").strip()
    client = snf_manage(node, "shell", "--no-imports", "-c", "from synnefo.cyclades.models import Backend; "
                        "c = Backend.objects.get().get_client(); print(type(c).__name__, c.base_url)").split()
    assert client == ["GanetiRapiClient", f"https://127.0.0.1:{node.simulated_port}"]
    client = node.simulated_client()
    job = client.create_instance(name, "file", [{"size": 1024}], [], os_type="snf-image+default",
                                 beparams={"maxmem": 256, "vcpus": 1})
    assert client.wait_for_job(job)["status"] == "success"
    client.close()
    # ...is seen by another process (snf-manage reads the cluster through the service)...
    snf_manage(node, "backend-update-status")
    (backend,) = json.loads(snf_manage(node, "backend-list", "-o", "clustername,host,port,pinst_cnt", "--output-format", "json"))
    assert backend["pinst_cnt"] == 1
    # ...and the service's job events reached the node's dispatcher, which applied them.
    state = ""
    for _ in range(30):
        state = snf_manage(node, "shell", "--no-imports", "-c", "from synnefo.cyclades.models import VirtualMachine; "
                           "vm = VirtualMachine.objects.get(); print(vm.operstate, vm.backendjobid)").split()
        if state[0] == "STARTED":
            break
        time.sleep(0.5)
    assert state == ["STARTED", str(job)]
    # snf-dispatcher --status-check's round trip (RAPI dry-run tag job -> event -> AMQP) works too.
    check = subprocess.run([sys.executable, "-c", "from synnefo.cyclades.dispatcher import main; main()", "--status-check"],
                           env=node.env, capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    assert json.loads(check.stdout) == {"dispatcher": "unknown",  # the embedded transport counts no consumers
                                        "clusters": {"simulated.local": {"RAPI": "ok", "eventd": "ok"}}}


def test_ctrl_c_stops_every_process_and_a_restart_keeps_the_state(node):
    client = node.simulated_client()
    instances = client.get_instances()
    client.close()
    assert node.stop() == 0
    assert "synnefo: stopped" in "".join(node.output)
    for port in (node.port, node.simulated_port):
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", port)) != 0, f"something still listens on {port}"
    # Second start on the same data directory: no new administrator, same token works.
    credentials = dict(node.credentials)
    node.output.clear()
    node.credentials.clear()
    node.start()
    assert node.credentials == {}
    r = requests.post(f"{node.url}/astakos/identity/v2.0/tokens", json={"auth": {"token": {"id": credentials["token"]}}})
    assert r.status_code == 200
    node.credentials.update(credentials)
    # The simulated cluster kept its instances (saved in the data directory).
    client = node.simulated_client()
    assert client.get_instances() == instances
    client.close()


def snf_manage(node, *args) -> str:
    result = subprocess.run([sys.executable, "-m", "synnefo.manage", *args], env=node.env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_all_in_one_node_has_the_simulated_backend_and_a_dispatcher(node):
    backends = json.loads(snf_manage(node, "backend-list", "--output-format", "json"))
    assert [b["clustername"] for b in backends] == ["simulated.local"]
    assert "AMQP connected" in "".join(node.output)  # the dispatcher consumes from the embedded queue


def test_flavors_through_the_openstack_cli_and_kamakis_catalog(node):
    snf_manage(node, "volume-type-create", "--name", "Standard", "--disk-template", "drbd")
    snf_manage(node, "flavor-create", "1,2", "1024", "20", "1")
    flavors = openstack_cli(node, "flavor", "list")
    assert sorted((f["Name"], f["VCPUs"], f["RAM"], f["Disk"]) for f in flavors) == [
        ("C1R1024D20drbd", 1, 1024, 20), ("C2R1024D20drbd", 2, 1024, 20)]
    shown = openstack_cli(node, "flavor", "show", str(flavors[0]["ID"]))
    assert shown["name"] == flavors[0]["Name"]
    # kamaki: the compute publicURL of the v2.0 catalog, then GET flavors/detail.
    r = requests.post(f"{node.url}/astakos/identity/v2.0/tokens", json={"auth": {"token": {"id": node.credentials["token"]}}})
    (compute,) = [s for s in r.json()["access"]["serviceCatalog"] if s["type"] == "compute"]
    url = compute["endpoints"][0]["publicURL"]
    assert url.endswith("/cyclades/compute/v2.0")
    r = requests.get(url + "/flavors/detail", headers={"X-Auth-Token": node.credentials["token"]})
    assert r.status_code == 200 and {f["SNF:disk_template"] for f in r.json()["flavors"]} == {"drbd"}


def test_images_through_the_openstack_cli_and_kamakis_calls(node, tmp_path):
    disk = tmp_path / "disk.img"
    disk.write_bytes(os.urandom(5 * 1024 * 1024 + 17))  # more than one 4 MiB block
    created = openstack_cli(node, "image", "create", "--file", str(disk), "--disk-format", "raw", "img1")
    assert created["status"] == "active" and created["size"] == disk.stat().st_size
    assert [i["Name"] for i in openstack_cli(node, "image", "list")] == ["img1"]
    shown = openstack_cli(node, "image", "show", created["id"])
    assert shown["checksum"] == hashlib.md5(disk.read_bytes()).hexdigest()
    # The data is an ordinary Pithos file of the owner.
    token, uuid = node.credentials["token"], node.credentials["uuid"]
    r = requests.get(f"{node.url}/pithos/object-store/v1/{uuid}/images/img1", headers={"X-Auth-Token": token})
    assert r.status_code == 200 and r.content == disk.read_bytes()
    # kamaki: register an uploaded file by its pithos:// location, list as a bare array.
    r = requests.put(f"{node.url}/pithos/object-store/v1/{uuid}/images/base.diskdump", data=b"base" * 1000,
                     headers={"X-Auth-Token": token})
    assert r.status_code == 201
    r = requests.post(f"{node.url}/cyclades/image/v1.0/images/", headers={
        "X-Auth-Token": token, "X-Image-Meta-Name": "Debian%20Base", "x-image-meta-disk-format": "diskdump",
        "X-Image-Meta-Location": f"pithos://{uuid}/images/base.diskdump", "x-image-meta-property-OSFAMILY": "linux"})
    assert r.status_code == 200, r.text
    listed = requests.get(f"{node.url}/cyclades/image/v1.0/images/?sort_dir=asc", headers={"X-Auth-Token": token}).json()
    assert sorted(i["name"] for i in listed) == ["Debian Base", "img1"]
    openstack_cli(node, "image", "delete", created["id"], output=False)
    r = requests.get(f"{node.url}/pithos/object-store/v1/{uuid}/images/img1", headers={"X-Auth-Token": token})
    assert r.status_code == 404



def test_servers_through_the_openstack_cli(node, tmp_path):
    disk = tmp_path / "tiny.img"
    disk.write_bytes(b"\0" * 1024 + os.urandom(1024))
    image = openstack_cli(node, "image", "create", "--file", str(disk), "--disk-format", "raw", "tiny")
    if not any(f["Name"] == "C1R1024D20drbd" for f in openstack_cli(node, "flavor", "list")):
        snf_manage(node, "volume-type-create", "--name", "Standard", "--disk-template", "drbd")
        snf_manage(node, "flavor-create", "1", "1024", "20", "1")
    flavor = [f for f in openstack_cli(node, "flavor", "list") if f["Name"] == "C1R1024D20drbd"][0]
    openstack_cli(node, "keypair", "create", "--public-key", str(_public_key(tmp_path)), "k1")
    server = openstack_cli(node, "server", "create", "--flavor", str(flavor["ID"]), "--image", image["id"],
                           "--key-name", "k1", "--wait", "s1")
    assert server["status"] == "ACTIVE" and server["name"] == "s1"
    listed = openstack_cli(node, "server", "list")
    assert [(s["Name"], s["Status"], s["Image"], s["Flavor"]) for s in listed] == [("s1", "ACTIVE", "tiny", flavor["Name"])]
    openstack_cli(node, "server", "stop", server["id"], output=False)
    _wait_for(lambda: openstack_cli(node, "server", "show", server["id"])["status"] == "SHUTOFF")
    # kamaki reads Synnefo's own word on v2.0.
    r = requests.get(f"{node.url}/cyclades/compute/v2.0/servers/{server['id']}", headers={"X-Auth-Token": node.credentials["token"]})
    assert r.json()["server"]["status"] == "STOPPED"
    openstack_cli(node, "server", "start", server["id"], output=False)
    _wait_for(lambda: openstack_cli(node, "server", "show", server["id"])["status"] == "ACTIVE")
    openstack_cli(node, "server", "delete", "--wait", server["id"], output=False)
    assert openstack_cli(node, "server", "list") == []


def _public_key(tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    path = tmp_path / "id.pub"
    key = ed25519.Ed25519PrivateKey.generate().public_key()
    path.write_bytes(key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH))
    return path


def _wait_for(predicate, timeout=60):
    import time

    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.5)


def test_volumes_and_snapshots_through_the_openstack_cli(node, tmp_path):
    snf_manage(node, "volume-type-create", "--name", "archip", "--disk-template", "ext_archipelago")
    (vtype,) = [t for t in openstack_cli(node, "volume", "type", "list") if t["Name"] == "archip"]
    snf_manage(node, "flavor-create", "1", "1024", "2", str(vtype["ID"]))
    flavor = [f for f in openstack_cli(node, "flavor", "list") if f["Name"] == "C1R1024D2ext_archipelago"][0]
    data = os.urandom(5 * 1024 * 1024 + 17)
    (tmp_path / "vol.img").write_bytes(data)
    image = openstack_cli(node, "image", "create", "--file", str(tmp_path / "vol.img"), "--disk-format", "raw", "volimg")
    volume = openstack_cli(node, "volume", "create", "--size", "1", "--image", image["id"], "v1")
    assert volume["size"] == 1 and volume["name"] == "v1"
    _wait_for(lambda: openstack_cli(node, "volume", "show", "v1")["status"] == "available")
    listed = openstack_cli(node, "volume", "list")
    assert [(v["Name"], v["Status"], v["Size"]) for v in listed] == [("v1", "available", 1)]
    import openstack

    conn = openstack.connect(**password_auth(node), load_yaml_config=False, load_envvars=False)
    assert [(v.id, v.size, v.status) for v in conn.block_storage.volumes()] == [(volume["id"], 1, "available")]
    # Extended (os-extend) while available: the map grows, the image's bytes stay.
    openstack_cli(node, "volume", "set", "--size", "2", "v1", output=False)
    assert openstack_cli(node, "volume", "show", "v1")["size"] == 2
    bad = subprocess.run([shutil.which("openstack") or str(Path(sys.executable).with_name("openstack")), "volume",
                          "set", "--size", "1", "v1"], env=os_env(node), capture_output=True, text=True, timeout=120)
    assert bad.returncode != 0 and openstack_cli(node, "volume", "show", "v1")["size"] == 2
    # A snapshot: a Pithos file of the owner with the volume's content.
    snapshot = openstack_cli(node, "volume", "snapshot", "create", "--volume", "v1", "s1")
    assert snapshot["name"] == "s1" and snapshot["volume_id"] == volume["id"]
    assert [s["Name"] for s in openstack_cli(node, "volume", "snapshot", "list")] == ["s1"]
    token, uuid = node.credentials["token"], node.credentials["uuid"]
    r = requests.get(f"{node.url}/pithos/object-store/v1/{uuid}/snapshots/s1",
                     headers={"X-Auth-Token": token, "Range": f"bytes=0-{len(data) - 1}"})
    assert r.status_code == 206 and r.content == data
    # A clone of the volume (--source), bigger; its own snapshot downloads with the same bytes.
    clone = openstack_cli(node, "volume", "create", "--source", "v1", "--size", "2", "v2")
    assert clone["size"] == 2 and clone["source_volid"] == volume["id"]
    openstack_cli(node, "volume", "snapshot", "create", "--volume", "v2", "s2")
    r = requests.get(f"{node.url}/pithos/object-store/v1/{uuid}/snapshots/s2",
                     headers={"X-Auth-Token": token, "Range": f"bytes=0-{len(data) - 1}"})
    assert r.status_code == 206 and r.content == data
    openstack_cli(node, "volume", "snapshot", "delete", "s2", output=False)
    openstack_cli(node, "volume", "delete", "v2", output=False)
    # Attached to a server and detached again (Nova's os-volume_attachments).
    server = openstack_cli(node, "server", "create", "--flavor", str(flavor["ID"]), "--image", image["id"], "--wait", "vs1")
    openstack_cli(node, "server", "add", "volume", server["id"], volume["id"], output=False)
    _wait_for(lambda: openstack_cli(node, "volume", "show", volume["id"])["status"] == "in-use")
    shown = openstack_cli(node, "volume", "show", volume["id"])
    assert [a["server_id"] for a in shown["attachments"]] == [server["id"]]
    openstack_cli(node, "server", "remove", "volume", server["id"], volume["id"], output=False)
    _wait_for(lambda: openstack_cli(node, "volume", "show", volume["id"])["status"] == "available")
    openstack_cli(node, "server", "delete", "--wait", server["id"], output=False)
    # Boot from a new 3 GiB volume cloned from the snapshot; it goes with the server.
    booted = openstack_cli(node, "server", "create", "--flavor", str(flavor["ID"]), "--image", snapshot["id"],
                           "--boot-from-volume", "3", "--wait", "bfv1")
    (root,) = [v for v in openstack_cli(node, "volume", "list") if v["ID"] != volume["id"]]
    assert root["Size"] == 3 and root["Status"] == "in-use"
    openstack_cli(node, "server", "delete", "--wait", booted["id"], output=False)
    # Deleting the snapshot removes its file; deleting the volume, the volume.
    openstack_cli(node, "volume", "snapshot", "delete", "s1", output=False)
    assert openstack_cli(node, "volume", "snapshot", "list") == []
    r = requests.head(f"{node.url}/pithos/object-store/v1/{uuid}/snapshots/s1", headers={"X-Auth-Token": token})
    assert r.status_code == 404
    # v1 was detached: Ganeti kept its disk, and the delete removes that disk with a job first
    # (Cinder's delete is asynchronous: "deleting", then gone).
    openstack_cli(node, "volume", "delete", "v1", output=False)
    _wait_for(lambda: openstack_cli(node, "volume", "list") == [])
    # Bad input: a clear error from the CLI.
    exe = shutil.which("openstack") or str(Path(sys.executable).with_name("openstack"))
    result = subprocess.run([exe, "volume", "create", "--size", "500", "big"], env=os_env(node), capture_output=True, text=True,
                            timeout=120)
    assert result.returncode != 0 and "1 to 200 GiB" in result.stderr
