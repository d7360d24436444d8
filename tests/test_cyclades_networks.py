"""The network API (/cyclades/network/v2.0) and the network-* commands: flavors and their
Ganeti mapping, subnets with their IP pools, ports, ownership, quota, bad input."""

import io
import json

import pytest
from django.core.management import CommandError, call_command

from synnefo.cyclades.logic import pools
from synnefo.cyclades.models import BridgePoolTable, IPAddress, IPPoolTable, Network, NetworkInterface, Subnet

pytestmark = pytest.mark.django_db
API = "/cyclades/network/v2.0"


_commits = {}


@pytest.fixture(autouse=True)
def _run_commit_hooks(django_capture_on_commit_callbacks):
    _commits["capture"] = django_capture_on_commit_callbacks
    yield
    _commits.clear()


def run(*args) -> str:
    """A command, with what it leaves for after commit (quota decisions, Ganeti jobs) run too."""
    out = io.StringIO()
    with _commits["capture"](execute=True):
        call_command(*args, stdout=out)
    return out.getvalue()


@pytest.fixture
def api(client, django_capture_on_commit_callbacks):
    def call(token, method, path, body=None):
        data = b"" if body is None else json.dumps(body).encode()
        with django_capture_on_commit_callbacks(execute=True):
            response = client.generic(method, API + path, data=data, content_type="application/json",
                                      HTTP_X_AUTH_TOKEN=token)
        return response.status_code, (response.json() if response.content else None)

    return call


@pytest.fixture
def mac_pool():
    run("pool-create", "--type=mac-prefix", "--base=aa:00:0", "--size=65536")


def test_versions_and_catalog(client):
    r = client.get("/cyclades/network/")
    assert r.status_code == 200 and r.json()["versions"][0]["id"] == "v2.0"
    from synnefo.common.components import COMPONENTS

    assert any(s.type == "network" and s.path == "network/v2.0" for s in COMPONENTS["cyclades"].services)


def test_network_lifecycle_as_kamaki_does_it(api, alice, mac_pool):
    user, _, token = alice
    status, body = api(token, "POST", "/networks", {"network": {"type": "MAC_FILTERED", "name": "net1", "admin_state_up": True}})
    assert status == 201, body
    net = body["network"]
    assert net["name"] == "net1" and net["type"] == "MAC_FILTERED" and net["public"] is False
    assert net["user_id"] == str(user.uuid) and net["subnets"] == [] and net["status"] == "BUILD"
    row = Network.objects.get(pk=net["id"])
    assert (row.mode, row.link, row.mac_prefix, row.tags) == ("bridged", "prv0", "aa:00:1", "private-filtered")
    status, listed = api(token, "GET", "/networks/detail")
    assert status == 200 and [n["id"] for n in listed["networks"]] == [net["id"]]
    status, body = api(token, "PUT", f"/networks/{net['id']}", {"network": {"name": "renamed"}})
    assert status == 200 and body["network"]["name"] == "renamed"
    status, _ = api(token, "DELETE", f"/networks/{net['id']}")
    assert status == 204
    assert api(token, "GET", f"/networks/{net['id']}")[0] == 404
    # Its MAC prefix went back to the pool.
    assert pools.load("mac-prefix", pools.MacPrefixPoolTable.objects.get().id).is_available("aa:00:1")


def test_openstack_style_create_without_type_gets_the_default_flavor(api, alice, mac_pool):
    _, _, token = alice
    status, body = api(token, "POST", "/networks", {"network": {"name": "os", "admin_state_up": True}})
    assert status == 201 and body["network"]["type"] == "MAC_FILTERED"


@pytest.mark.parametrize("body, code", [
    ({"network": {"type": "PHYSICAL_VLAN"}}, 400),  # not enabled for users
    ({"network": {"type": "NOPE"}}, 400),
    ({"network": {"type": "MAC_FILTERED", "name": "x" * 200}}, 400),
    ({"network": "MAC_FILTERED"}, 400),
    ({}, 400),
    ({"network": {"type": "MAC_FILTERED", "project": "someone-else"}}, 403),
])
def test_bad_network_creates_change_nothing(api, alice, mac_pool, body, code):
    _, _, token = alice
    status, fault = api(token, "POST", "/networks", body)
    assert status == code and ("badRequest" in fault or "forbidden" in fault)
    assert not Network.objects.exists()


def test_without_a_mac_prefix_pool_mac_filtered_networks_are_unavailable(api, alice):
    _, _, token = alice
    status, fault = api(token, "POST", "/networks", {"network": {"type": "MAC_FILTERED"}})
    assert status == 503 and "pool" in fault["serviceUnavailable"]["message"]
    assert not Network.objects.exists()


def test_private_network_quota(api, alice, mac_pool):
    _, _, token = alice
    for i in range(2):  # the default limit of cyclades.network.private
        assert api(token, "POST", "/networks", {"network": {"type": "MAC_FILTERED", "name": f"n{i}"}})[0] == 201
    status, fault = api(token, "POST", "/networks", {"network": {"type": "MAC_FILTERED"}})
    assert status == 413 and "cyclades.network.private" in fault["overLimit"]["message"]
    assert Network.objects.count() == 2
    # Deleting one gives the quota back; the MAC prefix taken by the refused one was not kept.
    first = Network.objects.first()
    assert api(token, "DELETE", f"/networks/{first.id}")[0] == 204
    status, body = api(token, "POST", "/networks", {"network": {"type": "MAC_FILTERED"}})
    assert status == 201 and Network.objects.get(pk=body["network"]["id"]).mac_prefix == "aa:00:1"


def test_other_users_networks_are_invisible_and_public_ones_read_only(api, alice, make_user, mac_pool):
    _, _, token = alice
    _, _, bob_token = make_user("bob@example.org")
    net = api(token, "POST", "/networks", {"network": {"type": "MAC_FILTERED"}})[1]["network"]
    for method, body in (("GET", None), ("PUT", {"network": {"name": "mine"}}), ("DELETE", None)):
        assert api(bob_token, method, f"/networks/{net['id']}", body)[0] == 404
    assert api(bob_token, "GET", "/networks")[1]["networks"] == []
    status, _ = api(bob_token, "POST", "/subnets", {"subnet": {"network_id": net["id"], "cidr": "10.0.0.0/24"}})
    assert status == 404
    assert api(bob_token, "POST", "/ports", {"port": {"network_id": net["id"]}})[0] == 404
    public = Network.objects.create(name="pub", public=True, flavor="CUSTOM", mode="bridged", link="br0", mac_prefix="aa:00:0",
                                    state="ACTIVE")
    assert api(bob_token, "GET", f"/networks/{public.id}")[1]["network"]["user_id"] is None
    assert api(bob_token, "DELETE", f"/networks/{public.id}")[0] == 403
    assert api(bob_token, "POST", "/ports", {"port": {"network_id": str(public.id)}})[0] == 403
    assert not Network.objects.get(pk=public.id).deleted and Network.objects.get(pk=net["id"]).name == ""


def test_subnet_and_ports_take_addresses_from_the_pool(api, alice, mac_pool):
    _, _, token = alice
    net = api(token, "POST", "/networks", {"network": {"type": "MAC_FILTERED"}})[1]["network"]
    status, body = api(token, "POST", "/subnets", {"subnet": {"network_id": net["id"], "cidr": "10.0.0.0/29",
                                                              "ip_version": 4, "name": "s"}})
    assert status == 201, body
    subnet = body["subnet"]
    assert subnet["gateway_ip"] == "10.0.0.1" and subnet["allocation_pools"] == [{"start": "10.0.0.2", "end": "10.0.0.6"}]
    assert subnet["enable_dhcp"] is True
    assert api(token, "GET", f"/networks/{net['id']}")[1]["network"]["subnets"] == [subnet["id"]]
    got = []
    for _ in range(5):
        status, body = api(token, "POST", "/ports", {"port": {"network_id": net["id"], "name": "p"}})
        assert status == 201, body
        port = body["port"]
        assert port["mac_address"].startswith("aa:00:1") and len(port["mac_address"]) == 17
        got.append(port["fixed_ips"][0]["ip_address"])
    assert got == [f"10.0.0.{i}" for i in range(2, 7)]
    status, fault = api(token, "POST", "/ports", {"port": {"network_id": net["id"]}})
    assert status == 409 and "No more IP addresses" in fault["conflict"]["message"]
    assert NetworkInterface.objects.count() == 5
    # A network in use cannot be deleted; deleting a port frees its address for a fixed-IP port.
    status, fault = api(token, "DELETE", f"/networks/{net['id']}")
    assert status == 421 and "networkInUse" in fault
    first = NetworkInterface.objects.order_by("id").first()
    assert api(token, "DELETE", f"/ports/{first.id}")[0] == 204
    status, fault = api(token, "POST", "/ports", {"port": {"network_id": net["id"], "fixed_ips": [{"ip_address": "10.0.0.3"}]}})
    assert status == 409 and "in use" in fault["conflict"]["message"]
    status, body = api(token, "POST", "/ports", {"port": {"network_id": net["id"], "fixed_ips": [{"ip_address": "10.0.0.2"}]}})
    assert status == 201 and body["port"]["fixed_ips"][0]["ip_address"] == "10.0.0.2"
    assert len(api(token, "GET", "/ports")[1]["ports"]) == 5
    for port in NetworkInterface.objects.all():
        assert api(token, "DELETE", f"/ports/{port.id}")[0] == 204
    assert not IPAddress.objects.exists()
    assert api(token, "DELETE", f"/networks/{net['id']}")[0] == 204


@pytest.mark.parametrize("subnet, code", [
    ({"cidr": "10.0.0.0/16"}, 413),  # larger than MAX_CIDR_BLOCK
    ({"cidr": "10.0.0.0/30"}, 413),
    ({"cidr": "10.0.0.5/24"}, 400),  # host bits
    ({"cidr": "nonsense"}, 400),
    ({"cidr": "10.0.0.0/24", "ip_version": 6}, 400),
    ({"cidr": "10.0.0.0/24", "gateway_ip": "10.0.1.1"}, 400),
    ({"cidr": "10.0.0.0/24", "allocation_pools": [{"start": "10.0.0.50", "end": "10.0.0.10"}]}, 400),
    ({"cidr": "10.0.0.0/24", "allocation_pools": [{"start": "10.0.0.2", "end": "10.0.0.50"},
                                                  {"start": "10.0.0.40", "end": "10.0.0.60"}]}, 400),
    ({"cidr": "10.0.0.0/24", "enable_dhcp": "yes"}, 400),
    ({"cidr": "2001:db8::/48", "ip_version": 6}, 400),
    ({}, 400),
])
def test_bad_subnets_are_refused_and_nothing_is_created(api, alice, mac_pool, subnet, code):
    _, _, token = alice
    net = api(token, "POST", "/networks", {"network": {"type": "MAC_FILTERED"}})[1]["network"]
    status, fault = api(token, "POST", "/subnets", {"subnet": {"network_id": net["id"], **subnet}})
    assert status == code, fault
    assert not Subnet.objects.exists() and not IPPoolTable.objects.exists()


def test_one_subnet_per_ip_version(api, alice, mac_pool):
    _, _, token = alice
    net = api(token, "POST", "/networks", {"network": {"type": "MAC_FILTERED"}})[1]["network"]
    base = {"network_id": net["id"]}
    assert api(token, "POST", "/subnets", {"subnet": {**base, "cidr": "10.0.0.0/24", "gateway_ip": None}})[0] == 201
    assert api(token, "POST", "/subnets", {"subnet": {**base, "cidr": "10.0.1.0/24"}})[0] == 400
    status, body = api(token, "POST", "/subnets", {"subnet": {**base, "cidr": "2001:db8::/64", "ip_version": 6}})
    assert status == 201 and body["subnet"]["enable_slaac"] is True
    assert Subnet.objects.count() == 2
    v4 = Subnet.objects.get(ipversion=4)
    assert v4.gateway is None and pools.load("ip", v4.ip_pools.get().id).count_available() == 254
    assert api(token, "DELETE", f"/subnets/{v4.id}")[0] == 400


# -- commands -------------------------------------------------------------------------------

def test_network_create_flavors_map_to_ganeti_parameters(alice, mac_pool):
    user, _, _ = alice
    run("pool-create", "--type=bridge", "--base=prv", "--size=2")
    run("network-create", "--flavor=PHYSICAL_VLAN", f"--user={user.email}", "--name=vlan")
    run("network-create", "--flavor=CUSTOM", f"--user={user.email}", "--link=br7", "--mode=routed", "--tags=a,b")
    run("network-create", "--flavor=IP_LESS_ROUTED", f"--user={user.email}", "--link=snf-link-1")
    found = {n.flavor: (n.mode, n.link, n.mac_prefix, n.tags) for n in Network.objects.all()}
    assert found == {"PHYSICAL_VLAN": ("bridged", "prv1", "aa:00:0", "physical-vlan"),
                     "CUSTOM": ("routed", "br7", "aa:00:0", "a,b"),
                     "IP_LESS_ROUTED": ("routed", "snf-link-1", "aa:00:0", "ip-less-routed")}
    with pytest.raises(CommandError, match="already used"):
        run("network-create", "--flavor=IP_LESS_ROUTED", f"--user={user.email}", "--link=snf-link-1")
    with pytest.raises(CommandError, match="comes from the bridge pool"):
        run("network-create", "--flavor=PHYSICAL_VLAN", f"--user={user.email}", "--link=prv9")
    with pytest.raises(CommandError, match="comes from the MAC-prefix pool"):
        run("network-create", "--flavor=MAC_FILTERED", f"--user={user.email}", "--mac-prefix=aa:00:5")
    assert Network.objects.count() == 3


def test_exhausted_bridge_pool_creates_nothing(alice, make_user):
    user, _, _ = alice
    run("pool-create", "--type=bridge", "--base=prv", "--size=1")
    run("network-create", "--flavor=PHYSICAL_VLAN", f"--user={user.email}")
    with pytest.raises(CommandError, match="No bridge is free"):
        run("network-create", "--flavor=PHYSICAL_VLAN", f"--user={user.email}", "--subnet=10.0.0.0/24")
    assert Network.objects.count() == 1 and not Subnet.objects.exists()
    assert pools.load("bridge", BridgePoolTable.objects.get().id).count_available() == 0


def test_network_create_list_show_remove(alice):
    user, _, _ = alice
    out = run("network-create", "--flavor=CUSTOM", f"--user={user.email}", "--name=lab", "--subnet=192.168.10.0/24",
              "--gateway=192.168.10.254", "--allocation-pool=192.168.10.10,192.168.10.20",
              "--subnet6=2001:db8:1::/64", "--dhcp=False")
    network = Network.objects.get()
    assert f"snf-net-{network.id}" in out
    sub4 = network.subnets.get(ipversion=4)
    assert (sub4.gateway, sub4.dhcp) == ("192.168.10.254", False)
    listed = run("network-list", "--output-format=json")
    assert json.loads(listed)[0]["subnet"] == "192.168.10.0/24"
    shown = run("network-show", str(network.id))
    assert "192.168.10.10-192.168.10.20" in shown and "2001:db8:1::/64" in shown
    run("network-remove", str(network.id))
    assert Network.objects.get().deleted
    assert "lab" not in run("network-list") and "lab" in run("network-list", "-d")
    with pytest.raises(CommandError, match="already deleted"):
        run("network-remove", str(network.id))


@pytest.mark.parametrize("args, message", [
    (("--flavor=CUSTOM",), "needs --user"),
    (("--flavor=CUSTOM", "--public"), "needs --backend-id"),
    (("--flavor=CUSTOM", "--user=alice@example.org", "--gateway=10.0.0.1"), "need --subnet"),
    (("--flavor=CUSTOM", "--user=alice@example.org", "--subnet=10.0.0.0/8"), "Unsupported network size"),
    (("--flavor=CUSTOM", "--user=alice@example.org", "--mac-prefix=ab:00:0"), "MAC prefix"),
    (("--flavor=CUSTOM", "--user=alice@example.org", "--link=a b"), "Invalid link"),
    (("--flavor=CUSTOM", "--user=alice@example.org", "--subnet=10.0.0.0/24", "--allocation-pool=10.0.0.9"), "START,END"),
])
def test_network_create_refuses_bad_input(alice, args, message):
    with pytest.raises(CommandError, match=message):
        run("network-create", *args)
    assert not Network.objects.exists()


# -- floating IPs ----------------------------------------------------------------------------

def _floating_pool():
    network = Network.objects.create(name="internet", public=True, flavor="CUSTOM", mode="bridged", link="br0",
                                     mac_prefix="aa:00:0", state="ACTIVE", floating_ip_pool=True)
    from synnefo.cyclades.logic import networks

    networks.create_subnet(network, "203.0.113.0/29")
    return network


def test_floating_ips_quota_ports_and_release(api, alice, make_user):
    from synnefo.astakos.quotaholder.logic import user_quotas

    user, _, token = alice
    _, _, bob_token = make_user("bob@example.org")
    network = _floating_pool()

    def usage():
        quotas = user_quotas([str(user.uuid)], "cyclades")[str(user.uuid)]
        return sum(h["usage"] for q in quotas.values() for r, h in q.items() if r == "cyclades.floating_ip")

    status, body = api(token, "POST", "/floatingips", {"floatingip": {"floating_network_id": str(network.id)}})
    assert status == 201, body
    ip = body["floatingip"]
    assert ip["floating_ip_address"] == "203.0.113.2" and ip["port_id"] is None and usage() == 1
    status, body = api(token, "POST", "/floatingips", {"floatingip": {"floating_network_id": str(network.id),
                                                                      "floating_ip_address": "203.0.113.5"}})
    assert status == 201 and usage() == 2
    # The default limit is 2; the address of a refused allocation is not kept.
    status, fault = api(token, "POST", "/floatingips", {"floatingip": {"floating_network_id": str(network.id)}})
    assert status == 413 and IPAddress.objects.count() == 2
    assert [i["floating_ip_address"] for i in api(token, "GET", "/floatingips")[1]["floatingips"]] == ["203.0.113.2", "203.0.113.5"]
    assert api(bob_token, "GET", "/floatingips")[1]["floatingips"] == []
    assert api(bob_token, "DELETE", f"/floatingips/{ip['id']}")[0] == 404
    # A port on the public network takes one of the user's floating IPs.
    status, body = api(token, "POST", "/ports", {"port": {"network_id": str(network.id),
                                                          "fixed_ips": [{"ip_address": "203.0.113.5"}]}})
    assert status == 201 and body["port"]["fixed_ips"][0]["ip_address"] == "203.0.113.5"
    port_id = body["port"]["id"]
    assert api(bob_token, "POST", "/ports", {"port": {"network_id": str(network.id)}})[0] == 403
    attached = [i for i in api(token, "GET", "/floatingips")[1]["floatingips"] if i["port_id"]]
    assert [(i["floating_ip_address"], i["port_id"]) for i in attached] == [("203.0.113.5", port_id)]
    assert api(token, "DELETE", f"/floatingips/{attached[0]['id']}")[0] == 409
    assert api(token, "DELETE", f"/ports/{port_id}")[0] == 204
    assert IPAddress.objects.filter(address="203.0.113.5", nic__isnull=True).exists()  # kept, detached
    for item in api(token, "GET", "/floatingips")[1]["floatingips"]:
        assert api(token, "DELETE", f"/floatingips/{item['id']}")[0] == 204
    assert usage() == 0 and not IPAddress.objects.exists()
    assert pools.load("ip", IPPoolTable.objects.get().id).count_available() == 5


@pytest.mark.parametrize("body, code", [
    ({"floatingip": {}}, 400),
    ({"floatingip": {"floating_network_id": "999"}}, 404),
    ({"floatingip": {"floating_network_id": "PRIVATE"}}, 400),
    ({"floatingip": {"floating_network_id": "POOL", "floating_ip_address": "203.0.113.1"}}, 400),  # the gateway
    ({"floatingip": {"floating_network_id": "POOL", "floating_ip_address": "198.51.100.7"}}, 400),
    ({"floatingip": {"floating_network_id": "POOL", "project": "someone-else"}}, 403),
])
def test_bad_floating_ip_requests_change_nothing(api, alice, mac_pool, body, code):
    _, _, token = alice
    pool = _floating_pool()
    private = api(token, "POST", "/networks", {"network": {"type": "MAC_FILTERED"}})[1]["network"]["id"]
    spec = body["floatingip"]
    if spec.get("floating_network_id") == "POOL":
        spec["floating_network_id"] = str(pool.id)
    elif spec.get("floating_network_id") == "PRIVATE":
        spec["floating_network_id"] = private
    status, _ = api(token, "POST", "/floatingips", body)
    assert status == code
    assert not IPAddress.objects.exists()


def test_public_subnets_must_not_overlap(alice):
    from synnefo.cyclades.models import Backend

    backend = Backend.objects.create(clustername="offline", host="simulated", offline=True)
    run("network-create", "--public", "--flavor=CUSTOM", "--subnet=203.0.113.0/24", f"--backend-id={backend.id}")
    with pytest.raises(CommandError, match="overlaps 203.0.113.0/24"):
        run("network-create", "--public", "--flavor=CUSTOM", "--subnet=203.0.113.128/25", f"--backend-id={backend.id}")
    # Private networks are isolated: they may reuse the addresses.
    user, _, _ = alice
    run("network-create", "--flavor=CUSTOM", f"--user={user.email}", "--subnet=203.0.113.0/24")
    assert Network.objects.count() == 2 and Network.objects.filter(public=True, userid__isnull=True).count() == 1


def test_reconcile_pools_finds_and_fixes_drift(alice, mac_pool):
    user, _, _ = alice
    run("pool-create", "--type=bridge", "--base=prv", "--size=5")
    run("network-create", "--flavor=PHYSICAL_VLAN", f"--user={user.email}", "--subnet=10.0.0.0/29")
    run("network-create", "--flavor=MAC_FILTERED", f"--user={user.email}")
    assert run("reconcile-pools") == "Pools are in sync\n"
    vlan = Network.objects.get(flavor="PHYSICAL_VLAN")
    ip_pool = vlan.subnets.get().ip_pools.get()
    with pools.locked("bridge") as pool:
        pool.get("prv4")  # leaked: nobody uses it
    with pools.locked("ip", ip_pool.id) as pool:
        pool.get("10.0.0.3")
    IPAddress.objects.create(network=vlan, subnet=vlan.subnets.get(), userid=vlan.userid, address="10.0.0.5")
    Network.objects.filter(flavor="MAC_FILTERED").update(mac_prefix="aa:00:1")  # unchanged: fine
    out = run("reconcile-pools")
    assert "bridge pool" in out and "allocated but unused: prv4" in out
    assert "allocated but unused: 10.0.0.3" in out and "in use but free in the pool: 10.0.0.5" in out
    assert "report only" in out
    assert pools.load("bridge", BridgePoolTable.objects.get().id).is_available("prv4") is False
    out = run("reconcile-pools", "--fix")
    assert out.count("FIXED") == 2
    assert pools.load("bridge", BridgePoolTable.objects.get().id).is_available("prv4")
    ip = pools.load("ip", ip_pool.id)
    assert ip.is_available("10.0.0.3") and not ip.is_available("10.0.0.5")
    assert run("reconcile-pools") == "Pools are in sync\n"
    # Duplicates are reported, not fixed.
    Network.objects.create(name="dup", userid=vlan.userid, flavor="PHYSICAL_VLAN", mode="bridged", link=vlan.link,
                           mac_prefix="aa:00:0", state="ACTIVE")
    assert f"link {vlan.link} is used by networks" in run("reconcile-pools")
