"""reconcile-networks against a simulated backend: every kind of drift is reported, and fixed
by --fix-all through the update path's own rules."""

import pytest
from django.core.management import CommandError

from synnefo.cyclades.logic import pools
from synnefo.cyclades.models import BackendNetwork, Network
from tests.compute_helpers import cloud  # noqa: F401 - fixture
from tests.pithos_helpers import small_blocks  # noqa: F401 - fixture
from tests.test_cyclades_networks_sim import _private_network, mac_pool, run, settle_all  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db


@pytest.fixture
def active(cloud, mac_pool):
    network = _private_network(cloud, "10.1.0.0/24")
    settle_all(cloud)
    assert BackendNetwork.objects.get(network=network).operstate == "ACTIVE"
    return network


def reconcile(cloud, *args):
    return run(cloud, "reconcile-networks", *args)


def test_in_sync(cloud, active):
    assert "in sync" in reconcile(cloud)


def test_a_network_removed_behind_our_back_is_created_again(cloud, active):
    with cloud.cluster._lock:
        cloud.cluster.networks.pop(active.backend_id)
    out = reconcile(cloud)
    assert "Networks missing from Ganeti: 1" in out and "report only" in out
    out = reconcile(cloud, "--fix-all")
    assert "FIXED (created again" in out
    settle_all(cloud)
    assert cloud.cluster.networks[active.backend_id]["group_list"] == [["default", "bridged", "prv0", ""]]
    assert BackendNetwork.objects.get(network=active).operstate == "ACTIVE"
    assert "in sync" in reconcile(cloud)


def test_gnt_network_remove_by_hand_marks_the_row_error_and_reconcile_recreates_it(cloud, active):
    """The events of an administrator's disconnect + remove: the disconnect alone changes nothing
    (reconcile's "hanging"), the removal makes the row ERROR, not DELETED (that means "taken off
    this backend by Cyclades"), so reconcile-networks creates it again."""
    from synnefo.cyclades.ganeti import simulated

    rapi = simulated.SimulatedRapiClient(cloud.cluster)
    rapi.wait_for_job(rapi.disconnect_network(active.backend_id, "default"), timeout=10, interval=0.01)
    settle_all(cloud)
    assert BackendNetwork.objects.get(network=active).operstate == "ACTIVE"
    assert active.backend_id in cloud.cluster.networks  # not removed on our side's initiative
    rapi.wait_for_job(rapi.delete_network(active.backend_id), timeout=10, interval=0.01)
    settle_all(cloud)
    row = BackendNetwork.objects.get(network=active)
    assert row.operstate == "ERROR" and "not by Cyclades" in row.backendlogmsg
    assert "FIXED (created again" in reconcile(cloud, "--fix-all")
    settle_all(cloud)
    assert BackendNetwork.objects.get(network=active).operstate == "ACTIVE"
    assert "in sync" in reconcile(cloud)


def test_orphans_are_removed(cloud, active):
    with cloud.cluster._lock:
        cloud.cluster.networks["snf-net-999"] = {"name": "snf-net-999", "network": "10.99.0.0/24", "tags": [],
                                                 "group_list": [["default", "bridged", "br0", ""]], "serial_no": 1}
        cloud.cluster.networks["other-net"] = {"name": "other-net", "network": "10.98.0.0/24", "group_list": [], "serial_no": 1}
    out = reconcile(cloud, "--fix-orphans")
    assert "Orphan Ganeti networks: 1" in out and "FIXED (removed from Ganeti)" in out
    assert "snf-net-999" not in cloud.cluster.networks and "other-net" in cloud.cluster.networks
    assert active.backend_id in cloud.cluster.networks


def test_hanging_unsynced_parted_and_reservations(cloud, active):
    name = active.backend_id
    with cloud.cluster._lock:
        cloud.cluster.networks[name]["group_list"] = []
    out = reconcile(cloud, "--fix-all")
    assert "not connected to default" in out and "FIXED (connect jobs for default)" in out
    settle_all(cloud)
    assert cloud.cluster.networks[name]["group_list"]
    BackendNetwork.objects.filter(network=active).update(operstate="PENDING")
    out = reconcile(cloud, "--fix-unsynced")
    assert "Unsynced states: 1" in out and "FIXED" in out
    assert BackendNetwork.objects.get(network=active).operstate == "ACTIVE"
    BackendNetwork.objects.filter(network=active).delete()
    out = reconcile(cloud, "--fix-all")
    assert "without a database row: 1" in out
    assert BackendNetwork.objects.get(network=active).operstate == "ACTIVE"
    with cloud.cluster._lock:
        cloud.cluster.networks[name]["external_reservations"] = "10.1.0.0, 10.1.0.1, 10.1.0.9, 10.1.0.255"
    out = reconcile(cloud, "--fix-all")
    assert "not in the pool: 10.1.0.9" in out
    pool = pools.load("ip", active.subnets.get().ip_pools.get().id)
    assert not pool.is_available("10.1.0.9") and pool.is_available("10.1.0.10")
    assert "in sync" in reconcile(cloud)


def test_a_network_gone_while_being_removed_becomes_deleted(cloud, active):
    Network.objects.filter(pk=active.pk).update(deleted=True, action="DESTROY")
    with cloud.cluster._lock:
        cloud.cluster.networks.pop(active.backend_id)
    out = reconcile(cloud, "--fix-all")
    assert "gone from Ganeti while being removed" in out
    assert BackendNetwork.objects.get(network=active).operstate == "DELETED"
    assert Network.objects.get(pk=active.pk).state == "DELETED"


def test_an_offline_backend_is_an_error(cloud, active):
    cloud.backend.offline = True
    cloud.backend.save()
    with pytest.raises(CommandError, match="error"):
        reconcile(cloud, f"--backend-id={cloud.backend.id}")
