"""End to end: networks on `synnefo up` (simulated backend, real dispatcher) driven by the real
openstack CLI, and by raw HTTP the way kamaki 0.16 talks to the network API."""

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.test_e2e_clients import openstack_cli, os_env


def _wait_for(predicate, timeout=60):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.5)


def test_networks_subnets_ports_through_the_openstack_cli(node):
    network = openstack_cli(node, "network", "create", "n1")
    assert network["name"] == "n1" and network["status"] == "BUILD"
    assert [n["Name"] for n in openstack_cli(node, "network", "list")] == ["n1"]
    subnet = openstack_cli(node, "subnet", "create", "--network", network["id"], "--subnet-range", "10.0.0.0/24", "s1")
    assert subnet["cidr"] == "10.0.0.0/24" and subnet["gateway_ip"] == "10.0.0.1"
    # The simulated backend adds and connects the network; the dispatcher applies its events.
    _wait_for(lambda: openstack_cli(node, "network", "show", network["id"])["status"] == "ACTIVE")
    port = openstack_cli(node, "port", "create", "--network", network["id"], "p1")
    assert port["fixed_ips"][0]["ip_address"] == "10.0.0.2" and port["mac_address"].startswith("aa:00:")
    exe = shutil.which("openstack") or str(Path(sys.executable).with_name("openstack"))
    result = subprocess.run([exe, "network", "delete", network["id"]], env=os_env(node), capture_output=True, text=True,
                            timeout=120)
    assert result.returncode != 0 and "in use" in result.stderr  # by the port
    openstack_cli(node, "port", "delete", port["id"], output=False)
    openstack_cli(node, "network", "delete", network["id"], output=False)
    assert openstack_cli(node, "network", "list") == []


def test_kamakis_network_calls(node):
    token = node.credentials["token"]
    r = requests.post(f"{node.url}/astakos/identity/v2.0/tokens", json={"auth": {"token": {"id": token}}})
    (network_service,) = [s for s in r.json()["access"]["serviceCatalog"] if s["type"] == "network"]
    url = network_service["endpoints"][0]["publicURL"]
    assert url.endswith("/cyclades/network/v2.0")
    headers = {"X-Auth-Token": token, "Content-Type": "application/json"}
    r = requests.post(f"{url}/networks", json={"network": {"type": "MAC_FILTERED", "name": "net1", "admin_state_up": True}},
                      headers=headers)
    assert r.status_code == 201, r.text
    created = r.json()["network"]
    r = requests.get(f"{url}/networks/detail", headers=headers)
    assert r.status_code == 200 and [n["id"] for n in r.json()["networks"]] == [created["id"]]
    r = requests.get(f"{url}/networks/{created['id']}", headers=headers)
    assert r.json()["network"]["type"] == "MAC_FILTERED" and r.json()["network"]["public"] is False
    r = requests.post(f"{url}/networks", json={"network": {"type": "PHYSICAL_VLAN", "name": "x"}}, headers=headers)
    assert r.status_code == 400 and "badRequest" in r.json()
    assert requests.delete(f"{url}/networks/{created['id']}", headers=headers).status_code == 204



def test_a_server_on_a_network_through_the_openstack_cli(node, tmp_path):  # noqa: F811
    from tests.test_e2e_clients import snf_manage

    disk = tmp_path / "tiny.img"
    disk.write_bytes(b"\0" * 1024 + b"data" * 256)
    image = openstack_cli(node, "image", "create", "--file", str(disk), "--disk-format", "raw", "net-tiny")
    snf_manage(node, "volume-type-create", "--name", "NetStandard", "--disk-template", "drbd")
    types = {t["name"]: t["id"] for t in json.loads(snf_manage(node, "volume-type-list", "--output-format", "json"))}
    snf_manage(node, "flavor-create", "1", "512", "20", str(types["NetStandard"]))
    flavor = [f for f in openstack_cli(node, "flavor", "list") if f["Name"] == "C1R512D20drbd"][0]
    network = openstack_cli(node, "network", "create", "lan")
    openstack_cli(node, "subnet", "create", "--network", network["id"], "--subnet-range", "192.168.7.0/24", "lan4")
    _wait_for(lambda: openstack_cli(node, "network", "show", network["id"])["status"] == "ACTIVE")
    server = openstack_cli(node, "server", "create", "--flavor", str(flavor["ID"]), "--image", image["id"],
                           "--network", network["id"], "--wait", "on-lan")
    assert server["status"] == "ACTIVE"
    shown = openstack_cli(node, "server", "show", server["id"])
    assert "192.168.7.2" in str(shown["addresses"])
    ports = openstack_cli(node, "port", "list", "--long")
    assert [p["Fixed IP Addresses"] for p in ports] and "192.168.7.2" in str(ports)
    openstack_cli(node, "server", "delete", "--wait", server["id"], output=False)
    _wait_for(lambda: openstack_cli(node, "port", "list") == [])
    openstack_cli(node, "network", "delete", network["id"], output=False)
