"""Servers on networks (simulated backend, real callbacks): the create body's ``networks``
become ports with pool addresses and MACs of the network's prefix, Ganeti gets them as NICs,
the server record shows them, and removing the server gives the addresses back."""

import pytest

from synnefo.cyclades.models import IPAddress, IPAddressHistory, Network, NetworkInterface, VirtualMachine
from tests.compute_helpers import cloud  # noqa: F401 - fixture
from tests.pithos_helpers import small_blocks  # noqa: F401 - fixture
from tests.test_cyclades_networks_sim import mac_pool, net_call, settle_all  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db


def make_network(cloud, cidr="10.5.0.0/29", settle=True):
    net_id = net_call(cloud, "POST", "/networks", {"network": {"type": "MAC_FILTERED", "name": "lan"}})[1]["network"]["id"]
    assert net_call(cloud, "POST", "/subnets", {"subnet": {"network_id": net_id, "cidr": cidr}})[0] == 201
    if settle:
        settle_all(cloud)
    return Network.objects.get(pk=net_id)


def create(cloud, networks, name="s"):
    body = {"name": name, "imageRef": cloud.image_id, "flavorRef": cloud.flavors[0].id, "networks": networks}
    return cloud.call("POST", "/servers", {"server": body})


def test_two_servers_on_a_private_network_then_removed(cloud, mac_pool):
    network = make_network(cloud)
    first = create(cloud, [{"uuid": str(network.id)}], "a")
    assert first.status_code == 202, first.content
    second = create(cloud, [{"uuid": str(network.id), "fixed_ip": "10.5.0.6"}], "b")
    assert second.status_code == 202, second.content
    settle_all(cloud)
    vms = {vm.name: vm for vm in VirtualMachine.objects.all()}
    for name, address in (("a", "10.5.0.2"), ("b", "10.5.0.6")):
        vm = vms[name]
        port = NetworkInterface.objects.get(machine=vm)
        assert port.state == "ACTIVE" and port.mac.startswith("aa:00:1")
        instance = cloud.cluster.instances[vm.backend_vm_id]
        assert instance["nic.ips"] == [address] and instance["nic.macs"] == [port.mac]
        assert instance["nic.networks.names"] == [network.backend_id]
        assert instance["nic.names"] == [f"snf-nic-{port.id}"]
        record = cloud.call("GET", f"/servers/{vm.id}").json()["server"]
        assert record["status"] == "ACTIVE"
        assert record["addresses"] == {str(network.id): [{"version": 4, "addr": address, "OS-EXT-IPS:type": "fixed",
                                                          "OS-EXT-IPS-MAC:mac_addr": port.mac}]}
        assert record["attachments"][0]["network_id"] == str(network.id)
    ports = net_call(cloud, "GET", "/ports")[1]["ports"]
    assert sorted(p["device_id"] for p in ports) == sorted(str(vm.id) for vm in vms.values())
    # In use: the network cannot be deleted.
    assert net_call(cloud, "DELETE", f"/networks/{network.id}")[0] == 421
    for vm in vms.values():
        assert cloud.call("DELETE", f"/servers/{vm.id}").status_code == 204
    settle_all(cloud)
    assert not NetworkInterface.objects.exists() and not IPAddress.objects.exists()
    assert net_call(cloud, "DELETE", f"/networks/{network.id}")[0] == 204


def test_an_existing_port_becomes_the_servers_nic(cloud, mac_pool):
    network = make_network(cloud)
    port = net_call(cloud, "POST", "/ports", {"port": {"network_id": str(network.id), "name": "mine"}})[1]["port"]
    r = create(cloud, [{"port": port["id"]}])
    assert r.status_code == 202, r.content
    vm = VirtualMachine.objects.get()
    assert NetworkInterface.objects.get(pk=port["id"]).machine_id == vm.id
    settle_all(cloud)
    assert cloud.cluster.instances[vm.backend_vm_id]["nic.ips"] == [port["fixed_ips"][0]["ip_address"]]
    # A port already attached cannot serve a second server.
    assert create(cloud, [{"port": port["id"]}], "again").status_code == 409
    assert VirtualMachine.objects.count() == 1


def test_refused_network_specs_create_nothing(cloud, mac_pool, make_user):
    network = make_network(cloud)
    pending = make_network(cloud, "10.6.0.0/29", settle=False)
    bob_user, _, _ = make_user("bob@example.org")
    bobs = Network.objects.create(name="bobs", userid=str(bob_user.uuid), flavor="MAC_FILTERED", mode="bridged",
                                  link="prv0", mac_prefix="aa:00:9", state="ACTIVE").id
    public = Network.objects.create(name="pub", public=True, flavor="CUSTOM", mode="bridged", link="br0",
                                    mac_prefix="aa:00:0", state="ACTIVE")
    cases = [
        ([{"uuid": str(bobs)}], 400),  # another user's private network: does not exist for us
        ([{"uuid": "999"}], 400),
        ([{"port": "999"}], 400),
        ([{"uuid": str(public.id)}], 403),
        ([{"uuid": str(pending.id)}], 409),  # not yet active on the backend
        ([{"uuid": str(network.id), "fixed_ip": "10.9.9.9"}], 400),
        ([{"uuid": str(network.id), "port": "1"}], 400),
        ([{"uuid": str(network.id)}] * 9, 400),
        ({"uuid": str(network.id)}, 400),
    ]
    for networks, status in cases:
        r = create(cloud, networks)
        assert r.status_code == status, (networks, r.content)
    assert not VirtualMachine.objects.exists() and not NetworkInterface.objects.exists()
    assert not IPAddress.objects.exists()
    jobs = [j["ops"][0]["input"]["OP_ID"] for j in cloud.cluster.jobs.values()]
    assert "OP_INSTANCE_CREATE" not in jobs


def test_exhausted_network_refuses_the_server_and_keeps_nothing(cloud, mac_pool):
    network = make_network(cloud, "10.7.0.0/29")  # 5 addresses: .2 .. .6
    for _ in range(4):
        assert net_call(cloud, "POST", "/ports", {"port": {"network_id": str(network.id)}})[0] == 201
    assert create(cloud, [{"uuid": str(network.id)}], "last").status_code == 202
    r = create(cloud, [{"uuid": str(network.id)}], "one-too-many")
    assert r.status_code == 409 and b"No more IP addresses" in r.content
    assert VirtualMachine.objects.count() == 1 and NetworkInterface.objects.count() == 5


def test_a_server_on_the_public_network_uses_a_floating_ip(cloud):
    from tests.test_cyclades_networks_sim import run

    run(cloud, "network-create", "--public", "--flavor=CUSTOM", "--name=internet", "--subnet=203.0.113.0/29",
        "--floating-ip-pool=True", f"--backend-id={cloud.backend.id}")
    settle_all(cloud)
    public = Network.objects.get(public=True)
    assert public.state == "ACTIVE"
    assert create(cloud, [{"uuid": str(public.id)}]).status_code == 403  # no floating IP yet
    status, body = net_call(cloud, "POST", "/floatingips", {"floatingip": {"floating_network_id": str(public.id)}})
    assert status == 201
    address = body["floatingip"]["floating_ip_address"]
    r = create(cloud, [{"uuid": str(public.id), "fixed_ip": address}])
    assert r.status_code == 202, r.content
    settle_all(cloud)
    vm = VirtualMachine.objects.get()
    assert cloud.cluster.instances[vm.backend_vm_id]["nic.ips"] == [address]
    record = cloud.call("GET", f"/servers/{vm.id}").json()["server"]
    assert record["addresses"][str(public.id)][0]["OS-EXT-IPS:type"] == "floating"
    floating = net_call(cloud, "GET", f"/floatingips/{body['floatingip']['id']}")[1]["floatingip"]
    assert floating["instance_id"] == str(vm.id)
    assert cloud.call("DELETE", f"/servers/{vm.id}").status_code == 204
    settle_all(cloud)
    # The server is gone; the floating IP stays the user's, detached.
    floating = net_call(cloud, "GET", f"/floatingips/{body['floatingip']['id']}")[1]["floatingip"]
    assert floating["port_id"] is None and IPAddress.objects.filter(address=address, nic__isnull=True).exists()


def test_connect_and_disconnect_a_running_server(cloud, mac_pool):
    network = make_network(cloud)
    assert create(cloud, None).status_code == 202  # the default NIC only
    settle_all(cloud)
    vm = VirtualMachine.objects.get()
    status, body = net_call(cloud, "POST", "/ports", {"port": {"network_id": str(network.id), "device_id": str(vm.id)}})
    assert status == 201, body
    port = body["port"]
    assert port["status"] == "BUILD" and port["device_id"] == str(vm.id)
    assert cloud.call("GET", f"/servers/{vm.id}").json()["server"]["SNF:task_state"] == "CONNECTING"
    # One change at a time: a second connect while the first runs is refused, nothing kept.
    status, _ = net_call(cloud, "POST", "/ports", {"port": {"network_id": str(network.id), "device_id": str(vm.id)}})
    assert status == 409 and NetworkInterface.objects.count() == 1
    settle_all(cloud)
    instance = cloud.cluster.instances[vm.backend_vm_id]
    assert instance["nic.names"][-1] == f"snf-nic-{port['id']}"
    assert instance["nic.ips"][-1] == port["fixed_ips"][0]["ip_address"]
    assert net_call(cloud, "GET", f"/ports/{port['id']}")[1]["port"]["status"] == "ACTIVE"
    assert str(network.id) in cloud.call("GET", f"/servers/{vm.id}/ips").json()["addresses"]
    # Disconnect: the NIC goes from Ganeti, then the port and its address.
    assert net_call(cloud, "DELETE", f"/ports/{port['id']}")[0] == 204
    assert NetworkInterface.objects.get(pk=port["id"]).state == "DOWN"
    settle_all(cloud)
    assert f"snf-nic-{port['id']}" not in cloud.cluster.instances[vm.backend_vm_id]["nic.names"]
    assert not NetworkInterface.objects.exists() and not IPAddress.objects.exists()
    assert VirtualMachine.objects.get().task is None


def test_connect_refusals_change_nothing(cloud, mac_pool, make_user):
    network = make_network(cloud)
    _, _, bob_token = make_user("bob@example.org")
    assert create(cloud, None).status_code == 202
    vm = VirtualMachine.objects.get()
    # Still building: refused.
    status, _ = net_call(cloud, "POST", "/ports", {"port": {"network_id": str(network.id), "device_id": str(vm.id)}})
    assert status == 409
    settle_all(cloud)
    for device in ("999", "x"):
        status, _ = net_call(cloud, "POST", "/ports", {"port": {"network_id": str(network.id), "device_id": device}})
        assert status == 400
    assert not NetworkInterface.objects.exists() and not IPAddress.objects.exists()
    assert not [j for j in cloud.cluster.jobs.values() if j["ops"][0]["input"]["OP_ID"] == "OP_INSTANCE_SET_PARAMS"]


def test_a_failed_connect_gives_the_port_and_address_back(cloud, mac_pool):
    network = make_network(cloud)
    assert create(cloud, None).status_code == 202
    settle_all(cloud)
    vm = VirtualMachine.objects.get()
    with cloud.cluster._lock:  # the instance vanished behind our back: the NIC add job fails
        instance = cloud.cluster.instances.pop(vm.backend_vm_id)
    status, body = net_call(cloud, "POST", "/ports", {"port": {"network_id": str(network.id), "device_id": str(vm.id)}})
    assert status == 201
    settle_all(cloud)
    assert not NetworkInterface.objects.exists() and not IPAddress.objects.exists()
    assert VirtualMachine.objects.get().task is None
    address = body["port"]["fixed_ips"][0]["ip_address"]
    assert list(IPAddressHistory.objects.filter(address=address).values_list("action", "action_reason")) == [
        ("associate", "connected"), ("disassociate", "connect failed")]
    with cloud.cluster._lock:
        cloud.cluster.instances[vm.backend_vm_id] = instance


def test_a_nic_removed_behind_our_back_takes_its_port_with_it(cloud, mac_pool):
    from synnefo.cyclades.logic import callbacks

    network = make_network(cloud)
    assert create(cloud, [{"uuid": str(network.id)}, {"uuid": str(network.id)}]).status_code == 202
    settle_all(cloud)
    vm = VirtualMachine.objects.get()
    first, second = NetworkInterface.objects.filter(machine=vm).order_by("index")
    # eventd's end of an administrator's `gnt-instance modify --net 1:remove`: only the first NIC left.
    msg = {"type": "ganeti-op-status", "instance": vm.backend_vm_id, "operation": "OP_INSTANCE_SET_PARAMS",
           "status": "success", "jobId": 999, "event_time": [2_000_000_000, 0], "logmsg": "",
           "instance_nics": [{"name": f"snf-nic-{first.id}", "network": network.backend_id, "ip": "10.5.0.2"},
                             {"name": "snf-nic-424242", "network": network.backend_id, "ip": "10.5.0.9"}]}
    with cloud.on_commit(execute=True):
        callbacks.handler_for(msg)(msg)
    assert list(NetworkInterface.objects.values_list("id", flat=True)) == [first.id]
    assert list(IPAddress.objects.values_list("nic_id", flat=True)) == [first.id]
    gone = IPAddressHistory.objects.filter(action="disassociate").values_list("server_id", "action_reason")
    assert list(gone) == [(vm.id, "not in Ganeti")]
