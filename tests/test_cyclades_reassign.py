"""``reassign``: servers, private networks, floating IPs and volumes moved to another project
of their owner, the quota moving with them in one commission (over quota or not a member:
refused, nothing moved)."""

import uuid

import pytest
from django.core.management import call_command

from synnefo.astakos.quotaholder.logic import user_quotas
from synnefo.astakos.quotaholder.models import Holding, Resource
from synnefo.cyclades.models import IPAddress, Network, VirtualMachine, Volume
from synnefo.astakos.quotaholder.resources import BUILTIN, register
from tests.compute_helpers import cloud  # noqa: F401
from tests.pithos_helpers import small_blocks  # noqa: F401

pytestmark = pytest.mark.django_db
GiB = 1024 ** 3
NET = "/cyclades/network/v2.0"


def join(user, limits):
    """Make ``user`` a member of a new project with these limits (what a project membership
    gives: the member's and the project's holdings)."""
    project = str(uuid.uuid4())
    for resource in Resource.objects.filter(service_origin="cyclades"):
        limit = limits.get(resource.name, 0)
        Holding.objects.create(holder=f"user:{user.uuid}", source=f"project:{project}", resource=resource, limit=limit)
        Holding.objects.create(holder=f"project:{project}", source="", resource=resource, limit=limit)
    return project


def usage(user, project, resource):
    return user_quotas([str(user.uuid)], "cyclades")[str(user.uuid)].get(project, {}).get(resource, {}).get("usage", 0)


def reassign(cloud, path, project, token=None, **kwargs):
    api, version = ("network", "v2.0") if path.startswith(("/networks", "/floatingips")) else (
        ("volume", f"v3/{cloud.user.uuid}") if path.startswith("/volumes") else ("compute", "v2.0"))
    return cloud.call("POST", f"{path}/action", {"reassign": {"project": project, **kwargs}}, token=token, api=api,
                      version=version)


@pytest.fixture
def base(cloud):
    register(Resource, BUILTIN)
    return str(cloud.user.uuid)


def server(cloud):
    body = {"name": "s1", "imageRef": cloud.image_id, "flavorRef": cloud.flavors[0].id}
    r = cloud.call("POST", "/servers", {"server": body})
    assert r.status_code == 202, r.content
    cloud.settle()
    return r.json()["server"]["id"]


def test_server_moves_with_its_quota_and_volumes(cloud, base):
    sid = server(cloud)
    project = join(cloud.user, {"cyclades.vm": 1, "cyclades.total_cpu": 1, "cyclades.cpu": 1,
                                "cyclades.total_ram": 1024 * 2 ** 20, "cyclades.ram": 1024 * 2 ** 20,
                                "cyclades.disk": GiB})
    assert usage(cloud.user, base, "cyclades.vm") == 1 and usage(cloud.user, base, "cyclades.cpu") == 1
    r = reassign(cloud, f"/servers/{sid}", project)
    assert r.status_code == 200, r.content
    vm = VirtualMachine.objects.get(pk=sid)
    assert vm.project == project and vm.userid == base
    assert {v.project for v in Volume.objects.filter(machine=vm)} == {project}
    for resource, amount in (("cyclades.vm", 1), ("cyclades.cpu", 1), ("cyclades.ram", 1024 * 2 ** 20), ("cyclades.disk", GiB)):
        assert usage(cloud.user, project, resource) == amount and usage(cloud.user, base, resource) == 0
    assert cloud.call("GET", f"/servers/{sid}").json()["server"]["tenant_id"] == project
    # Stopping it gives back the CPU and RAM of the project it is in now; deleting, the rest.
    assert cloud.call("POST", f"/servers/{sid}/action", {"os-stop": {}}).status_code == 202
    cloud.settle()
    assert usage(cloud.user, project, "cyclades.cpu") == 0 and usage(cloud.user, project, "cyclades.vm") == 1
    assert reassign(cloud, f"/servers/{sid}", base).status_code == 200  # back, stopped: no CPU/RAM moved
    assert usage(cloud.user, base, "cyclades.vm") == 1 and usage(cloud.user, base, "cyclades.cpu") == 0
    assert usage(cloud.user, project, "cyclades.vm") == 0 and usage(cloud.user, project, "cyclades.disk") == 0


def test_server_over_quota_in_the_target_moves_nothing(cloud, base):
    sid = server(cloud)
    project = join(cloud.user, {"cyclades.vm": 1, "cyclades.total_cpu": 1, "cyclades.cpu": 1,
                                "cyclades.total_ram": 1024 * 2 ** 20, "cyclades.ram": 1024 * 2 ** 20})  # no disk
    r = reassign(cloud, f"/servers/{sid}", project)
    assert r.status_code == 413 and "cyclades.disk" in r.json()["overLimit"]["message"]
    assert VirtualMachine.objects.get(pk=sid).project == base
    assert usage(cloud.user, base, "cyclades.vm") == 1 and usage(cloud.user, project, "cyclades.vm") == 0


def test_bad_reassign_requests_change_nothing(cloud, base, make_user):
    sid = server(cloud)
    stranger = str(uuid.uuid4())  # a project the user is not a member of
    r = reassign(cloud, f"/servers/{sid}", stranger)
    assert r.status_code == 403 and "not a member" in r.json()["forbidden"]["message"]
    assert reassign(cloud, f"/servers/{sid}", "nope").status_code == 400
    r = cloud.call("POST", f"/servers/{sid}/action", {"reassign": {}})
    assert r.status_code == 400 and "project" in r.json()["badRequest"]["message"]
    r = reassign(cloud, f"/servers/{sid}", base, shared_to_project=True)
    assert r.status_code == 403 and "Sharing" in r.json()["forbidden"]["message"]
    _, _, bob_token = make_user("bob@example.org")
    assert reassign(cloud, f"/servers/{sid}", base, token=bob_token).status_code == 404
    # A pending action: refused.
    assert cloud.call("POST", f"/servers/{sid}/action", {"os-stop": {}}).status_code == 202
    project = join(cloud.user, {"cyclades.vm": 1})
    assert reassign(cloud, f"/servers/{sid}", project).status_code == 409
    cloud.settle()
    assert VirtualMachine.objects.get(pk=sid).project == base and usage(cloud.user, base, "cyclades.vm") == 1


def test_network_and_floating_ip(cloud, base):
    from synnefo.cyclades.logic import networks

    call_command("pool-create", "--type=mac-prefix", "--base=aa:00:0", "--size=65536", stdout=None)
    r = cloud.call("POST", "/networks", {"network": {"name": "mine", "type": "MAC_FILTERED"}}, api="network")
    assert r.status_code == 201, r.content
    nid = r.json()["network"]["id"]
    project = join(cloud.user, {"cyclades.network.private": 1, "cyclades.floating_ip": 1})
    assert reassign(cloud, f"/networks/{nid}", project).status_code == 200
    assert Network.objects.get(pk=nid).project == project
    assert usage(cloud.user, project, "cyclades.network.private") == 1
    assert usage(cloud.user, base, "cyclades.network.private") == 0
    shown = cloud.call("GET", f"/networks/{nid}", api="network").json()["network"]
    assert shown["tenant_id"] == project
    # A second network does not fit the project's limit of one.
    other = cloud.call("POST", "/networks", {"network": {"name": "two", "type": "MAC_FILTERED"}}, api="network")
    other_id = other.json()["network"]["id"]
    assert reassign(cloud, f"/networks/{other_id}", project).status_code == 413
    assert Network.objects.get(pk=other_id).project == base
    # Deleting the reassigned network gives the quota back to its project.
    assert cloud.call("DELETE", f"/networks/{nid}", api="network").status_code == 204
    assert usage(cloud.user, project, "cyclades.network.private") == 0
    # Public networks are the administrators'.
    pool = Network.objects.create(name="internet", public=True, flavor="CUSTOM", mode="bridged", link="br0",
                                  mac_prefix="aa:00:0", state="ACTIVE", floating_ip_pool=True)
    networks.create_subnet(pool, "203.0.113.0/29")
    assert reassign(cloud, f"/networks/{pool.id}", project).status_code == 403
    r = cloud.call("POST", f"/networks/{other_id}/action", {"rename": {}}, api="network")
    assert r.status_code == 400 and "reassign" in r.json()["badRequest"]["message"]
    # A floating IP.
    r = cloud.call("POST", "/floatingips", {"floatingip": {"floating_network_id": str(pool.id)}}, api="network")
    fid = r.json()["floatingip"]["id"]
    assert reassign(cloud, f"/floatingips/{fid}", project).status_code == 200
    assert IPAddress.objects.get(pk=fid).project == project
    assert usage(cloud.user, project, "cyclades.floating_ip") == 1 and usage(cloud.user, base, "cyclades.floating_ip") == 0
    assert cloud.call("GET", f"/floatingips/{fid}", api="network").json()["floatingip"]["tenant_id"] == project
    assert cloud.call("DELETE", f"/floatingips/{fid}", api="network").status_code == 204
    assert usage(cloud.user, project, "cyclades.floating_ip") == 0
    assert reassign(cloud, "/floatingips/999999", project).status_code == 404


def test_volume(cloud, base, settings):
    settings.CYCLADES_DETACHABLE_DISK_TEMPLATES = ["drbd"]
    sid = server(cloud)
    vt = cloud.flavors[0].volume_type
    r = cloud.call("POST", "/volumes", {"volume": {"size": 1, "volume_type": vt.name}}, api="volume",
                   version=f"v3/{base}")
    assert r.status_code == 202, r.content
    vid = r.json()["volume"]["id"]
    project = join(cloud.user, {"cyclades.disk": GiB})
    assert reassign(cloud, f"/volumes/{vid}", project).status_code == 200
    assert Volume.objects.get(pk=vid).project == project
    assert usage(cloud.user, project, "cyclades.disk") == GiB and usage(cloud.user, base, "cyclades.disk") == GiB  # the root
    # A server's root volume goes with the server; a volume of another project is not attached.
    root = Volume.objects.get(machine_id=sid, index=0)
    r = reassign(cloud, f"/volumes/{root.id}", project)
    assert r.status_code == 409 and "goes with the server" in r.json()["conflict"]["message"]
    assert Volume.objects.get(pk=root.id).project == base
    r = cloud.call("POST", f"/servers/{sid}/os-volume_attachments", {"volumeAttachment": {"volumeId": vid}}, version="v2.1")
    assert r.status_code == 409 and "reassign one of them" in r.json()["conflict"]["message"]


def test_volume_over_quota_or_busy_stays(cloud, base, settings):
    settings.CYCLADES_DETACHABLE_DISK_TEMPLATES = ["drbd"]
    vt = cloud.flavors[0].volume_type
    r = cloud.call("POST", "/volumes", {"volume": {"size": 2, "volume_type": vt.name}}, api="volume", version="v2.0")
    vid = r.json()["volume"]["id"]
    project = join(cloud.user, {"cyclades.disk": GiB})
    r = reassign(cloud, f"/volumes/{vid}", project)
    assert r.status_code == 413 and "cyclades.disk" in r.json()["overLimit"]["message"]
    assert Volume.objects.get(pk=vid).project == base and usage(cloud.user, base, "cyclades.disk") == 2 * GiB
    Volume.objects.filter(pk=vid).update(status="ERROR")
    r = reassign(cloud, f"/volumes/{vid}", project)
    assert r.status_code == 409 and "only available volumes" in r.json()["conflict"]["message"]
    # The Synnefo v2.0 spelling of the same URL.
    Volume.objects.filter(pk=vid).update(status="AVAILABLE", size=1)
    r = cloud.call("POST", f"/volumes/{vid}/action", {"reassign": {"project": project}}, api="volume", version="v2.0")
    assert r.status_code == 200 and Volume.objects.get(pk=vid).project == project


def test_a_server_in_error_or_with_a_floating_ip_moves(cloud, base):
    from synnefo.cyclades.logic import networks

    pool = Network.objects.create(name="internet", public=True, flavor="CUSTOM", mode="bridged", link="br0",
                                  mac_prefix="aa:00:0", state="ACTIVE", floating_ip_pool=True)
    networks.create_subnet(pool, "203.0.113.0/29")
    r = cloud.call("POST", "/floatingips", {"floatingip": {"floating_network_id": str(pool.id)}}, api="network")
    ip = r.json()["floatingip"]
    sid = server(cloud)
    VirtualMachine.objects.filter(pk=sid).update(operstate="ERROR")
    project = join(cloud.user, {"cyclades.vm": 1, "cyclades.total_cpu": 1, "cyclades.cpu": 1, "cyclades.floating_ip": 1,
                                "cyclades.total_ram": 1024 * 2 ** 20, "cyclades.ram": 1024 * 2 ** 20,
                                "cyclades.disk": GiB})
    assert reassign(cloud, f"/servers/{sid}", project).status_code == 200  # any state
    assert usage(cloud.user, project, "cyclades.cpu") == 1  # ERROR holds the online resources too
    # A floating IP a port uses moves as well; the port keeps it.
    port = cloud.call("POST", "/ports", {"port": {"network_id": str(pool.id)}}, api="network").json()["port"]
    assert reassign(cloud, f"/floatingips/{ip['id']}", project).status_code == 200
    assert IPAddress.objects.get(pk=ip["id"]).nic_id == int(port["id"])
    # A suspended server refuses its owner's actions.
    VirtualMachine.objects.filter(pk=sid).update(suspended=True)
    assert reassign(cloud, f"/servers/{sid}", base).status_code == 403
    assert VirtualMachine.objects.get(pk=sid).project == project
