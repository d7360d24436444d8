"""snf-manage subnet-* and ip-list over the network logic (simulated backend, real dispatcher
callbacks): a subnet added by command sends its waiting network to Ganeti; listings and bad input
(refused, nothing changed)."""

import json

import pytest
from django.core.management.base import CommandError

from synnefo.cyclades.models import BackendNetwork, IPAddress, IPAddressHistory, Network, Subnet
from tests.compute_helpers import cloud  # noqa: F401 - fixture
from tests.pithos_helpers import small_blocks  # noqa: F401 - fixture
from tests.test_cyclades_networks_sim import mac_pool, net_call, run, settle_all  # noqa: F401 - fixture
from tests.test_cyclades_server_default_networks import public_network
from tests.test_cyclades_server_networks import create

pytestmark = pytest.mark.django_db


def refused(cloud, *args, match):
    with pytest.raises(CommandError, match=match):
        run(cloud, *args)


def test_subnet_create_sends_the_network_to_ganeti(cloud, mac_pool):
    out = run(cloud, "network-create", "--flavor=MAC_FILTERED", f"--user={cloud.user.email}", "--name=later")
    network = Network.objects.get(pk=int(out.split()[2]))
    settle_all(cloud)
    assert network.backend_id not in cloud.cluster.networks  # Ganeti networks need an IPv4 subnet
    out = run(cloud, "subnet-create", f"--network={network.id}", "--cidr=10.9.0.0/24", "--name=lan",
              "--gateway=10.9.0.254", "--allocation-pool=10.9.0.10,10.9.0.19", "--allocation-pool=10.9.0.30,10.9.0.39",
              "--dns=9.9.9.9,1.1.1.1", "--host-routes=192.168.0.0/16=10.9.0.254", "--dhcp=False")
    subnet = Subnet.objects.get(network=network)
    assert f"Created subnet {subnet.id} of network {network.id}" in out
    assert (subnet.name, subnet.gateway, subnet.dhcp, subnet.dns_nameservers) == ("lan", "10.9.0.254", False, ["9.9.9.9", "1.1.1.1"])
    assert subnet.host_routes == [{"destination": "192.168.0.0/16", "nexthop": "10.9.0.254"}]
    settle_all(cloud)
    ganeti = cloud.cluster.networks[network.backend_id]
    assert ganeti["network"] == "10.9.0.0/24" and ganeti["gateway"] == "10.9.0.254"
    assert BackendNetwork.objects.get(network=network).operstate == "ACTIVE"
    # The API shows what the command made.
    record = net_call(cloud, "GET", f"/subnets/{subnet.id}")[1]["subnet"]
    assert record["allocation_pools"] == [{"start": "10.9.0.10", "end": "10.9.0.19"}, {"start": "10.9.0.30", "end": "10.9.0.39"}]
    # An IPv6 subnet added to a network already on Ganeti reaches it too.
    run(cloud, "subnet-create", f"--network={network.id}", "--cidr=2001:db8:9::/64", "--ip-version=6")
    settle_all(cloud)
    assert cloud.cluster.networks[network.backend_id]["network6"] == "2001:db8:9::/64"
    listing = json.loads(run(cloud, "subnet-list", f"--network={network.id}", "--output-format=json"))
    assert [(s["ip_version"], s["cidr"], s["allocation_pools"]) for s in listing] == [
        (4, "10.9.0.0/24", "10.9.0.10-10.9.0.19,10.9.0.30-10.9.0.39"), (6, "2001:db8:9::/64", "")]
    csv = run(cloud, "subnet-list", "--filter-by=ip_version=6", "-o", "id,cidr", "--output-format=csv", "--no-headers")
    assert csv.strip() == f"{Subnet.objects.get(ipversion=6).id},2001:db8:9::/64"
    shown = run(cloud, "subnet-show", str(subnet.id))
    assert "10.9.0.10" in shown and "9.9.9.9,1.1.1.1" in shown and "192.168.0.0/16=10.9.0.254" in shown
    run(cloud, "subnet-modify", str(subnet.id), "--name=renamed")
    assert Subnet.objects.get(pk=subnet.pk).name == "renamed"


def test_subnet_commands_refuse_bad_input(cloud, mac_pool):
    out = run(cloud, "network-create", "--flavor=MAC_FILTERED", f"--user={cloud.user.email}", "--subnet=10.10.0.0/24")
    network = Network.objects.get(pk=int(out.split()[2]))
    before = list(Subnet.objects.values_list("id", "cidr", "name"))
    for args, match in (
            ((f"--network={network.id}", "--cidr=10.11.0.0/24"), "already has an IPv4 subnet"),
            (("--network=999", "--cidr=10.11.0.0/24"), "No network with id"),
            ((f"--network={network.id}", "--cidr=10.11.0.5/24", "--ip-version=4"), "Invalid CIDR"),
            ((f"--network={network.id}", "--cidr=2001:db8::/48"), "must be /64"),
            ((f"--network={network.id}", "--cidr=2001:db8::/64", "--ip-version=4"), "is not IPv4"),
            ((f"--network={network.id}", "--cidr=2001:db8::/64", "--host-routes=nonsense"), "DEST=NEXTHOP"),
            ((f"--network={network.id}", "--cidr=2001:db8::/64", "--dns=not-an-ip"), "Invalid DNS server"),
            ((f"--network={network.id}", "--cidr=2001:db8::/64", "--dhcp=maybe"), "True or False")):
        refused(cloud, "subnet-create", *args, match=match)
    assert list(Subnet.objects.values_list("id", "cidr", "name")) == before
    other = Network.objects.get(pk=int(run(cloud, "network-create", "--flavor=MAC_FILTERED",
                                           f"--user={cloud.user.email}").split()[2]))
    refused(cloud, "subnet-create", f"--network={other.id}", "--cidr=10.0.0.0/16", match="Unsupported network size")
    refused(cloud, "subnet-create", f"--network={other.id}", "--cidr=10.0.0.0/24", "--allocation-pool=10.0.0.1",
            match="START,END")
    assert not Subnet.objects.filter(network=other).exists()
    refused(cloud, "subnet-show", "999", match="No subnet")
    refused(cloud, "subnet-modify", str(before[0][0]), match="Nothing to do")
    refused(cloud, "subnet-modify", str(before[0][0]), "--name=" + "x" * 300, match="at most")
    refused(cloud, "subnet-list", "--filter-by=colour=red", match="Bad filter")


def test_ip_list(cloud, mac_pool):
    public = public_network(cloud, "internet", "203.0.113.0/24", "--floating-ip-pool=True")
    lan_id = int(net_call(cloud, "POST", "/networks", {"network": {"type": "MAC_FILTERED"}})[1]["network"]["id"])
    assert net_call(cloud, "POST", "/subnets", {"subnet": {"network_id": lan_id, "cidr": "10.12.0.0/29"}})[0] == 201
    settle_all(cloud)
    floating = net_call(cloud, "POST", "/floatingips", {"floatingip": {"floating_network_id": str(public.id)}})[1]["floatingip"]
    spare = net_call(cloud, "POST", "/floatingips", {"floatingip": {"floating_network_id": str(public.id)}})[1]["floatingip"]
    response = create(cloud, [{"uuid": str(lan_id)}, {"uuid": str(public.id), "fixed_ip": floating["floating_ip_address"]}])
    assert response.status_code == 202, response.content
    vm_id = int(response.json()["server"]["id"])
    settle_all(cloud)
    rows = json.loads(run(cloud, "ip-list", "--output-format=json"))
    by_address = {r["address"]: r for r in rows}
    assert set(by_address) == {"10.12.0.2", floating["floating_ip_address"], spare["floating_ip_address"]}
    lan = by_address["10.12.0.2"]
    assert (lan["network"], lan["server"], lan["user"], lan["floating"]) == (lan_id, vm_id, str(cloud.user.uuid), False)
    assert lan["subnet"] == Subnet.objects.get(network_id=lan_id).id and lan["port"]
    assert by_address[floating["floating_ip_address"]]["floating"] is True
    assert by_address[floating["floating_ip_address"]]["server"] == vm_id
    assert by_address[spare["floating_ip_address"]]["port"] == "" and by_address[spare["floating_ip_address"]]["server"] == ""
    only = run(cloud, "ip-list", "--floating", "--server", str(vm_id), "-o", "address", "--no-headers")
    assert only.split() == [floating["floating_ip_address"]]
    assert run(cloud, "ip-list", "--address=10.12.0.2", "-o", "server", "--no-headers").split() == [str(vm_id)]
    assert run(cloud, "ip-list", f"--network={public.id}", "--filter-by=floating=false", "--no-headers").strip() == ""
    assert len(run(cloud, "ip-list", f"--user={cloud.user.email}", "--no-headers").splitlines()) == 3
    assert IPAddress.objects.count() == 3
    refused(cloud, "ip-list", "--server=abc", match="invalid int")
    # The migration starts the history of the addresses servers use then.
    import importlib

    from django.apps import apps

    IPAddressHistory.objects.all().delete()
    importlib.import_module("synnefo.cyclades.migrations.0008_ip_history").addresses_in_use(apps, None)
    started = IPAddressHistory.objects.values_list("address", "server_id", "action")
    assert sorted(started) == sorted([("10.12.0.2", vm_id, "associate"), (floating["floating_ip_address"], vm_id, "associate")])


def test_ip_list_history(cloud, mac_pool):
    """Each address a server takes and gives up is in the history, with why: created with the
    server, connected, disconnected, and given back when the server is deleted (a floating IP
    too: it stays its owner's, but the server used it then)."""
    public = public_network(cloud, "internet", "203.0.113.0/24", "--floating-ip-pool=True")
    lan_id = int(net_call(cloud, "POST", "/networks", {"network": {"type": "MAC_FILTERED"}})[1]["network"]["id"])
    assert net_call(cloud, "POST", "/subnets", {"subnet": {"network_id": lan_id, "cidr": "10.13.0.0/29"}})[0] == 201
    settle_all(cloud)
    floating = net_call(cloud, "POST", "/floatingips", {"floatingip": {"floating_network_id": str(public.id)}})[1]["floatingip"]
    address = floating["floating_ip_address"]
    response = create(cloud, [{"uuid": str(public.id), "fixed_ip": address}])
    vm_id = int(response.json()["server"]["id"])
    settle_all(cloud)
    status, body = net_call(cloud, "POST", "/ports", {"port": {"network_id": str(lan_id), "device_id": str(vm_id)}})
    assert status == 201, body
    settle_all(cloud)
    assert net_call(cloud, "DELETE", f"/ports/{body['port']['id']}")[0] == 204
    settle_all(cloud)
    assert cloud.call("DELETE", f"/servers/{vm_id}").status_code == 204
    settle_all(cloud)

    def history(*args):
        return [(r["address"], r["server"], r["network"], r["action"], r["reason"])
                for r in json.loads(run(cloud, "ip-list", "--history", "--output-format=json", *args))]

    assert history() == [
        (address, vm_id, public.id, "associate", "server created"),
        ("10.13.0.2", vm_id, lan_id, "associate", "connected"),
        ("10.13.0.2", vm_id, lan_id, "disassociate", "disconnected"),
        (address, vm_id, public.id, "disassociate", "server deleted"),
    ]
    rows = json.loads(run(cloud, "ip-list", "--history", "--output-format=json", f"--address={address}"))
    assert [r["user"] for r in rows] == [str(cloud.user.uuid)] * 2 and rows[0]["date"] <= rows[1]["date"]
    assert history("--address=10.13.0.2", "--filter-by=action=disassociate") == [
        ("10.13.0.2", vm_id, lan_id, "disassociate", "disconnected")]
    assert len(history(f"--server={vm_id}")) == 4 and history("--server=999") == []
    assert history(f"--network={lan_id}", f"--user={cloud.user.email}")[0][3] == "associate"
    # The address is free again (the floating IP still held), and the history stays.
    assert IPAddress.objects.filter(address="10.13.0.2").count() == 0
    assert IPAddress.objects.get(address=address).nic_id is None
    refused(cloud, "ip-list", "--history", "--floating", match="no such mark")
    refused(cloud, "ip-list", "--history", "--filter-by=port=1", match="Bad filter")
