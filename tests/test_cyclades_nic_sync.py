"""A server's NICs as Ganeti has them (simulated backend, whose events carry instance_nics as
eventd's do; real callbacks): NICs made outside Cyclades (gnt-instance modify --net add) are
adopted as ports with their addresses reserved in the pool; ports take Ganeti's MAC, address and
index; reconcile-servers reports the NIC drift (changes made without events) and fixes it
through the same sync."""

import io

import pytest
from django.core.management import CommandError, call_command

from synnefo.cyclades.ganeti import simulated
from synnefo.cyclades.logic import pools, ports, server_nics
from synnefo.cyclades.models import IPAddress, Network, NetworkInterface, VirtualMachine
from tests.compute_helpers import cloud  # noqa: F401 - fixture
from tests.pithos_helpers import small_blocks  # noqa: F401 - fixture
from tests.test_cyclades_networks_sim import mac_pool, run, settle_all  # noqa: F401 - fixture
from tests.test_cyclades_server_networks import create, make_network

pytestmark = pytest.mark.django_db


def _server_on(cloud, network):
    assert create(cloud, [{"uuid": str(network.id)}]).status_code == 202
    settle_all(cloud)
    vm = VirtualMachine.objects.get()
    return vm, NetworkInterface.objects.get(machine=vm)


def _event(cloud, vm, nics):
    """eventd's end of a modify job (now, so later real events are not older)."""
    import time

    from synnefo.cyclades.logic import callbacks

    now = time.time()
    msg = {"type": "ganeti-op-status", "instance": vm.backend_vm_id, "operation": "OP_INSTANCE_SET_PARAMS",
           "status": "success", "jobId": 999, "event_time": [int(now), int(now % 1 * 1e6)], "logmsg": "",
           "instance_nics": nics}
    with cloud.on_commit(execute=True):
        return callbacks.handler_for(msg)(msg)


def _free(network, address):
    for row in network.subnets.get(ipversion=4).ip_pools.all():
        try:
            return pools.load("ip", row.id).is_available(address)
        except pools.InvalidValue:
            continue
    raise AssertionError(f"{address} is in no pool of network {network.id}")


def test_nics_made_outside_cyclades_are_adopted(cloud, mac_pool, make_user):
    lan = make_network(cloud)
    run(cloud, "network-create", "--public", "--flavor=CUSTOM", "--name=internet", "--subnet=203.0.113.0/24",
        f"--backend-id={cloud.backend.id}")
    public = Network.objects.get(name="internet")
    other_user, _, _ = make_user("carol@example.org")
    run(cloud, "network-create", "--flavor=MAC_FILTERED", "--name=carols", f"--user={other_user.uuid}", "--subnet=10.77.0.0/29")
    carols = Network.objects.get(name="carols")
    settle_all(cloud)
    vm, port = _server_on(cloud, lan)
    rapi = simulated.SimulatedRapiClient(cloud.cluster)
    # An administrator adds NICs in Ganeti (gnt-instance modify --net add:network=...,ip=...).
    for params in ({"network": lan.backend_id, "ip": "10.5.0.5", "mac": "aa:00:01:00:00:05"},
                   {"network": public.backend_id, "ip": "203.0.113.9", "mac": "aa:00:00:00:00:09", "name": "eth-pub"},
                   {"network": carols.backend_id, "ip": "10.77.0.3", "mac": "aa:00:02:00:00:03"},
                   {"link": "br0", "mac": "aa:00:00:00:00:0c"}):  # no network: not ours to adopt
        rapi.wait_for_job(rapi.modify_instance(vm.backend_vm_id, nics=[["add", -1, params]]), timeout=10, interval=0.01)
    settle_all(cloud)  # the modify jobs' events carry the instance's NICs
    adopted = {p.mac: p for p in NetworkInterface.objects.filter(machine=vm).exclude(pk=port.pk)}
    assert set(adopted) == {"aa:00:01:00:00:05", "aa:00:00:00:00:09"}
    for mac, network, address, index in (("aa:00:01:00:00:05", lan, "10.5.0.5", 1), ("aa:00:00:00:00:09", public, "203.0.113.9", 2)):
        new = adopted[mac]
        assert (new.network_id, new.state, new.userid, new.index) == (network.id, "ACTIVE", vm.userid, index)
        (ip,) = new.ips.all()
        assert ip.address == address and not ip.floating_ip and not _free(network, address)
    assert not NetworkInterface.objects.filter(network=carols).exists() and _free(carols, "10.77.0.3")
    # The adopted NICs are renamed in Ganeti, so the next events match them by name.
    names = rapi.get_instance(vm.backend_vm_id)["nic.names"]
    assert names[1] == f"snf-nic-{adopted['aa:00:01:00:00:05'].id}" and names[2] == f"snf-nic-{adopted['aa:00:00:00:00:09'].id}"
    _event(cloud, vm, server_nics.nics_from_instance(rapi.get_instance(vm.backend_vm_id)))
    assert NetworkInterface.objects.filter(machine=vm).count() == 3
    # The server's record shows them; deleting the server frees every address.
    addresses = cloud.call("GET", f"/servers/{vm.id}").json()["server"]["addresses"]
    assert addresses[str(public.id)][0]["addr"] == "203.0.113.9"
    assert cloud.call("DELETE", f"/servers/{vm.id}").status_code == 204
    settle_all(cloud)
    assert not IPAddress.objects.exists(), list(IPAddress.objects.values("address", "nic_id", "nic__machine_id", "floating_ip"))
    assert _free(lan, "10.5.0.5") and _free(public, "203.0.113.9")


def test_ports_take_ganetis_mac_address_and_index(cloud, mac_pool):
    lan = make_network(cloud)
    vm, port = _server_on(cloud, lan)
    old = port.ips.get().address
    nic = {"name": server_nics.nic_name(port), "network": lan.backend_id, "ip": "10.5.0.6", "mac": "aa:00:01:0a:0b:0c",
           "uuid": "x", "firewall": None}
    _event(cloud, vm, [{"name": None, "network": None, "ip": None, "mac": "aa:00:00:00:00:01"}, nic])
    port.refresh_from_db()
    assert (port.mac, port.index, port.ips.get().address) == ("aa:00:01:0a:0b:0c", 1, "10.5.0.6")
    assert _free(lan, old) and not _free(lan, "10.5.0.6")
    # An address Ganeti gives that another port holds: the old one goes, the port keeps none.
    other = ports.create_port(vm.userid, lan)
    taken = other.ips.get().address
    _event(cloud, vm, [dict(nic, ip=taken)])
    port.refresh_from_db()
    assert not port.ips.exists() and other.ips.get().address == taken and _free(lan, "10.5.0.6")


def test_reconcile_servers_reports_and_fixes_nic_drift(cloud, mac_pool):
    lan = make_network(cloud)
    vm, port = _server_on(cloud, lan)
    second = NetworkInterface.objects.get(pk=ports.create_port(vm.userid, lan).pk)

    def reconcile(*fix):
        out = io.StringIO()
        try:
            call_command("reconcile-servers", *fix, stdout=out, stderr=io.StringIO())
        except CommandError:
            pass
        return out.getvalue()

    assert "in sync" in reconcile()
    # Behind our back (no events): the first NIC's address changes, a NIC is added by hand.
    with cloud.cluster._lock:
        instance = cloud.cluster.instances[vm.backend_vm_id]
        instance["nic.ips"][0] = "10.5.0.6"
        for key, value in (("nic.names", None), ("nic.ips", "10.5.0.5"), ("nic.macs", "aa:00:01:00:00:05"),
                           ("nic.networks.names", lan.backend_id), ("nic.modes", "bridged"), ("nic.links", "prv0"),
                           ("nic.uuids", "u-5")):
            instance[key].append(value)
    report = reconcile()
    assert "Unsynced NICs: 1" in report
    assert f"port {port.id}: IPv4 10.5.0.2 here, 10.5.0.6 in Ganeti" in report and "has no port" in report
    assert port.ips.get().address == "10.5.0.2"  # report only
    fixed = reconcile("--fix-unsynced-nics")
    assert "FIXED" in fixed
    assert port.ips.get().address == "10.5.0.6"
    adopted = NetworkInterface.objects.filter(machine=vm).exclude(pk=port.pk).get()
    assert adopted.mac == "aa:00:01:00:00:05" and adopted.ips.get().address == "10.5.0.5"
    assert second.machine_id is None and second.ips.get().address == "10.5.0.3"  # not the server's: untouched
    settle_all(cloud)  # the rename job
    assert "in sync" in reconcile()
    # The NIC removed behind our back: reported, then the port goes.
    with cloud.cluster._lock:
        for key in ("nic.names", "nic.ips", "nic.macs", "nic.networks.names", "nic.modes", "nic.links", "nic.uuids"):
            instance[key].pop()
    assert f"port {adopted.id} (snf-nic-{adopted.id}) is not in Ganeti" in reconcile()
    reconcile("--fix-all")
    assert not NetworkInterface.objects.filter(pk=adopted.pk).exists() and _free(lan, "10.5.0.5")
