"""Networks on REAL Ganeti (the sandbox cluster) with the real update path: the API creates a
private network, snf-ganeti-eventd publishes the add's events, the dispatcher connects it to
the node group and makes it ACTIVE; deleting it disconnects and removes it from Ganeti."""

import io
import ipaddress
import json
import uuid

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from synnefo.cyclades.ganeti.rapi import GanetiApiError
from synnefo.cyclades.logic.backends import create_backend
from synnefo.cyclades.models import (BackendNetwork, Flavor, IPAddress, Network, NetworkInterface, Subnet, VirtualMachine,
                                     VolumeType)
from tests.compute_helpers import register_image
from tests.pithos_helpers import Store, small_blocks  # noqa: F401
from tests.test_cyclades_ganeti_e2e import dispatch_until, eventd, ganeti  # noqa: F401

N = "/cyclades/network/v2.0"
C = "/cyclades/compute/v2.0"


def _setup(ganeti, client, token):  # noqa: F811
    call_command("pool-create", "--type=mac-prefix", "--base=aa:00:0", "--size=65536", stdout=None)
    backend = create_backend(ganeti["GANETI_CLUSTER_NAME"], int(ganeti["GANETI_RAPI_PORT"]), ganeti["GANETI_RAPI_USER"],
                             ganeti["GANETI_RAPI_PASSWORD"], host=ganeti["GANETI_RAPI_HOST"], ca_file=ganeti["GANETI_RAPI_CA"])

    def call(method, path, body=None, api=N):
        r = client.generic(method, api + path, data=json.dumps(body) if body is not None else b"",
                           content_type="application/json", HTTP_X_AUTH_TOKEN=token)
        return r.status_code, (r.json() if r.content else None)

    return backend, backend.get_client(), call


def _for_servers(backend, client, user, token):
    """The backend takes servers; an image of the user and a small flavor the sandbox can run."""
    backend.drained = False
    backend.save()
    image_id = register_image(client, Store(client, user, token), osfamily="linux")
    template = "file" if "file" in backend.disk_templates else "diskless"
    volume_type = VolumeType.objects.create(name="net", disk_template=template)
    return image_id, Flavor.objects.create(cpu=1, ram=128, disk=1, volume_type=volume_type)


def _cleanup(rapi, name, servers=()):
    """Leave the sandbox clean whatever failed: the servers' instances, then the network."""
    for vm in servers:
        try:
            rapi.wait_for_job(rapi.delete_instance(vm.backend_vm_id, shutdown_timeout=0), raise_on_error=False)
        except GanetiApiError:
            pass
    try:
        info = rapi.get_network(name)
    except GanetiApiError:
        return
    for group in info.get("group_list") or []:
        rapi.wait_for_job(rapi.disconnect_network(name, group[0]), timeout=60, raise_on_error=False)
    rapi.wait_for_job(rapi.delete_network(name), timeout=60, raise_on_error=False)


def _await_operstate(row, wanted: str, log_file) -> None:
    """Dispatch until the backend network ``row`` is ``wanted`` (or ERROR), and require ``wanted``."""
    dispatch_until(lambda: BackendNetwork.objects.get(pk=row.pk).operstate in (wanted, "ERROR"), 90)
    row.refresh_from_db()
    assert row.operstate == wanted, (row.backendlogmsg, log_file.read_text()[-3000:])


def _await_started(vm, log_file) -> None:
    """Dispatch until the server ``vm`` is STARTED (or ERROR), and require STARTED."""
    dispatch_until(lambda: VirtualMachine.objects.get(pk=vm.pk).operstate in ("STARTED", "ERROR"), 120)
    vm.refresh_from_db()
    assert vm.operstate == "STARTED", (vm.backendlogmsg, log_file.read_text()[-3000:])


def _remove_network(rapi, network, row, log_file) -> None:
    """network-remove, then Ganeti has it no more."""
    call_command("network-remove", str(network.id), stdout=io.StringIO())
    _await_operstate(row, "DELETED", log_file)
    with pytest.raises(GanetiApiError):
        rapi.get_network(network.backend_id)


def _cidr():
    return f"10.{uuid.uuid4().int % 200 + 20}.{uuid.uuid4().int % 250}.0/24"


@pytest.mark.django_db(transaction=True)
def test_private_network_on_real_ganeti(ganeti, eventd, client, make_user):  # noqa: F811
    _, log_file = eventd
    _, _, token = make_user("net-user@example.org")
    backend, rapi, call = _setup(ganeti, client, token)

    def row():
        return BackendNetwork.objects.get(network_id=net_id, backend=backend)

    # The sandbox has one bridge: MAC_FILTERED networks share it.
    with override_settings(DEFAULT_MAC_FILTERED_BRIDGE=ganeti.get("GANETI_BRIDGE", "gntbr0")):
        status, body = call("POST", "/networks", {"network": {"type": "MAC_FILTERED", "name": "real"}})
    assert status == 201, body
    net_id = body["network"]["id"]
    name = Network.objects.get(pk=net_id).backend_id
    cidr = _cidr()
    try:
        status, body = call("POST", "/subnets", {"subnet": {"network_id": net_id, "cidr": cidr}})
        assert status == 201, body
        dispatch_until(lambda: row().operstate in ("ACTIVE", "ERROR"), 90)
        assert row().operstate == "ACTIVE", (row().backendlogmsg, log_file.read_text()[-3000:])
        info = rapi.get_network(name)
        assert info["network"] == cidr and info["mac_prefix"] == row().mac_prefix
        assert [g[0] for g in info["group_list"]] == ["default"]
        assert "private" in info["tags"] and "private-filtered" in info["tags"]
        assert call("GET", f"/networks/{net_id}")[1]["network"]["status"] == "ACTIVE"
        # Removed behind our back (as gnt-network disconnect + remove would): reconcile-networks
        # finds it missing and creates it again through the update path.
        _cleanup(rapi, name)
        out = io.StringIO()
        call_command("reconcile-networks", f"--backend-id={backend.id}", stdout=out)
        assert "absent from Ganeti" in out.getvalue()
        call_command("reconcile-networks", f"--backend-id={backend.id}", "--fix-all", stdout=out)
        assert "created again" in out.getvalue()
        dispatch_until(lambda: row().backendopcode == "OP_NETWORK_CONNECT" and row().backendjobstatus == "success", 90)
        assert row().operstate == "ACTIVE" and [g[0] for g in rapi.get_network(name)["group_list"]] == ["default"]
        assert call("DELETE", f"/networks/{net_id}")[0] == 204
        dispatch_until(lambda: row().operstate in ("DELETED", "ERROR"), 90)
        assert row().operstate == "DELETED", (row().backendlogmsg, log_file.read_text()[-3000:])
        assert Network.objects.get(pk=net_id).state == "DELETED"
        with pytest.raises(GanetiApiError):
            rapi.get_network(name)
    finally:
        _cleanup(rapi, name)


@pytest.mark.django_db(transaction=True)
def test_two_servers_on_a_private_network_on_real_ganeti(ganeti, eventd, client, make_user, small_blocks):  # noqa: F811
    _, log_file = eventd
    user, _, token = make_user("net-servers@example.org")
    backend, rapi, call = _setup(ganeti, client, token)
    image_id, flavor = _for_servers(backend, client, user, token)
    with override_settings(DEFAULT_MAC_FILTERED_BRIDGE=ganeti.get("GANETI_BRIDGE", "gntbr0")):
        net_id = call("POST", "/networks", {"network": {"type": "MAC_FILTERED", "name": "lan"}})[1]["network"]["id"]
    name = Network.objects.get(pk=net_id).backend_id
    servers = []
    try:
        assert call("POST", "/subnets", {"subnet": {"network_id": net_id, "cidr": _cidr()}})[0] == 201
        row = BackendNetwork.objects.get(network_id=net_id)
        dispatch_until(lambda: BackendNetwork.objects.get(pk=row.pk).operstate in ("ACTIVE", "ERROR"), 90)
        for server_name in ("one", "two"):
            status, body = call("POST", "/servers", {"server": {"name": server_name, "imageRef": image_id, "flavorRef": flavor.id,
                                                                 "networks": [{"uuid": net_id}]}}, api=C)
            assert status == 202, body
            servers.append(VirtualMachine.objects.get(pk=body["server"]["id"]))
        dispatch_until(lambda: all(VirtualMachine.objects.get(pk=vm.pk).operstate in ("STARTED", "ERROR") for vm in servers), 120)
        for vm in servers:
            vm.refresh_from_db()
            assert vm.operstate == "STARTED", (vm.backendlogmsg, log_file.read_text()[-3000:])
            port = NetworkInterface.objects.get(machine=vm)
            address = IPAddress.objects.get(nic=port).address
            instance = rapi.get_instance(vm.backend_vm_id)
            assert instance["nic.ips"] == [address] and instance["nic.macs"] == [port.mac]
            assert instance["nic.networks.names"] == [name] and port.state == "ACTIVE"
        assert sorted(rapi.get_network(name)["inst_list"]) == sorted(vm.backend_vm_id for vm in servers)
        # Connect the first server once more (a NIC add job), then disconnect that port.
        status, body = call("POST", "/ports", {"port": {"network_id": net_id, "device_id": str(servers[0].id)}})
        assert status == 201, body
        extra = body["port"]["id"]
        dispatch_until(lambda: VirtualMachine.objects.get(pk=servers[0].pk).task is None, 120)
        assert NetworkInterface.objects.get(pk=extra).state == "ACTIVE", servers[0].backendlogmsg
        instance = rapi.get_instance(servers[0].backend_vm_id)
        assert f"{servers[0].backend_vm_id.split('-')[0]}-nic-{extra}" in instance["nic.names"]
        assert call("DELETE", f"/ports/{extra}")[0] == 204
        dispatch_until(lambda: not NetworkInterface.objects.filter(pk=extra).exists(), 120)
        assert len(rapi.get_instance(servers[0].backend_vm_id)["nic.names"]) == 1
        assert call("DELETE", f"/networks/{net_id}")[0] == 421
        for vm in servers:
            assert call("DELETE", f"/servers/{vm.id}", api=C)[0] == 204
        dispatch_until(lambda: not NetworkInterface.objects.exists(), 120)
        assert not IPAddress.objects.exists()
        assert call("DELETE", f"/networks/{net_id}")[0] == 204
        dispatch_until(lambda: Network.objects.get(pk=net_id).state == "DELETED", 90)
        assert Network.objects.get(pk=net_id).state == "DELETED"
    finally:
        _cleanup(rapi, name, servers)


@pytest.mark.django_db(transaction=True)
def test_public_network_with_ip_pool_on_real_ganeti(ganeti, eventd, client, make_user, small_blocks):  # noqa: F811
    """`snf-manage network-create --public --backend-id` with an IP pool: a server joining it (with
    the user's floating IP) gets a pool address and a MAC of the network's prefix, as Ganeti shows;
    disconnecting and removing go through Ganeti too."""
    _, log_file = eventd
    user, _, token = make_user("net-public@example.org")
    backend, rapi, call = _setup(ganeti, client, token)
    image_id, flavor = _for_servers(backend, client, user, token)
    cidr = _cidr()
    net = ipaddress.ip_network(cidr)
    first, last = net.network_address + 10, net.network_address + 12
    out = io.StringIO()
    call_command("network-create", "--public", "--flavor=CUSTOM", f"--link={ganeti['GANETI_NIC_LINK']}",
                 f"--name=pub-{uuid.uuid4().hex[:6]}", f"--subnet={cidr}", f"--allocation-pool={first},{last}",
                 "--floating-ip-pool=True", f"--backend-id={backend.id}", stdout=out)
    network = Network.objects.get(pk=int(out.getvalue().split()[2]))
    name = network.backend_id
    row = BackendNetwork.objects.get(network=network, backend=backend)
    vm = None
    try:
        _await_operstate(row, "ACTIVE", log_file)
        info = rapi.get_network(name)
        assert info["network"] == cidr and info["gateway"] == str(net.network_address + 1)
        assert info["mac_prefix"] == row.mac_prefix == f"{network.mac_prefix}{backend.id % 16:x}"
        assert "public" in info["tags"] and [g[0] for g in info["group_list"]] == ["default"]
        # An address reserved by the administrator: in the pool and in Ganeti (OP_NETWORK_SET_PARAMS).
        reserved = str(first + 1)
        call_command("network-modify", str(network.id), f"--add-reserved-ips={reserved}", stdout=io.StringIO())
        dispatch_until(lambda: BackendNetwork.objects.get(pk=row.pk).backendopcode == "OP_NETWORK_SET_PARAMS"
                       and BackendNetwork.objects.get(pk=row.pk).backendjobstatus in ("success", "error"), 90)
        row.refresh_from_db()
        assert row.backendjobstatus == "success" and row.operstate == "ACTIVE", row.backendlogmsg
        assert reserved in rapi.get_network(name)["external_reservations"]
        # The user takes a floating IP from the pool (its first address) and the server uses it.
        status, body = call("POST", "/floatingips", {"floatingip": {"floating_network_id": str(network.id)}})
        assert status == 201, body
        address = body["floatingip"]["floating_ip_address"]
        assert address == str(first)
        status, body = call("POST", "/servers", {"server": {"name": "pub", "imageRef": image_id, "flavorRef": flavor.id,
                                                            "networks": [{"uuid": str(network.id)}]}}, api=C)
        assert status == 202, body
        vm = VirtualMachine.objects.get(pk=body["server"]["id"])
        _await_started(vm, log_file)
        port = NetworkInterface.objects.get(machine=vm)
        instance = rapi.get_instance(vm.backend_vm_id)
        assert instance["nic.ips"] == [address] and instance["nic.macs"] == [port.mac]
        assert port.mac.replace(":", "").startswith(network.mac_prefix.replace(":", ""))
        assert instance["nic.networks.names"] == [name] and instance["nic.links"] == [ganeti["GANETI_NIC_LINK"]]
        assert rapi.get_network(name)["inst_list"] == [vm.backend_vm_id]
        addresses = call("GET", f"/servers/{vm.id}", api=C)[1]["server"]["addresses"]
        assert addresses[str(network.id)][0]["addr"] == address and addresses[str(network.id)][0]["OS-EXT-IPS:type"] == "floating"
        # Ganeti's instance policy keeps at least one NIC: removing the only one fails, with
        # Ganeti's reason on the server, and the port stays.
        assert call("DELETE", f"/ports/{port.id}")[0] == 204
        dispatch_until(lambda: VirtualMachine.objects.get(pk=vm.pk).task is None, 120)
        vm.refresh_from_db()
        assert NetworkInterface.objects.get(pk=port.pk).state == "ACTIVE" and "nic-count" in vm.backendlogmsg
        # A second NIC (the second floating IP, from the pool), then the first one disconnected:
        # it goes from Ganeti and the user keeps its floating IP, detached.
        second = call("POST", "/floatingips", {"floatingip": {"floating_network_id": str(network.id)}})[1]["floatingip"]
        assert second["floating_ip_address"] == str(last)  # the reserved one is skipped
        status, body = call("POST", "/ports", {"port": {"network_id": str(network.id), "device_id": str(vm.id),
                                                        "fixed_ips": [{"ip_address": second["floating_ip_address"]}]}})
        assert status == 201, body
        dispatch_until(lambda: VirtualMachine.objects.get(pk=vm.pk).task is None, 120)
        assert NetworkInterface.objects.get(pk=body["port"]["id"]).state == "ACTIVE", vm.backendlogmsg
        assert rapi.get_instance(vm.backend_vm_id)["nic.ips"] == [address, second["floating_ip_address"]]
        assert call("DELETE", f"/ports/{port.id}")[0] == 204
        dispatch_until(lambda: VirtualMachine.objects.get(pk=vm.pk).task is None, 120)
        vm.refresh_from_db()
        assert not NetworkInterface.objects.filter(pk=port.pk).exists(), vm.backendlogmsg
        assert rapi.get_instance(vm.backend_vm_id)["nic.ips"] == [second["floating_ip_address"]]
        ip = IPAddress.objects.get(address=address, network=network)
        assert ip.nic is None and ip.floating_ip
        assert call("DELETE", f"/servers/{vm.id}", api=C)[0] == 204
        dispatch_until(lambda: VirtualMachine.objects.get(pk=vm.pk).deleted, 120)
        with pytest.raises(CommandError, match="in use"):
            call_command("network-remove", str(network.id), stdout=io.StringIO())
        for fip in IPAddress.objects.filter(network=network):
            assert call("DELETE", f"/floatingips/{fip.id}")[0] == 204
        _remove_network(rapi, network, row, log_file)
    finally:
        _cleanup(rapi, name, [vm] if vm is not None else [])


@pytest.mark.django_db(transaction=True)
def test_ipv6_only_network_on_real_ganeti(ganeti, eventd, client, make_user, small_blocks):  # noqa: F811
    """Ganeti networks need an IPv4 range: an IPv6-only network gets the placeholder one, is
    connected without the IPv4 conflicts check; a server joins it without floating IP, its NIC
    without IPv4 address and its port with the EUI-64 address of Ganeti's MAC; all is removed."""
    from synnefo.cyclades.logic import ports

    _, log_file = eventd
    user, _, token = make_user("net-v6@example.org")
    backend, rapi, call = _setup(ganeti, client, token)
    image_id, flavor = _for_servers(backend, client, user, token)
    cidr6 = f"2001:db8:{uuid.uuid4().int % 0xffff:x}::/64"
    out = io.StringIO()
    call_command("network-create", "--public", "--flavor=CUSTOM", f"--link={ganeti['GANETI_NIC_LINK']}",
                 f"--name=v6-{uuid.uuid4().hex[:6]}", f"--subnet6={cidr6}", f"--backend-id={backend.id}", stdout=out)
    network = Network.objects.get(pk=int(out.getvalue().split()[2]))
    name = network.backend_id
    row = BackendNetwork.objects.get(network=network)
    vm = None
    try:
        _await_operstate(row, "ACTIVE", log_file)
        info = rapi.get_network(name)
        assert info["network"] == "10.0.0.0/29" and info["network6"] == cidr6
        assert [g[0] for g in info["group_list"]] == ["default"]
        status, body = call("POST", "/servers", {"server": {"name": "v6", "imageRef": image_id, "flavorRef": flavor.id,
                                                            "networks": [{"uuid": str(network.id)}]}}, api=C)
        assert status == 202, body
        vm = VirtualMachine.objects.get(pk=body["server"]["id"])
        _await_started(vm, log_file)
        instance = rapi.get_instance(vm.backend_vm_id)
        port = NetworkInterface.objects.get(machine=vm)
        assert instance["nic.networks.names"] == [name] and instance["nic.ips"] == [None]
        assert instance["nic.macs"] == [port.mac]
        assert [ip.address for ip in port.ips.all()] == [ports.eui64(cidr6, instance["nic.macs"][0])]
        assert call("DELETE", f"/servers/{vm.id}", api=C)[0] == 204
        dispatch_until(lambda: VirtualMachine.objects.get(pk=vm.pk).deleted, 120)
        assert not IPAddress.objects.filter(network=network).exists()
        _remove_network(rapi, network, row, log_file)
    finally:
        _cleanup(rapi, name, [vm] if vm is not None else [])


@pytest.mark.django_db(transaction=True)
def test_a_nic_added_in_ganeti_is_adopted(ganeti, eventd, client, make_user, small_blocks):  # noqa: F811
    """`gnt-instance modify --net add:network=...,ip=...` done by hand: eventd's instance_nics
    bring the NIC, the dispatcher adopts it as a port with its address reserved in the pool and
    renames it in Ganeti; reconcile-servers then finds nothing to say about the server's NICs."""
    from synnefo.cyclades.logic import pools, reconciliation

    _, log_file = eventd
    user, _, token = make_user("net-adopt@example.org")
    backend, rapi, call = _setup(ganeti, client, token)
    image_id, flavor = _for_servers(backend, client, user, token)
    with override_settings(DEFAULT_MAC_FILTERED_BRIDGE=ganeti.get("GANETI_BRIDGE", "gntbr0")):
        net_id = call("POST", "/networks", {"network": {"type": "MAC_FILTERED", "name": "adopt"}})[1]["network"]["id"]
    name = Network.objects.get(pk=net_id).backend_id
    cidr = _cidr()
    vm = None
    try:
        assert call("POST", "/subnets", {"subnet": {"network_id": net_id, "cidr": cidr}})[0] == 201
        dispatch_until(lambda: BackendNetwork.objects.get(network_id=net_id).operstate in ("ACTIVE", "ERROR"), 90)
        status, body = call("POST", "/servers", {"server": {"name": "adopt", "imageRef": image_id, "flavorRef": flavor.id,
                                                            "networks": [{"uuid": net_id}]}}, api=C)
        assert status == 202, body
        vm = VirtualMachine.objects.get(pk=body["server"]["id"])
        _await_started(vm, log_file)
        address = str(ipaddress.ip_network(cidr).network_address + 20)
        job = rapi.modify_instance(vm.backend_vm_id, nics=[["add", -1, {"network": name, "ip": address}]])
        rapi.wait_for_job(job, timeout=60)
        dispatch_until(lambda: NetworkInterface.objects.filter(machine=vm).count() == 2
                       and len(set(rapi.get_instance(vm.backend_vm_id)["nic.names"]) - {None}) == 2, 120)
        adopted = NetworkInterface.objects.filter(machine=vm).order_by("id").last()
        instance = rapi.get_instance(vm.backend_vm_id)
        assert instance["nic.names"][1] == f"{vm.backend_vm_id.split('-')[0]}-nic-{adopted.id}"
        assert adopted.mac == instance["nic.macs"][1] and adopted.state == "ACTIVE" and adopted.index == 1
        assert adopted.ips.get().address == address
        sub4 = Subnet.objects.get(network_id=net_id, ipversion=4)
        assert not pools.load("ip", sub4.ip_pools.get().id).is_available(address)
        dispatch_until(lambda: VirtualMachine.objects.get(pk=vm.pk).backendjobstatus == "success", 30)
        # A firewall profile: Ganeti instance tags (the add job's event settles the task).
        status, body = call("POST", f"/servers/{vm.id}/action", {"firewallProfile": {"profile": "ENABLED", "nic": adopted.id}},
                            api=C)
        assert status == 202, body
        dispatch_until(lambda: VirtualMachine.objects.get(pk=vm.pk).task is None, 60)
        tag = f"synnefo:network:{instance['nic.names'][1]}:protected"
        assert tag in rapi.get_instance_tags(vm.backend_vm_id)
        assert NetworkInterface.objects.get(pk=adopted.pk).firewall_profile == "ENABLED"
        report = reconciliation.reconcile_backend(backend)  # report only: the sandbox is shared
        assert not [f for f in report.findings if f.server == vm.id], [f.detail for f in report.findings if f.server == vm.id]
        assert call("DELETE", f"/servers/{vm.id}", api=C)[0] == 204
        dispatch_until(lambda: VirtualMachine.objects.get(pk=vm.pk).deleted, 120)
        assert not IPAddress.objects.filter(network_id=net_id).exists()
        assert pools.load("ip", sub4.ip_pools.get().id).is_available(address)
    finally:
        _cleanup(rapi, name, [vm] if vm is not None else [])
