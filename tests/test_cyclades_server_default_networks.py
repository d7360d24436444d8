"""Default and forced server networks (CYCLADES_DEFAULT_SERVER_NETWORKS,
CYCLADES_FORCED_SERVER_NETWORKS) through the compute API on the simulated backend."""

import pytest

from synnefo.cyclades.logic import ports
from synnefo.cyclades.models import IPAddress, Network, NetworkInterface, VirtualMachine
from tests.compute_helpers import cloud  # noqa: F401 - fixture
from tests.pithos_helpers import small_blocks  # noqa: F401 - fixture
from tests.test_cyclades_networks_sim import mac_pool, run, settle_all  # noqa: F401 - fixture
from tests.test_cyclades_server_networks import create, make_network

pytestmark = pytest.mark.django_db


def public_network(cloud, name, cidr, *extra):
    run(cloud, "network-create", "--public", "--flavor=CUSTOM", f"--name={name}", f"--subnet={cidr}",
        f"--backend-id={cloud.backend.id}", *extra)
    settle_all(cloud)
    return Network.objects.get(name=name)


def nics_of(cloud, vm):
    instance = cloud.cluster.instances[vm.backend_vm_id]
    return list(zip(instance["nic.networks.names"], instance["nic.ips"]))


def test_without_setting_servers_keep_the_default_nic(cloud):
    assert create(cloud, None).status_code == 202
    assert not NetworkInterface.objects.exists()


def test_default_network_by_id_needs_no_floating_ip(cloud, settings):
    internet = public_network(cloud, "internet", "203.0.113.0/29")
    settings.CYCLADES_DEFAULT_SERVER_NETWORKS = [str(internet.id)]
    r = create(cloud, None, "a")
    assert r.status_code == 202, r.content
    settle_all(cloud)
    vm = VirtualMachine.objects.get(name="a")
    assert nics_of(cloud, vm) == [(internet.backend_id, "203.0.113.2")]
    address = cloud.call("GET", f"/servers/{vm.id}").json()["server"]["addresses"][str(internet.id)][0]
    assert address["addr"] == "203.0.113.2" and address["OS-EXT-IPS:type"] == "fixed"
    # Explicit networks (even []) replace the default ones.
    assert create(cloud, [], "b").status_code == 202
    assert not NetworkInterface.objects.filter(machine__name="b").exists()


def test_any_public_takes_the_first_public_network_with_a_free_address(cloud, settings):
    full = public_network(cloud, "full", "203.0.113.0/29")
    spare = public_network(cloud, "spare", "198.51.100.0/29")
    public_network(cloud, "fips", "192.0.2.0/29", "--floating-ip-pool=True")  # never a default
    for _ in range(5):
        ports.create_port("admin", full, admin=True)
    settings.CYCLADES_DEFAULT_SERVER_NETWORKS = ["SNF:ANY_PUBLIC_IPV4"]
    r = create(cloud, None)
    assert r.status_code == 202, r.content
    settle_all(cloud)
    assert nics_of(cloud, VirtualMachine.objects.get()) == [(spare.backend_id, "198.51.100.2")]


def test_a_list_entry_means_any_one_of_them(cloud, settings):
    first = public_network(cloud, "first", "203.0.113.0/29")
    second = public_network(cloud, "second", "198.51.100.0/29")
    run(cloud, "network-modify", str(first.id), "--drained=True")
    settings.CYCLADES_DEFAULT_SERVER_NETWORKS = [[str(first.id), str(second.id)]]
    assert create(cloud, None).status_code == 202
    settle_all(cloud)
    assert nics_of(cloud, VirtualMachine.objects.get()) == [(second.backend_id, "198.51.100.2")]


def test_forced_network_is_added_without_acl(cloud, mac_pool, settings, make_user):
    mine = make_network(cloud)
    admin_user, _, _ = make_user("ops@example.org")
    run(cloud, "network-create", "--name=mgmt", f"--user={admin_user.uuid}", "--flavor=MAC_FILTERED",
        "--subnet=10.99.0.0/29")
    management = Network.objects.get(name="mgmt")
    settle_all(cloud)
    settings.CYCLADES_FORCED_SERVER_NETWORKS = [str(management.id)]
    r = create(cloud, [{"uuid": str(mine.id)}])
    assert r.status_code == 202, r.content
    settle_all(cloud)
    vm = VirtualMachine.objects.get()
    assert nics_of(cloud, vm) == [(mine.backend_id, "10.5.0.2"), (management.backend_id, "10.99.0.2")]
    # The user still cannot use that network directly.
    assert create(cloud, [{"uuid": str(management.id)}], "direct").status_code == 400
    # Removing the server gives both addresses back.
    assert cloud.call("DELETE", f"/servers/{vm.id}").status_code == 204
    settle_all(cloud)
    assert not IPAddress.objects.exists()


def test_unusable_settings_refuse_the_server_and_keep_nothing(cloud, mac_pool, settings):
    network = make_network(cloud)
    settings.CYCLADES_DEFAULT_SERVER_NETWORKS = ["SNF:ANY_PUBLIC"]  # there is no public network
    r = create(cloud, None)
    assert r.status_code == 503 and b"No network available" in r.content
    settings.CYCLADES_DEFAULT_SERVER_NETWORKS = []
    settings.CYCLADES_FORCED_SERVER_NETWORKS = [str(network.id)]
    r = create(cloud, [{"uuid": str(network.id)}] * 8)  # 8 + 1 forced > GANETI_MAX_NICS_PER_INSTANCE
    assert r.status_code == 400 and b"always added" in r.content
    assert not VirtualMachine.objects.exists() and not NetworkInterface.objects.exists()
    assert not IPAddress.objects.exists()
