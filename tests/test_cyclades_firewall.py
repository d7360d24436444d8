"""Firewall profiles of NICs (SYNNEFO.md 4.3): Ganeti instance tags
``synnefo:network:<nic>:protected|unprotected|limited`` set by the ``firewallProfile`` action
(simulated backend, real callbacks); NICs on public networks start with
DEFAULT_FIREWALL_PROFILE; reconcile-servers sees a tag changed behind our back."""

import io

import pytest
from django.core.management import call_command

from synnefo.cyclades.ganeti import simulated
from synnefo.cyclades.logic import server_nics
from synnefo.cyclades.models import NetworkInterface, VirtualMachine
from tests.compute_helpers import cloud  # noqa: F401 - fixture
from tests.pithos_helpers import small_blocks  # noqa: F401 - fixture
from tests.test_cyclades_networks_sim import mac_pool, settle_all  # noqa: F401 - fixture
from tests.test_cyclades_nic_sync import _server_on
from tests.test_cyclades_server_default_networks import public_network
from tests.test_cyclades_server_networks import create, make_network

pytestmark = pytest.mark.django_db


def action(cloud, vm, body):
    return cloud.call("POST", f"/servers/{vm.id}/action", body)


def tags(cloud, vm):
    return sorted(t for t in cloud.cluster.instances[vm.backend_vm_id]["tags"] if t.startswith("synnefo:network:"))


def test_tags_follow_the_firewall_profile_action(cloud, mac_pool, settings):
    internet = public_network(cloud, "internet", "203.0.113.0/29")
    lan = make_network(cloud)
    settings.CYCLADES_FORCED_SERVER_NETWORKS = [str(internet.id)]
    r = create(cloud, [{"uuid": str(lan.id)}], "fw")
    assert r.status_code == 202, r.content
    settle_all(cloud)
    vm = VirtualMachine.objects.get(name="fw")
    private, public = NetworkInterface.objects.filter(machine=vm).order_by("index")
    # A public NIC starts with DEFAULT_FIREWALL_PROFILE (DISABLED), in Ganeti from the creation.
    assert (private.firewall_profile, public.firewall_profile) == (None, "DISABLED")
    assert tags(cloud, vm) == [f"synnefo:network:snf-nic-{public.id}:unprotected"]
    r = action(cloud, vm, {"firewallProfile": {"profile": "ENABLED", "nic": str(public.id)}})
    assert r.status_code == 202, r.content
    assert cloud.call("GET", f"/servers/{vm.id}").json()["server"]["SNF:task_state"] == "SETTING_FIREWALL"
    settle_all(cloud)
    assert tags(cloud, vm) == [f"synnefo:network:snf-nic-{public.id}:protected"]
    public.refresh_from_db()
    vm.refresh_from_db()
    assert public.firewall_profile == "ENABLED" and vm.task is None
    record = cloud.call("GET", f"/servers/{vm.id}").json()["server"]
    assert {a["id"]: a["firewallProfile"] for a in record["attachments"]} == {str(private.id): "DISABLED",
                                                                            str(public.id): "ENABLED"}
    assert action(cloud, vm, {"firewallProfile": {"profile": "PROTECTED", "nic": private.id}}).status_code == 202
    settle_all(cloud)
    assert tags(cloud, vm) == sorted([f"synnefo:network:snf-nic-{public.id}:protected",
                                      f"synnefo:network:snf-nic-{private.id}:limited"])
    assert NetworkInterface.objects.get(pk=private.pk).firewall_profile == "PROTECTED"


def test_bad_firewall_requests_change_nothing(cloud, mac_pool):
    vm, port = _server_on(cloud, make_network(cloud))
    jobs = len(cloud.cluster.jobs)
    for body, status, text in (({"firewallProfile": {"profile": "OPEN", "nic": port.id}}, 400, "must be one of"),
                               ({"firewallProfile": {"profile": "ENABLED"}}, 400, "firewallProfile needs"),
                               ({"firewallProfile": {"profile": "ENABLED", "nic": port.id + 100}}, 400, "has no NIC"),
                               ({"firewallProfile": {"profile": "ENABLED", "nic": "x"}}, 400, "has no NIC")):
        r = action(cloud, vm, body)
        assert r.status_code == status and text in r.content.decode(), r.content
    assert action(cloud, vm, {"shutdown": {}}).status_code == 202
    r = action(cloud, vm, {"firewallProfile": {"profile": "ENABLED", "nic": port.id}})
    assert r.status_code == 409
    settle_all(cloud)
    assert len(cloud.cluster.jobs) == jobs + 1 and NetworkInterface.objects.get(pk=port.pk).firewall_profile is None
    assert tags(cloud, vm) == []


def test_a_tag_changed_behind_our_back_is_reconciled(cloud, mac_pool):
    vm, port = _server_on(cloud, make_network(cloud))
    with cloud.cluster._lock:
        cloud.cluster.instances[vm.backend_vm_id]["tags"].append(server_nics.firewall_tag("PROTECTED", server_nics.nic_name(port)))
    out = io.StringIO()
    call_command("reconcile-servers", stdout=out)
    assert f"port {port.id}: firewall none here, PROTECTED in Ganeti" in out.getvalue()
    call_command("reconcile-servers", "--fix-unsynced-nics", stdout=out)
    assert NetworkInterface.objects.get(pk=port.pk).firewall_profile == "PROTECTED"
    rapi = simulated.SimulatedRapiClient(cloud.cluster)
    # The tag removed in Ganeti by hand (gnt-instance remove-tags): its event clears the profile.
    rapi.wait_for_job(rapi.delete_instance_tags(vm.backend_vm_id, [server_nics.firewall_tag("PROTECTED", server_nics.nic_name(port))]),
                      timeout=10, interval=0.01)
    settle_all(cloud)
    assert NetworkInterface.objects.get(pk=port.pk).firewall_profile is None
