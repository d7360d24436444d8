"""Networks on a simulated Ganeti backend whose events are applied by the real callbacks:
create (add, then connect every node group), delete (disconnect, then remove), failures, and
where networks are created (every backend, the one given, lazily, new backends)."""

import io
import json

import pytest
from django.core.management import CommandError, call_command

from synnefo.cyclades.ganeti import simulated
from synnefo.cyclades.models import Backend, BackendNetwork, Network
from tests.compute_helpers import cloud  # noqa: F401 - fixture
from tests.pithos_helpers import small_blocks  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db
API = "/cyclades/network/v2.0"


def net_call(cloud, method, path, body=None):
    data = b"" if body is None else json.dumps(body).encode()
    with cloud.on_commit(execute=True):
        r = cloud.client.generic(method, API + path, data=data, content_type="application/json",
                                 HTTP_X_AUTH_TOKEN=cloud.token)
    return r.status_code, (r.json() if r.content else None)


def run(cloud, *args) -> str:
    out = io.StringIO()
    with cloud.on_commit(execute=True):
        call_command(*args, stdout=out)
    return out.getvalue()


def settle_all(cloud, rounds=6, others=()):
    """Jobs submitted by the callbacks (connect after add, remove after disconnect) need more
    rounds: settle until no new event arrives. ``others``: more simulated clusters to wait for."""
    for _ in range(rounds):
        before = cloud.applied
        for cluster in others:
            rapi = simulated.SimulatedRapiClient(cluster)
            for job_id in list(cluster.jobs):
                rapi.wait_for_job(job_id, timeout=10, interval=0.01, raise_on_error=False)
        cloud.settle()
        if cloud.applied == before:
            return


@pytest.fixture
def mac_pool(cloud):
    run(cloud, "pool-create", "--type=mac-prefix", "--base=aa:00:0", "--size=65536")


def _private_network(cloud, cidr="10.1.0.0/24"):
    status, body = net_call(cloud, "POST", "/networks", {"network": {"type": "MAC_FILTERED", "name": "priv"}})
    assert status == 201, body
    net_id = body["network"]["id"]
    status, body = net_call(cloud, "POST", "/subnets", {"subnet": {"network_id": net_id, "cidr": cidr}})
    assert status == 201, body
    return Network.objects.get(pk=net_id)


def test_private_network_is_added_connected_and_removed(cloud, mac_pool):
    status, body = net_call(cloud, "POST", "/networks", {"network": {"type": "MAC_FILTERED", "name": "priv"}})
    network = Network.objects.get(pk=body["network"]["id"])
    row = BackendNetwork.objects.get(network=network)
    assert (row.backend_id, row.operstate, row.backendjobid) == (cloud.backend.id, "PENDING", None)
    assert row.mac_prefix == f"aa:00:1{cloud.backend.id % 16:x}"
    # Ganeti networks need their IPv4 subnet: the job is submitted when it comes.
    assert net_call(cloud, "POST", "/subnets", {"subnet": {"network_id": str(network.id), "cidr": "10.1.0.0/24"}})[0] == 201
    row.refresh_from_db()
    assert row.backendopcode == "OP_NETWORK_ADD" and row.backendjobid is not None
    settle_all(cloud)
    row.refresh_from_db()
    network.refresh_from_db()
    assert (row.operstate, network.state) == ("ACTIVE", "ACTIVE")
    assert net_call(cloud, "GET", f"/networks/{network.id}")[1]["network"]["status"] == "ACTIVE"
    ganeti = cloud.cluster.networks[f"snf-net-{network.id}"]
    assert ganeti["network"] == "10.1.0.0/24" and ganeti["gateway"] == "10.1.0.1"
    assert ganeti["mac_prefix"] == row.mac_prefix
    assert ganeti["tags"] == ["private-filtered", "nfdhcpd", "private"]
    assert ganeti["group_list"] == [["default", "bridged", "prv0", ""]]
    # Delete: disconnected, then removed, by the chain of events.
    assert net_call(cloud, "DELETE", f"/networks/{network.id}")[0] == 204
    settle_all(cloud)
    row.refresh_from_db()
    network.refresh_from_db()
    assert f"snf-net-{network.id}" not in cloud.cluster.networks
    assert (row.operstate, network.state, network.deleted) == ("DELETED", "DELETED", True)


def test_a_failed_add_marks_the_backend_side_error(cloud, mac_pool):
    status, body = net_call(cloud, "POST", "/networks", {"network": {"type": "MAC_FILTERED"}})
    network = Network.objects.get(pk=body["network"]["id"])
    # Someone made a Ganeti network of that name behind our back: the add job fails.
    with cloud.cluster._lock:
        cloud.cluster.networks[network.backend_id] = {"name": network.backend_id, "network": "10.9.0.0/24",
                                                      "group_list": [], "tags": [], "serial_no": 1}
    net_call(cloud, "POST", "/subnets", {"subnet": {"network_id": str(network.id), "cidr": "10.2.0.0/24"}})
    settle_all(cloud)
    row = BackendNetwork.objects.get(network=network)
    network.refresh_from_db()
    assert row.operstate == "ERROR" and "already exists" in row.backendlogmsg
    assert network.state == "ERROR"
    assert net_call(cloud, "GET", f"/networks/{network.id}")[1]["network"]["status"] == "ERROR"


def test_public_network_goes_only_to_the_backend_given(cloud):
    other = Backend.objects.create(clustername="other", host=simulated.SIMULATED_HOST, offline=True)
    out = run(cloud, "network-create", "--public", "--flavor=CUSTOM", "--name=internet", "--subnet=203.0.113.0/24",
              f"--backend-id={cloud.backend.id}")
    network = Network.objects.get()
    assert "Created network" in out and network.userid is None
    settle_all(cloud)
    assert list(network.backend_networks.values_list("backend_id", "operstate")) == [(cloud.backend.id, "ACTIVE")]
    ganeti = cloud.cluster.networks[network.backend_id]
    assert ganeti["tags"] == ["nfdhcpd", "public"] and ganeti["group_list"] == [["default", "bridged", "br0", ""]]
    assert ganeti["mac_prefix"] == f"aa:00:0{cloud.backend.id % 16:x}"
    assert not BackendNetwork.objects.filter(backend=other).exists()
    shown = run(cloud, "network-show", str(network.id))
    assert "ACTIVE" in shown and "203.0.113.2-203.0.113.254" in shown


def test_lazy_private_networks_and_new_backends(cloud, mac_pool, settings):
    settings.CYCLADES_LAZY_PRIVATE_NETWORKS = True
    lazy = _private_network(cloud)
    assert not lazy.backend_networks.exists()
    settings.CYCLADES_LAZY_PRIVATE_NETWORKS = False
    eager = _private_network(cloud, "10.3.0.0/24")
    assert eager.backend_networks.count() == 1
    settle_all(cloud)
    # backend-add: every live private network is planned on the new backend too.
    name = "sim-new"
    simulated._clusters[name] = simulated.SimulatedCluster(name, speed=0.01, publisher=cloud.publisher)
    try:
        run(cloud, "backend-add", f"--clustername={name}", "--simulated-in-process", "--no-check")
        new = Backend.objects.get(clustername=name)
        assert set(BackendNetwork.objects.filter(backend=new).values_list("network_id", flat=True)) == {lazy.id, eager.id}
        settle_all(cloud, others=[simulated._clusters[name]])
        assert eager.backend_id in simulated._clusters[name].networks
    finally:
        simulated._clusters.pop(name).stop()


def test_network_modify_and_inspect(cloud, mac_pool):
    network = _private_network(cloud, "10.4.0.0/24")
    settle_all(cloud)
    run(cloud, "network-modify", str(network.id), "--name=renamed", "--drained=True", "--add-reserved-ips=10.4.0.7,10.4.0.8")
    network.refresh_from_db()
    assert network.name == "renamed" and network.drained
    pool_id = network.subnets.get().ip_pools.get().id
    from synnefo.cyclades.logic import pools

    assert not pools.load("ip", pool_id).is_available("10.4.0.7")
    run(cloud, "network-modify", str(network.id), "--remove-reserved-ips=10.4.0.7")
    assert pools.load("ip", pool_id).is_available("10.4.0.7")
    before = pools.load("ip", pool_id).row.reserved_map
    for args, message in ((("--remove-reserved-ips=10.4.0.9",), "not reserved"),
                          (("--add-reserved-ips=10.4.0.9,10.5.0.1",), "not in an allocation pool"),
                          (("--floating-ip-pool=True",), "Only public"), ((), "Nothing to do")):
        with pytest.raises(CommandError, match=message):
            run(cloud, "network-modify", str(network.id), *args)
    assert pools.load("ip", pool_id).row.reserved_map == before
    assert Network.objects.get(pk=network.pk).floating_ip_pool is False
    out = run(cloud, "network-inspect", str(network.id))
    assert "10.4.0.2-10.4.0.254, 252 free of 253, 1 reserved externally" in out
    assert "groups: default bridged prv0" in out and "Backend" in out


def _second_backend(cloud, name):
    simulated._clusters[name] = simulated.SimulatedCluster(name, speed=0.01, publisher=cloud.publisher)
    run(cloud, "backend-add", f"--clustername={name}", "--simulated-in-process", "--no-check")
    return Backend.objects.get(clustername=name), simulated._clusters[name]


def test_reserved_ips_go_to_ganeti_and_back(cloud, mac_pool):
    """network-modify --add/--remove-reserved-ips: the pool at once, Ganeti's network through an
    OP_NETWORK_SET_PARAMS job; an administrator's own Ganeti change comes back to the pool."""
    from synnefo.cyclades.logic import pools

    network = _private_network(cloud, "10.6.0.0/24")
    settle_all(cloud)
    ganeti = cloud.cluster.networks[network.backend_id]
    assert ganeti["external_reservations"] == "10.6.0.0, 10.6.0.1, 10.6.0.255"
    run(cloud, "network-modify", str(network.id), "--add-reserved-ips=10.6.0.7,10.6.0.8")
    settle_all(cloud)
    assert cloud.cluster.networks[network.backend_id]["external_reservations"] == \
        "10.6.0.0, 10.6.0.1, 10.6.0.7, 10.6.0.8, 10.6.0.255"
    row = BackendNetwork.objects.get(network=network)
    assert (row.operstate, row.backendopcode, row.backendjobstatus) == ("ACTIVE", "OP_NETWORK_SET_PARAMS", "success")
    run(cloud, "network-modify", str(network.id), "--remove-reserved-ips=10.6.0.7")
    settle_all(cloud)
    assert "10.6.0.7" not in cloud.cluster.networks[network.backend_id]["external_reservations"]
    pool_id = network.subnets.get().ip_pools.get().id
    assert pools.load("ip", pool_id).is_available("10.6.0.7") and not pools.load("ip", pool_id).is_available("10.6.0.8")
    # Reserved in Ganeti by hand (gnt-network modify --add-reserved-ips): the dispatcher mirrors it.
    rapi = simulated.SimulatedRapiClient(cloud.cluster)
    rapi.modify_network(network.backend_id, add_reserved_ips=["10.6.0.9"])
    settle_all(cloud)
    assert not pools.load("ip", pool_id).is_available("10.6.0.9")
    # An address a port uses cannot be reserved; nothing changes, in the pool or Ganeti.
    status, body = net_call(cloud, "POST", "/ports", {"port": {"network_id": str(network.id)}})
    used = body["port"]["fixed_ips"][0]["ip_address"]
    before = pools.load("ip", pool_id).row.reserved_map
    with pytest.raises(CommandError, match=f"In use, cannot be reserved: {used}"):
        run(cloud, "network-modify", str(network.id), f"--add-reserved-ips=10.6.0.20,{used}")
    settle_all(cloud)
    assert pools.load("ip", pool_id).row.reserved_map == before
    assert "10.6.0.20" not in cloud.cluster.networks[network.backend_id]["external_reservations"]
    # A Ganeti refusal (already reserved there) leaves the row ACTIVE, with Ganeti's reason.
    rapi.modify_network(network.backend_id, add_reserved_ips=["10.6.0.9"])
    settle_all(cloud)
    row.refresh_from_db()
    assert row.operstate == "ACTIVE" and row.backendjobstatus == "error" and "already reserved" in row.backendlogmsg


def test_remove_from_backend_and_add_again(cloud, mac_pool):
    network = _private_network(cloud, "10.7.0.0/24")
    settle_all(cloud)
    other, cluster = _second_backend(cloud, "sim-rm")
    try:
        settle_all(cloud, others=[cluster])
        assert set(network.backend_networks.values_list("operstate", flat=True)) == {"ACTIVE"}
        # Refused while a server of that backend uses it; nothing changes.
        with cloud.on_commit(execute=True):
            r = cloud.client.post("/cyclades/compute/v2.0/servers", data=json.dumps({"server": {
                "name": "s", "imageRef": cloud.image_id, "flavorRef": cloud.flavors[0].id,
                "networks": [{"uuid": str(network.id)}]}}), content_type="application/json", HTTP_X_AUTH_TOKEN=cloud.token)
        assert r.status_code == 202, r.content
        vm_backend = Backend.objects.get(virtual_machines__id=r.json()["server"]["id"])
        with pytest.raises(CommandError, match="ports of servers on backend"):
            run(cloud, "network-modify", str(network.id), f"--remove-from-backend={vm_backend.id}")
        assert BackendNetwork.objects.get(network=network, backend=vm_backend).operstate == "ACTIVE"
        idle = other if vm_backend.id == cloud.backend.id else cloud.backend
        idle_cluster = cluster if idle is other else cloud.cluster
        out = run(cloud, "network-modify", str(network.id), f"--remove-from-backend={idle.id}")
        assert f"Removing it from backend {idle.id}" in out
        assert BackendNetwork.objects.get(network=network, backend=idle).operstate == "DELETED"
        settle_all(cloud, others=[cluster])
        assert network.backend_id not in idle_cluster.networks
        row = BackendNetwork.objects.get(network=network, backend=idle)
        assert (row.operstate, row.backendopcode, row.backendjobstatus) == ("DELETED", "OP_NETWORK_REMOVE", "success")
        network.refresh_from_db()
        assert network.state == "ACTIVE"  # still on the other backend
        with pytest.raises(CommandError, match="is not on backend"):
            run(cloud, "network-modify", str(network.id), f"--remove-from-backend={idle.id}")
        from synnefo.cyclades.logic import network_reconciliation

        assert not network_reconciliation.reconcile_backend(idle, set()).findings
        # Added again: the row starts over and the network is created there again.
        run(cloud, "network-modify", str(network.id), f"--add-to-backend={idle.id}")
        settle_all(cloud, others=[cluster])
        assert BackendNetwork.objects.get(network=network, backend=idle).operstate == "ACTIVE"
        assert idle_cluster.networks[network.backend_id]["group_list"]
    finally:
        simulated._clusters.pop("sim-rm").stop()


def test_backend_remove_removes_its_networks_from_ganeti(cloud, mac_pool):
    network = _private_network(cloud, "10.8.0.0/24")
    public_out = run(cloud, "network-create", "--public", "--flavor=CUSTOM", "--name=pub", "--subnet=203.0.113.0/24",
                     f"--backend-id={cloud.backend.id}")
    public = Network.objects.get(pk=int(public_out.split()[2]))
    settle_all(cloud)
    other, cluster = _second_backend(cloud, "sim-gone")
    try:
        settle_all(cloud, others=[cluster])
        assert network.backend_id in cluster.networks
        out = run(cloud, "backend-remove", str(cloud.backend.id))
        assert f"network {network.id} ({network.backend_id}): removed from Ganeti" in out
        assert f"network {public.id} ({public.backend_id}): removed from Ganeti" in out
        assert cloud.cluster.networks == {}
        assert not Backend.objects.filter(pk=cloud.backend.id).exists()
        assert network.backend_id in cluster.networks  # the other backend keeps it
        network.refresh_from_db()
        public.refresh_from_db()
        assert network.state == "ACTIVE" and public.state == "PENDING"  # public: on no backend now
        # RAPI failing: the backend is kept, with the reason.
        cluster.stop()
        from unittest import mock

        from synnefo.cyclades.ganeti.rapi import GanetiApiError

        with mock.patch.object(simulated.SimulatedRapiClient, "get_network", side_effect=GanetiApiError("down", 502)):
            with pytest.raises(CommandError, match="kept: cannot remove its networks from Ganeti: .*down"):
                run(cloud, "backend-remove", str(other.id))
        assert Backend.objects.filter(pk=other.id).exists()
        # Offline: removed without touching Ganeti.
        other.offline = True
        other.save()
        out = run(cloud, "backend-remove", str(other.id))
        assert "offline" in out and not Backend.objects.filter(pk=other.id).exists()
    finally:
        simulated._clusters.pop("sim-gone", None)


@pytest.mark.parametrize("failures, state", [(2, "DELETED"), (99, "ERROR")])
def test_a_disconnect_raced_by_instance_changes_is_submitted_again(cloud, mac_pool, monkeypatch, failures, state):
    """Ganeti refuses a disconnect when the node group's instances changed under its locks (a
    server being created or removed meanwhile): Cyclades submits it again, a few times, and the
    network is removed once the race is over; a refusal that persists ends in ERROR."""
    from synnefo.cyclades.ganeti.rapi import GanetiApiError

    network = _private_network(cloud)
    settle_all(cloud)
    calls = []
    original = simulated.SimulatedRapiClient.disconnect_network

    def racing_disconnect(self, network_name, group_name="default", dry_run=False):
        calls.append(network_name)
        if len(calls) > failures:
            return original(self, network_name, group_name, dry_run)

        def refuse():
            raise GanetiApiError(f"Instances in node group '{group_name}' changed since locks were acquired, "
                                 "wanted 'a', have 'a, b'; retry the operation")

        return self.cluster.submit("OP_NETWORK_DISCONNECT", {"network_name": network_name, "group_name": group_name}, refuse)

    monkeypatch.setattr(simulated.SimulatedRapiClient, "disconnect_network", racing_disconnect)
    assert net_call(cloud, "DELETE", f"/networks/{network.id}")[0] == 204
    settle_all(cloud, rounds=12)
    row = BackendNetwork.objects.get(network=network)
    assert row.operstate == state, row.backendlogmsg
    if state == "DELETED":
        assert len(calls) == failures + 1 and network.backend_id not in cloud.cluster.networks
    else:
        assert len(calls) == 6 and "changed since locks were acquired" in row.backendlogmsg
        assert network.backend_id in cloud.cluster.networks
