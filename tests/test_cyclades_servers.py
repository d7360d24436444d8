"""Servers through the compute API on a simulated Ganeti backend: the life cycle kamaki and the
openstack CLI drive, quotas per action (returned when a job fails), and bad input."""

import base64

import pytest

from synnefo.astakos.quotaholder.logic import user_quotas
from synnefo.cyclades.models import ServerParams, VirtualMachine
from tests.compute_helpers import cloud  # noqa: F401
from tests.pithos_helpers import small_blocks  # noqa: F401

pytestmark = pytest.mark.django_db
GiB = 1024 ** 3


def usage(cloud, resource):
    quotas = user_quotas([str(cloud.user.uuid)], "cyclades")[str(cloud.user.uuid)]
    (holding,) = [h for project, q in quotas.items() for r, h in q.items() if r == resource]
    return holding["usage"]


def create(cloud, **fields):
    body = {"name": "s1", "imageRef": cloud.image_id, "flavorRef": cloud.flavors[0].id}
    body.update(fields)
    return cloud.call("POST", "/servers", {"server": body})


def test_life_cycle_with_quotas(cloud):
    r = create(cloud)
    assert r.status_code == 202, r.content
    server = r.json()["server"]
    assert server["status"] == "BUILD" and len(server["adminPass"]) >= 10 and r["Location"].endswith(f"/servers/{server['id']}")
    assert server["metadata"] == {"users": "root"}  # copied from the image, as upstream
    sid = server["id"]
    assert usage(cloud, "cyclades.vm") == 1 and usage(cloud, "cyclades.cpu") == 1
    assert usage(cloud, "cyclades.ram") == 1024 * 1024 ** 2 and usage(cloud, "cyclades.disk") == GiB
    instance = f"snf-{sid}"
    cloud.settle()
    assert cloud.cluster.instances[instance]["beparams"]["maxmem"] == 1024
    assert cloud.call("GET", f"/servers/{sid}").json()["server"]["status"] == "ACTIVE"
    # Shutdown releases the online resources once the job succeeded.
    assert cloud.call("POST", f"/servers/{sid}/action", {"os-stop": None}).status_code == 202
    shown = cloud.call("GET", f"/servers/{sid}").json()["server"]
    assert shown["status"] == "ACTIVE" and shown["SNF:task_state"] == "STOPPING"
    assert cloud.call("POST", f"/servers/{sid}/action", {"start": {}}).status_code == 409  # pending task
    cloud.settle()
    assert cloud.call("GET", f"/servers/{sid}").json()["server"]["status"] == "STOPPED"
    shown = cloud.call("GET", f"/servers/{sid}", version="v2.1").json()["server"]  # Nova's words for openstack
    assert shown["status"] == "SHUTOFF" and shown["OS-EXT-STS:vm_state"] == "stopped"
    assert usage(cloud, "cyclades.cpu") == 0 and usage(cloud, "cyclades.vm") == 1
    # Resize (stopped): CPUs and RAM only.
    bigger = cloud.flavors[3]
    assert cloud.call("POST", f"/servers/{sid}/action", {"resize": {"flavorRef": bigger.id}}).status_code == 202
    cloud.settle()
    shown = cloud.call("GET", f"/servers/{sid}").json()["server"]
    assert shown["flavor"]["id"] == bigger.id and usage(cloud, "cyclades.total_cpu") == 2
    assert cloud.call("POST", f"/servers/{sid}/action", {"start": {}}).status_code == 202
    cloud.settle()
    assert usage(cloud, "cyclades.cpu") == 2 and cloud.call("GET", f"/servers/{sid}").json()["server"]["status"] == "ACTIVE"
    assert cloud.call("POST", f"/servers/{sid}/action", {"reboot": {"type": "HARD"}}).status_code == 202
    cloud.settle()
    # Rename, metadata.
    assert cloud.call("PUT", f"/servers/{sid}", {"server": {"name": "renamed"}}).json()["server"]["name"] == "renamed"
    assert cloud.call("POST", f"/servers/{sid}/metadata", {"metadata": {"role": "web"}}).json()["metadata"]["role"] == "web"
    assert cloud.call("GET", f"/servers/{sid}/metadata/role").json() == {"meta": {"role": "web"}}
    assert cloud.call("DELETE", f"/servers/{sid}/metadata/role").status_code == 204
    # Delete: everything returns when the removal succeeded.
    assert cloud.call("DELETE", f"/servers/{sid}").status_code == 204
    cloud.settle()
    assert instance not in cloud.cluster.instances
    assert cloud.call("GET", f"/servers/{sid}").json()["server"]["status"] == "DELETED"
    assert cloud.call("GET", "/servers").json() == {"servers": []}
    for resource in ("cyclades.vm", "cyclades.cpu", "cyclades.ram", "cyclades.total_cpu", "cyclades.disk"):
        assert usage(cloud, resource) == 0, resource


def test_a_failed_job_gives_its_quota_back(cloud):
    sid = create(cloud).json()["server"]["id"]
    cloud.settle()
    cloud.call("POST", f"/servers/{sid}/action", {"shutdown": {}})
    cloud.settle()
    # The instance vanishes behind our back: the start job fails, the start's quota returns.
    del cloud.cluster.instances[f"snf-{sid}"]
    assert cloud.call("POST", f"/servers/{sid}/action", {"start": {}}).status_code == 202
    assert usage(cloud, "cyclades.cpu") == 1  # pending commission counts
    cloud.settle()
    assert usage(cloud, "cyclades.cpu") == 0
    vm = VirtualMachine.objects.get(pk=sid)
    assert vm.operstate == "STOPPED" and vm.task is None and vm.backendjobstatus == "error"
    # Deleting it: the removal job fails because the instance is gone, which counts as removed.
    assert cloud.call("DELETE", f"/servers/{sid}").status_code == 204
    cloud.settle()
    assert VirtualMachine.objects.get(pk=sid).deleted and usage(cloud, "cyclades.vm") == 0


def test_a_failed_build_is_error_until_deleted(cloud, settings):
    settings.GANETI_CREATEINSTANCE_KWARGS = {"os": "no-such-os+default"}
    sid = create(cloud).json()["server"]["id"]
    cloud.settle()
    shown = cloud.call("GET", f"/servers/{sid}").json()["server"]
    assert shown["status"] == "ERROR"
    (diagnostic,) = shown["diagnostics"]
    assert diagnostic["level"] == "ERROR" and "no-such-os" in diagnostic["details"]
    assert cloud.call("POST", f"/servers/{sid}/action", {"start": {}}).status_code == 400
    assert usage(cloud, "cyclades.vm") == 1
    assert cloud.call("DELETE", f"/servers/{sid}").status_code == 204
    cloud.settle()
    assert usage(cloud, "cyclades.vm") == 0 and usage(cloud, "cyclades.ram") == 0


def test_over_quota_is_413_with_details_and_creates_nothing(cloud):
    from django.core.management import call_command

    call_command("quota-modify", str(cloud.user.uuid), "--resource", "cyclades.vm", "--limit", "1", stdout=None)
    assert create(cloud).status_code == 202
    r = create(cloud, name="s2")
    assert r.status_code == 413
    fault = r.json()["overLimit"]
    assert "cyclades.vm" in fault["message"] and "limit 1" in fault["details"]
    assert VirtualMachine.objects.count() == 1 and len(cloud.cluster.jobs) == 1


@pytest.mark.parametrize("fields, status", [
    ({"imageRef": "9f92995e-ec8b-4d63-925f-70a612b0874f"}, 400),
    ({"flavorRef": 9999}, 400),
    ({"name": ""}, 400),
    ({"name": "x" * 300}, 400),
    ({"metadata": {str(i): "v" for i in range(11)}}, 400),
    ({"metadata": {"k": 5}}, 400),
    ({"personality": [{"path": "/etc/motd", "contents": "not base64!"}]}, 400),
    ({"personality": [{"path": "/x", "contents": base64.b64encode(b"x" * 20000).decode()}]}, 413),
    ({"adminPass": "short"}, 400),
    ({"max_count": 3}, 400),
    ({"networks": [{"uuid": "net-1"}]}, 400),
    ({"block_device_mapping_v2": [{"source_type": "volume", "uuid": "x"}]}, 400),
])
def test_bad_creates_change_nothing(cloud, fields, status):
    r = create(cloud, **fields)
    assert r.status_code == status, r.content
    assert not VirtualMachine.objects.exists() and not cloud.cluster.jobs
    assert usage(cloud, "cyclades.vm") == 0


def test_openstack_style_create_with_block_device_mapping(cloud):
    body = {"name": "s1", "flavorRef": cloud.flavors[0].id, "min_count": 1, "max_count": 1,
            "block_device_mapping_v2": [{"uuid": cloud.image_id, "boot_index": 0, "source_type": "image",
                                         "destination_type": "local", "delete_on_termination": True}]}
    r = cloud.call("POST", "/servers", {"server": body})
    assert r.status_code == 202, r.content
    assert r.json()["server"]["image"]["id"] == cloud.image_id


def test_other_users_servers_are_404(cloud, make_user):
    sid = create(cloud).json()["server"]["id"]
    _, _, other = make_user("mallory@example.org")
    for method, path, body in (("GET", f"/servers/{sid}", None), ("DELETE", f"/servers/{sid}", None),
                               ("POST", f"/servers/{sid}/action", {"os-stop": None}),
                               ("PUT", f"/servers/{sid}", {"server": {"name": "mine"}}),
                               ("GET", f"/servers/{sid}/metadata", None)):
        assert cloud.call(method, path, body, token=other).status_code == 404
    assert cloud.call("GET", "/servers/detail", token=other).json() == {"servers": []}
    cloud.settle()
    assert VirtualMachine.objects.get(pk=sid).name == "s1" and f"snf-{sid}" in cloud.cluster.instances


def test_actions_in_the_wrong_state(cloud):
    sid = create(cloud).json()["server"]["id"]
    r = cloud.call("POST", f"/servers/{sid}/action", {"os-stop": None})
    assert r.status_code == 409 and "buildInProgress" in r.json()
    cloud.settle()
    assert cloud.call("POST", f"/servers/{sid}/action", {"start": {}}).status_code == 409  # already running
    r = cloud.call("POST", f"/servers/{sid}/action", {"resize": {"flavorRef": cloud.flavors[1].id}})
    assert r.status_code == 409  # needs STOPPED
    assert cloud.call("POST", f"/servers/{sid}/action", {"fly": {}}).status_code == 400
    assert cloud.call("POST", f"/servers/{sid}/action", {"rebuild": {}}).status_code == 501
    assert cloud.call("POST", f"/servers/{sid}/action", {"reboot": {"type": "GENTLE"}}).status_code == 400
    assert cloud.call("POST", f"/servers/{sid}/action", {"start": {}, "stop": {}}).status_code == 400
    assert cloud.call("GET", "/servers/abc").status_code == 404


def test_changes_since_and_the_deployment_parameters(cloud, monkeypatch):
    import datetime

    from synnefo.cyclades.ganeti.simulated import SimulatedRapiClient

    sent = []
    original = SimulatedRapiClient.create_instance
    monkeypatch.setattr(SimulatedRapiClient, "create_instance",
                        lambda self, *args, **kwargs: sent.append(kwargs) or original(self, *args, **kwargs))
    before = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=1)
    sid = create(cloud, adminPass="Secret-Passw0rd").json()["server"]["id"]
    since = before.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert [s["id"] for s in cloud.call("GET", f"/servers/detail?changes-since={since}").json()["servers"]] == [sid]
    later = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert cloud.call("GET", f"/servers?changes-since={later}").status_code == 304
    assert cloud.call("GET", "/servers?changes-since=yesterday").status_code == 400
    # The password travels only through the one-time config URL, never in what Ganeti gets.
    (kwargs,) = sent
    assert "Secret-Passw0rd" not in repr(kwargs)
    assert set(kwargs["osparams"]) == {"config_url", "img_id", "img_format"}
    assert "Secret-Passw0rd" not in ServerParams.objects.get(vm_id=sid).data_encrypted
    path = "/" + kwargs["osparams"]["config_url"].split("://", 1)[1].split("/", 1)[1]
    r = cloud.client.get(path)
    assert r.status_code == 200
    params = r.json()
    assert params["img_passwd"] == "Secret-Passw0rd" and '"OSFAMILY": "linux"' in params["img_properties"]
    assert cloud.client.get(path).status_code == 404  # read once
    assert cloud.client.get(path[:-3] + "xyz").status_code == 404


def test_keypairs_and_a_server_created_with_one(cloud, make_user, monkeypatch):
    r = cloud.call("POST", "/os-keypairs", {"keypair": {"name": "laptop"}})
    assert r.status_code == 200
    generated = r.json()["keypair"]
    assert generated["private_key"].startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    assert generated["public_key"].startswith("ssh-rsa ") and len(generated["fingerprint"].split(":")) == 16
    imported = cloud.call("POST", "/os-keypairs", {"keypair": {"name": "desk", "public_key": generated["public_key"]}}).json()["keypair"]
    assert "private_key" not in imported and imported["fingerprint"] == generated["fingerprint"]
    assert [k["keypair"]["name"] for k in cloud.call("GET", "/os-keypairs").json()["keypairs"]] == ["desk", "laptop"]
    assert cloud.call("GET", "/os-keypairs/desk").json()["keypair"]["public_key"] == generated["public_key"]
    for body, status in (({"name": "laptop"}, 409), ({"name": "bad/name"}, 400), ({"name": "x", "public_key": "ssh-rsa nope"}, 400),
                         ({"name": ""}, 400)):
        assert cloud.call("POST", "/os-keypairs", {"keypair": body}).status_code == status, body
    _, _, other = make_user("eve@example.org")
    assert cloud.call("GET", "/os-keypairs/desk", token=other).status_code == 404
    assert cloud.call("GET", "/os-keypairs", token=other).json() == {"keypairs": []}
    # A server with a key: the key goes to snf-image through the one-time parameters.
    from synnefo.cyclades.logic import servers

    stored = []
    original = servers._store_params
    monkeypatch.setattr(servers, "_store_params", lambda *a: stored.append(a) or original(*a))
    assert create(cloud, key_name="nope").status_code == 400
    r = create(cloud, key_name="laptop")
    assert r.status_code == 202 and r.json()["server"]["key_name"] == "laptop"
    assert stored[-1][-1] == [generated["public_key"]]
    assert cloud.call("DELETE", "/os-keypairs/laptop").status_code == 202
    assert cloud.call("DELETE", "/os-keypairs/laptop").status_code == 404


def test_build_progress_and_diagnostics_from_snf_image(cloud):
    from synnefo.cyclades.logic import callbacks

    sid = create(cloud).json()["server"]["id"]
    name = f"snf-{sid}"
    for msg in ({"type": "image-copy-progress", "progress": 42.5, "position": 1, "total": 2},
                {"type": "image-helper", "subtype": "task-start", "task": "FixPartitionTable"},
                {"type": "image-warning", "messages": ["no swap partition"]},
                {"type": "image-error", "messages": ["disk full"], "stderr": "dd: error"}):
        with cloud.on_commit(execute=True):
            callbacks.apply_progress({**msg, "instance": name, "event_time": [1_800_000_000, 0]})
    shown = cloud.call("GET", f"/servers/{sid}").json()["server"]
    assert shown["progress"] == 42
    levels = sorted((d["level"], d["source"], d["message"]) for d in shown["diagnostics"])
    assert levels == [("ERROR", "image-error", "disk full"), ("INFO", "image-helper-task-start", "task-start FixPartitionTable"),
                      ("WARNING", "image-warning", "no swap partition")]
    assert [d["details"] for d in shown["diagnostics"] if d["level"] == "ERROR"] == ["dd: error"]
    assert cloud.call("GET", f"/servers/{sid}/diagnostics").json() == shown["diagnostics"]


def test_a_backend_that_goes_offline_mid_build(cloud):
    sid = create(cloud).json()["server"]["id"]
    cloud.backend.offline = True
    cloud.backend.save()
    # Nothing reaches Ganeti while it is offline: a delete is 503 and changes nothing.
    r = cloud.call("DELETE", f"/servers/{sid}")
    assert r.status_code == 503 and "serviceUnavailable" in r.json()
    assert VirtualMachine.objects.get(pk=sid).task == "BUILD" and usage(cloud, "cyclades.vm") == 1
    # A new server goes nowhere (the only backend is offline): 503, nothing created or charged.
    assert create(cloud, name="s2").status_code == 503
    assert VirtualMachine.objects.count() == 1 and usage(cloud, "cyclades.vm") == 1
    # Back online, the build's events arrive and the server can be deleted.
    cloud.backend.offline = False
    cloud.backend.save()
    cloud.settle()
    assert cloud.call("GET", f"/servers/{sid}").json()["server"]["status"] == "ACTIVE"
    assert cloud.call("DELETE", f"/servers/{sid}").status_code == 204
    cloud.settle()
    assert usage(cloud, "cyclades.vm") == 0


def test_an_ext_archipelago_root_disk_is_a_thin_clone_of_the_image(cloud, settings, tmp_path):
    """Cyclades makes the root volume's map in the volume store (a thin clone of the image)
    before it submits the job, and the disk names it: the ExtStorage create script adopts it."""
    from synnefo.archipelago import pithos as archip_pithos
    from synnefo.cyclades.models import Flavor, Volume, VolumeType
    from synnefo.plankton import backend as plankton

    settings.SYNNEFO_DATA_DIR = str(tmp_path / "data")  # the node's derived volume store
    vt = VolumeType.objects.create(name="Archipelago", disk_template="ext_archipelago")
    flavor = Flavor.objects.create(cpu=1, ram=1024, disk=1, volume_type=vt)
    store = archip_pithos.node_store("node1/blockerm")
    r = create(cloud, flavorRef=flavor.id)
    assert r.status_code == 202, r.content
    sid = r.json()["server"]["id"]
    (root,) = Volume.objects.filter(machine_id=sid)
    op = cloud.cluster.jobs[VirtualMachine.objects.get(pk=sid).backendjobid]["ops"][0]["input"]
    assert op["disk_template"] == "ext"
    assert op["disks"] == [{"size": 1024, "provider": "archipelago", "name": f"snf-vol-{root.id}"}]
    image = plankton.any_image(cloud.image_id)
    assert root.origin == f"snf-vol-{root.id}" and store.map_of(root.origin).size == 1 << 30
    assert store.read(root.origin, 0, image.size) == b"image" * 100
    assert store.info(root.origin)["writable"] == 0  # shared blocks and zeros: no data copied
    cloud.settle()
    assert cloud.call("GET", f"/servers/{sid}").json()["server"]["status"] == "ACTIVE"

    # Another volume type: its size and name only.
    drbd = create(cloud, flavorRef=cloud.flavors[0].id).json()["server"]["id"]
    op = cloud.cluster.jobs[VirtualMachine.objects.get(pk=drbd).backendjobid]["ops"][0]["input"]
    assert op["disks"] == [{"size": 1024, "name": f"snf-vol-{Volume.objects.get(machine_id=drbd).id}"}]


def test_an_image_the_volume_store_cannot_clone_creates_nothing(cloud, settings, tmp_path):
    from synnefo.cyclades.models import Flavor, VolumeType

    settings.SYNNEFO_DATA_DIR = str(tmp_path / "data")
    settings.ARCHIPELAGO_CONFIG = str(tmp_path / "missing")  # the store is not configured
    vt = VolumeType.objects.create(name="Archipelago", disk_template="ext_archipelago")
    flavor = Flavor.objects.create(cpu=1, ram=1024, disk=1, volume_type=vt)
    jobs = set(cloud.cluster.jobs)
    r = create(cloud, flavorRef=flavor.id)
    assert r.status_code == 503, r.content
    message = r.json()["serviceUnavailable"]["message"]
    assert "cannot be cloned to a volume" in message and str(tmp_path) not in message  # no server paths
    assert set(cloud.cluster.jobs) == jobs and not VirtualMachine.objects.exists()
    assert usage(cloud, "cyclades.vm") == 0
