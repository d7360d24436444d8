"""snf-manage port-* and floating-ip-* over the network logic (simulated backend, real
dispatcher callbacks): what they create, show and remove, and bad input refused with nothing
changed."""

import pytest
from django.core.management.base import CommandError

from synnefo.cyclades.models import IPAddress, NetworkInterface, VirtualMachine
from tests.compute_helpers import cloud  # noqa: F401 - fixture
from tests.pithos_helpers import small_blocks  # noqa: F401 - fixture
from tests.test_cyclades_networks_sim import mac_pool, run, settle_all  # noqa: F401 - fixture
from tests.test_cyclades_server_default_networks import public_network
from tests.test_cyclades_server_networks import create, make_network

pytestmark = pytest.mark.django_db


def server(cloud):
    assert create(cloud, None).status_code == 202
    settle_all(cloud)
    return VirtualMachine.objects.get()


def floating_usage(cloud):
    from synnefo.astakos.quotaholder.logic import user_quotas

    uuid = str(cloud.user.uuid)
    quotas = user_quotas([uuid], "cyclades")[uuid]
    return sum(h["usage"] for q in quotas.values() for r, h in q.items() if r == "cyclades.floating_ip")


def refused(cloud, *args, match):
    with pytest.raises(CommandError, match=match):
        run(cloud, *args)


def test_port_create_list_inspect_remove(cloud, mac_pool):
    network = make_network(cloud)
    out = run(cloud, "port-create", f"--network={network.id}", f"--user={cloud.user.email}", "--name=spare",
              "--ipv4-address=10.5.0.5", "--security-groups=web,ssh")
    port = NetworkInterface.objects.get()
    assert f"Created port {port.id}" in out and "10.5.0.5" in out and port.security_groups == ["web", "ssh"]
    listing = run(cloud, "port-list", f"--user={cloud.user.uuid}", "--output-format=csv", "--no-headers")
    assert listing.strip() == f"{port.id},spare,{cloud.user.uuid},{network.id},,DOWN,{port.mac},10.5.0.5"
    assert run(cloud, "port-list", f"--network={network.id + 1}", "--no-headers").strip() == ""
    inspect = run(cloud, "port-inspect", str(port.id))
    assert port.mac in inspect and "10.5.0.5" in inspect
    assert "Deleted port" in run(cloud, "port-remove", str(port.id))
    assert not NetworkInterface.objects.exists() and not IPAddress.objects.exists()


def test_port_create_on_a_server_connects_and_remove_disconnects(cloud, mac_pool):
    network = make_network(cloud)
    vm = server(cloud)
    out = run(cloud, "port-create", f"--network={network.id}", f"--server={vm.id}")  # the owner: the server's
    assert "connecting server" in out
    settle_all(cloud)
    port = NetworkInterface.objects.get()
    assert port.state == "ACTIVE" and port.machine_id == vm.id and port.userid == str(cloud.user.uuid)
    assert cloud.cluster.instances[vm.backend_vm_id]["nic.names"][-1] == f"snf-nic-{port.id}"
    assert "disconnecting" in run(cloud, "port-remove", str(port.id))
    settle_all(cloud)
    assert not NetworkInterface.objects.exists() and not IPAddress.objects.exists()
    assert f"snf-nic-{port.id}" not in cloud.cluster.instances[vm.backend_vm_id]["nic.names"]


def test_port_commands_refuse_bad_input_and_change_nothing(cloud, mac_pool, make_user):
    network = make_network(cloud)
    bob, _, _ = make_user("bob@example.org")
    vm = server(cloud)
    run(cloud, "port-create", f"--network={network.id}", f"--user={cloud.user.uuid}")
    port = NetworkInterface.objects.get()
    cases = [
        (("port-create", "--network=999", f"--user={cloud.user.uuid}"), "No network with id"),
        (("port-create", f"--network={network.id}", "--user=nobody@example.org"), "No user"),
        (("port-create", f"--network={network.id}"), "Give --user"),
        (("port-create", f"--network={network.id}", f"--user={bob.email}"), "not found"),  # alice's private net
        (("port-create", f"--network={network.id}", "--server=999"), "No server"),
        (("port-create", f"--network={network.id}", f"--server={vm.id}", f"--user={bob.email}"), "belongs to"),
        (("port-create", f"--network={network.id}", f"--user={cloud.user.uuid}", "--ipv4-address=10.5.0.2"),
         "already in use"),
        (("port-create", f"--network={network.id}", f"--user={cloud.user.uuid}", "--ipv4-address=10.9.0.1"),
         "not an address of subnet"),
        (("port-create", f"--user={cloud.user.uuid}"), "Give --network"),
        (("port-create", f"--user={cloud.user.uuid}", "--floating-ip=77"), "No floating IP"),
        (("port-inspect", "999"), "No port"),
        (("port-remove", str(port.id), "x"), "No port"),  # every id checked first: nothing removed
        (("port-list", "--server=abc"), "numeric id"),
    ]
    for args, match in cases:
        refused(cloud, *args, match=match)
    assert list(NetworkInterface.objects.values_list("id", flat=True)) == [port.id]
    assert IPAddress.objects.count() == 1 and VirtualMachine.objects.get().task is None


def test_floating_ip_commands_end_to_end(cloud):
    internet = public_network(cloud, "internet", "203.0.113.0/29", "--floating-ip-pool=True")
    vm = server(cloud)
    out = run(cloud, "floating-ip-create", f"--network={internet.id}", f"--user={cloud.user.email}")
    ip = IPAddress.objects.get(floating_ip=True)
    assert f"Allocated floating IP {ip.id}: 203.0.113.2" in out and floating_usage(cloud) == 1
    listing = run(cloud, "floating-ip-list", "--output-format=csv", "--no-headers", "-o", "id,address,user,port")
    assert listing.strip() == f"{ip.id},203.0.113.2,{cloud.user.uuid},"
    assert "203.0.113.2" in run(cloud, "floating-ip-show", str(ip.id))
    run(cloud, "floating-ip-attach", str(ip.id), f"--server={vm.id}")
    settle_all(cloud)
    ip.refresh_from_db()
    assert ip.nic.machine_id == vm.id and ip.nic.state == "ACTIVE"
    assert cloud.cluster.instances[vm.backend_vm_id]["nic.ips"][-1] == "203.0.113.2"
    refused(cloud, "floating-ip-remove", str(ip.id), match="floating-ip-detach it first")
    refused(cloud, "floating-ip-attach", str(ip.id), f"--server={vm.id}", match="already attached")
    run(cloud, "floating-ip-detach", str(ip.id))
    settle_all(cloud)
    ip.refresh_from_db()
    assert ip.nic is None and not NetworkInterface.objects.exists() and floating_usage(cloud) == 1
    refused(cloud, "floating-ip-detach", str(ip.id), match="not attached")
    assert "Released floating IP" in run(cloud, "floating-ip-remove", str(ip.id))
    assert not IPAddress.objects.exists() and floating_usage(cloud) == 0


def test_floating_ip_commands_refuse_bad_input_and_change_nothing(cloud, mac_pool, make_user):
    internet = public_network(cloud, "internet", "203.0.113.0/29", "--floating-ip-pool=True")
    private = make_network(cloud)
    bob, _, _ = make_user("bob@example.org")
    vm = server(cloud)
    run(cloud, "floating-ip-create", f"--network={internet.id}", f"--user={bob.uuid}", "--address=203.0.113.4")
    ip = IPAddress.objects.get(floating_ip=True)
    cases = [
        (("floating-ip-create", "--network=999", f"--user={cloud.user.uuid}"), "not found"),
        (("floating-ip-create", f"--network={private.id}", f"--user={cloud.user.uuid}"), "not a floating IP pool"),
        (("floating-ip-create", f"--network={internet.id}", "--user=nobody@example.org"), "No user"),
        (("floating-ip-create", f"--network={internet.id}", f"--user={cloud.user.uuid}", "--address=203.0.113.4"),
         "already in use"),
        (("floating-ip-show", "999"), "No floating IP"),
        (("floating-ip-attach", str(ip.id), f"--server={vm.id}"), "belongs to"),  # bob's IP, alice's server
        (("floating-ip-attach", str(ip.id), "--server=999"), "No server"),
        (("floating-ip-attach", "999", f"--server={vm.id}"), "No floating IP"),
        (("floating-ip-detach", "999"), "No floating IP"),
        (("floating-ip-remove", str(ip.id), "999"), "No floating IP"),  # every id checked first
    ]
    for args, match in cases:
        refused(cloud, *args, match=match)
    assert list(IPAddress.objects.filter(floating_ip=True).values_list("id", flat=True)) == [ip.id]
    assert not NetworkInterface.objects.exists() and floating_usage(cloud) == 0
