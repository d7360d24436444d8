"""IPv6: subnets whose addresses are the EUI-64 of each port's MAC (SLAAC, not pooled), public
IPv6-only networks (no floating IP needed, ``SNF:ANY_PUBLIC_IPV6``), and networks without an IPv4
subnet on (simulated) Ganeti."""

import ipaddress

import pytest
from django.core.management.base import CommandError

from synnefo.cyclades.logic import ports
from synnefo.cyclades.models import BackendNetwork, IPAddress, Network, NetworkInterface, VirtualMachine
from tests.compute_helpers import cloud  # noqa: F401 - fixture
from tests.pithos_helpers import small_blocks  # noqa: F401 - fixture
from tests.test_cyclades_networks_sim import mac_pool, net_call, run, settle_all  # noqa: F401 - fixture
from tests.test_cyclades_server_default_networks import public_network
from tests.test_cyclades_server_networks import create

pytestmark = pytest.mark.django_db


def test_eui64():
    # RFC 4291 appendix A: 00:1b:63:84:45:e6 -> interface id 021b:63ff:fe84:45e6
    assert ports.eui64("2001:db8:1::/64", "00:1b:63:84:45:e6") == "2001:db8:1:0:21b:63ff:fe84:45e6"
    assert ports.eui64("2001:db8:1::/64", "aa:00:00:12:34:56") == "2001:db8:1:0:a800:ff:fe12:3456"
    with pytest.raises(ValueError):
        ports.eui64("2001:db8:1::/64", "aa:00")


def _ipv6_only_public(cloud, name="v6", cidr="2001:db8:6::/64"):
    out = run(cloud, "network-create", "--public", "--flavor=CUSTOM", f"--name={name}", f"--subnet6={cidr}",
              f"--backend-id={cloud.backend.id}")
    settle_all(cloud)
    return Network.objects.get(pk=int(out.split()[2]))


def test_an_ipv6_only_network_reaches_ganeti_with_a_placeholder_ipv4_range(cloud):
    network = _ipv6_only_public(cloud)
    assert BackendNetwork.objects.get(network=network).operstate == "ACTIVE"
    ganeti = cloud.cluster.networks[network.backend_id]
    assert (ganeti["network"], ganeti["gateway"], ganeti["network6"]) == ("10.0.0.0/29", None, "2001:db8:6::/64")
    connect = next(j["ops"][0]["input"] for j in cloud.cluster.jobs.values()
                   if j["ops"][0]["input"]["OP_ID"] == "OP_NETWORK_CONNECT")
    assert connect["conflicts_check"] is False
    assert "10.0.0.0/29" in run(cloud, "network-inspect", str(network.id))  # Ganeti's side, as it is
    assert "2001:db8:6::/64" in run(cloud, "network-show", str(network.id))
    # Ganeti cannot change a network's IPv4 range: an IPv4 subnet now is refused, nothing created.
    with pytest.raises(CommandError, match="IPv6-only network"):
        run(cloud, "subnet-create", f"--network={network.id}", "--cidr=203.0.113.0/24")
    assert network.subnets.count() == 1


def test_a_server_on_an_ipv6_only_public_network_needs_no_floating_ip(cloud):
    network = _ipv6_only_public(cloud)
    r = create(cloud, [{"uuid": str(network.id)}])
    assert r.status_code == 202, r.content
    settle_all(cloud)
    vm = VirtualMachine.objects.get()
    port = NetworkInterface.objects.get(machine=vm)
    (ip,) = IPAddress.objects.filter(nic=port)
    assert ip.ipversion == 6 and not ip.floating_ip and ip.address == ports.eui64("2001:db8:6::/64", port.mac)
    instance = cloud.cluster.instances[vm.backend_vm_id]
    assert instance["nic.ips"] == [None] and instance["nic.networks.names"] == [network.backend_id]
    record = cloud.call("GET", f"/servers/{vm.id}").json()["server"]
    assert record["addresses"][str(network.id)] == [{"version": 6, "addr": ip.address, "OS-EXT-IPS:type": "fixed",
                                                     "OS-EXT-IPS-MAC:mac_addr": port.mac}]
    assert record["attachments"][0]["ipv6"] == ip.address and record["attachments"][0]["ipv4"] == ""
    # Deleting the server takes the address with the port.
    assert cloud.call("DELETE", f"/servers/{vm.id}").status_code == 204
    settle_all(cloud)
    assert not IPAddress.objects.exists()


def test_dual_stack_port_gets_both_addresses(cloud, mac_pool):
    net_id = net_call(cloud, "POST", "/networks", {"network": {"type": "MAC_FILTERED"}})[1]["network"]["id"]
    for cidr, version in (("10.20.0.0/29", 4), ("2001:db8:20::/64", 6)):
        status, body = net_call(cloud, "POST", "/subnets", {"subnet": {"network_id": net_id, "cidr": cidr, "ip_version": version}})
        assert status == 201, body
    v6 = next(s for s in net_call(cloud, "GET", "/subnets")[1]["subnets"] if s["ip_version"] == 6)
    assert v6["enable_slaac"] is True and v6["allocation_pools"] == []
    status, body = net_call(cloud, "POST", "/ports", {"port": {"network_id": net_id}})
    assert status == 201, body
    fixed = {ipaddress.ip_address(f["ip_address"]).version: f["ip_address"] for f in body["port"]["fixed_ips"]}
    assert fixed[4] == "10.20.0.2" and fixed[6] == ports.eui64("2001:db8:20::/64", body["port"]["mac_address"])
    assert net_call(cloud, "DELETE", f"/ports/{body['port']['id']}")[0] == 204
    assert not IPAddress.objects.exists()


def test_any_public_ipv6_setting(cloud, settings):
    public_network(cloud, "v4", "203.0.113.0/29")
    v6 = _ipv6_only_public(cloud)
    settings.CYCLADES_DEFAULT_SERVER_NETWORKS = ["SNF:ANY_PUBLIC_IPV6"]
    assert create(cloud, None, "a").status_code == 202
    settings.CYCLADES_DEFAULT_SERVER_NETWORKS = ["SNF:ANY_PUBLIC_IPV4", "SNF:ANY_PUBLIC_IPV6"]
    assert create(cloud, None, "b").status_code == 202
    settle_all(cloud)
    a, b = VirtualMachine.objects.get(name="a"), VirtualMachine.objects.get(name="b")
    assert list(NetworkInterface.objects.filter(machine=a).values_list("network_id", flat=True)) == [v6.id]
    assert [p.network.name for p in NetworkInterface.objects.filter(machine=b).order_by("index")] == ["v4", "v6"]
    # Without an IPv6-only public network the entry finds nothing: 503, nothing created.
    run(cloud, "network-modify", str(v6.id), "--drained=True")
    settings.CYCLADES_DEFAULT_SERVER_NETWORKS = ["SNF:ANY_PUBLIC_IPV6"]
    r = create(cloud, None, "c")
    assert r.status_code == 503 and not VirtualMachine.objects.filter(name="c").exists()
