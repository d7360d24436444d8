"""Servers through the compute API on REAL Ganeti (the sandbox cluster), with the real update
path: snf-ganeti-eventd watching the job queue, RabbitMQ, the dispatcher. Build -> ACTIVE,
shutdown -> STOPPED, start, reboot, resize, delete -> DELETED, quotas back to zero."""

import json

import pytest

from synnefo.astakos.quotaholder.logic import user_quotas
from synnefo.cyclades.logic.backends import create_backend
from synnefo.cyclades.models import Flavor, VirtualMachine, Volume, VolumeType
from tests.compute_helpers import register_image
from tests.ganeti_helpers import ganeti_disks
from tests.pithos_helpers import Store, small_blocks  # noqa: F401
from tests.test_cyclades_ganeti_e2e import dispatch_until, eventd, ganeti  # noqa: F401

C = "/cyclades/compute/v2.0"
V = "/cyclades/volume/v2.0"


def usage(user, resource):
    quotas = user_quotas([str(user.uuid)], "cyclades")[str(user.uuid)]
    return sum(h["usage"] for q in quotas.values() for r, h in q.items() if r == resource)


@pytest.mark.django_db(transaction=True)
def test_server_life_cycle_on_real_ganeti(ganeti, eventd, client, make_user, small_blocks, settings):  # noqa: F811
    _, log_file = eventd
    user, _, token = make_user("ganeti-user@example.org")
    image_id = register_image(client, Store(client, user, token), osfamily="linux")
    backend = create_backend(ganeti["GANETI_CLUSTER_NAME"], int(ganeti["GANETI_RAPI_PORT"]), ganeti["GANETI_RAPI_USER"],
                             ganeti["GANETI_RAPI_PASSWORD"], host=ganeti["GANETI_RAPI_HOST"], ca_file=ganeti["GANETI_RAPI_CA"])
    backend.drained = False
    backend.save()
    template = "file" if "file" in backend.disk_templates else "diskless"
    vt = VolumeType.objects.create(name="Files", disk_template=template)
    small = Flavor.objects.create(cpu=1, ram=128, disk=1, volume_type=vt)
    big = Flavor.objects.create(cpu=2, ram=256, disk=1, volume_type=vt)

    def call(method, path, body=None):
        return client.generic(method, C + path, data=json.dumps(body) if body is not None else b"",
                              content_type="application/json", HTTP_X_AUTH_TOKEN=token)

    def status():
        return call("GET", f"/servers/{sid}").json()["server"]["status"]

    def settle(expected, timeout=90):
        dispatch_until(lambda: status() == expected and VirtualMachine.objects.get(pk=sid).task is None, timeout)
        assert status() == expected, log_file.read_text()[-3000:]

    r = call("POST", "/servers", {"server": {"name": "real", "imageRef": image_id, "flavorRef": small.id}})
    assert r.status_code == 202, r.content
    sid = r.json()["server"]["id"]
    rapi = backend.get_client()
    name = VirtualMachine.objects.get(pk=sid).backend_vm_id
    try:
        settle("ACTIVE")
        instance = rapi.get_instance(name)
        assert instance["beparams"]["maxmem"] == 128 and instance["os"] == "snf-image+default"
        (root,) = Volume.objects.filter(machine_id=sid)
        assert instance["disk.names"] == [root.backend_volume_uuid] and root.status == "IN_USE"
        # A second disk through the volume API: Ganeti's disk add job, settled by the dispatcher.
        r = client.generic("POST", "/cyclades/volume/v2.0/volumes", data=json.dumps({"volume": {"size": 1, "server_id": sid}}),
                           content_type="application/json", HTTP_X_AUTH_TOKEN=token)
        assert r.status_code == 202, r.content
        vid = int(r.json()["volume"]["id"])
        added = Volume.objects.get(pk=vid).backend_volume_uuid
        dispatch_until(lambda: Volume.objects.get(pk=vid).status != "CREATING", 90)
        assert Volume.objects.get(pk=vid).status == "IN_USE", log_file.read_text()[-3000:]
        assert rapi.get_instance(name)["disk.names"] == [root.backend_volume_uuid, added]
        assert usage(user, "cyclades.disk") == 2 * 1024 ** 3
        settle("ACTIVE")
        # Detached (Ganeti keeps the disk) and attached again (Ganeti's attach of that disk).
        settings.CYCLADES_DETACHABLE_DISK_TEMPLATES = (template,)
        assert call("DELETE", f"/servers/{sid}/os-volume_attachments/{vid}").status_code == 202
        dispatch_until(lambda: Volume.objects.get(pk=vid).status != "DETACHING", 90)
        assert Volume.objects.get(pk=vid).status == "AVAILABLE", log_file.read_text()[-3000:]
        assert rapi.get_instance(name)["disk.names"] == [root.backend_volume_uuid]
        r = call("POST", f"/servers/{sid}/os-volume_attachments", {"volumeAttachment": {"volumeId": str(vid)}})
        assert r.status_code == 200, r.content
        dispatch_until(lambda: Volume.objects.get(pk=vid).status != "ATTACHING", 90)
        assert Volume.objects.get(pk=vid).status == "IN_USE", log_file.read_text()[-3000:]
        assert rapi.get_instance(name)["disk.names"] == [root.backend_volume_uuid, added]
        settle("ACTIVE")
        assert usage(user, "cyclades.cpu") == 1 and usage(user, "cyclades.vm") == 1
        assert call("POST", f"/servers/{sid}/action", {"shutdown": {}}).status_code == 202
        settle("STOPPED")
        assert usage(user, "cyclades.cpu") == 0
        assert call("POST", f"/servers/{sid}/action", {"resize": {"flavorRef": big.id}}).status_code == 202
        settle("STOPPED")
        assert call("GET", f"/servers/{sid}").json()["server"]["flavor"]["id"] == big.id
        assert rapi.get_instance(name)["beparams"]["vcpus"] == 2
        assert call("POST", f"/servers/{sid}/action", {"start": {}}).status_code == 202
        settle("ACTIVE")
        assert usage(user, "cyclades.cpu") == 2
        assert call("POST", f"/servers/{sid}/action", {"reboot": {"type": "HARD"}}).status_code == 202
        settle("ACTIVE")
        assert call("DELETE", f"/servers/{sid}").status_code == 204
        settle("DELETED")
        for resource in ("cyclades.vm", "cyclades.cpu", "cyclades.ram", "cyclades.total_cpu", "cyclades.disk"):
            assert usage(user, resource) == 0, resource
    finally:
        try:
            rapi.wait_for_job(rapi.delete_instance(name, shutdown_timeout=0), raise_on_error=False)
        except Exception:  # noqa: BLE001 - already gone
            pass


@pytest.mark.django_db(transaction=True)
def test_deleting_a_detached_volume_removes_its_disk_from_ganeti(ganeti, eventd, client, make_user, small_blocks,  # noqa: F811
                                                                  settings):
    """Ganeti 3.0 keeps a detached disk in its configuration; deleting the volume attaches it to
    the backend's helper instance (created for it, never started) and removes it there."""
    _, log_file = eventd
    user, _, token = make_user("ganeti-volumes@example.org")
    image_id = register_image(client, Store(client, user, token), osfamily="linux")
    backend = create_backend(ganeti["GANETI_CLUSTER_NAME"], int(ganeti["GANETI_RAPI_PORT"]), ganeti["GANETI_RAPI_USER"],
                             ganeti["GANETI_RAPI_PASSWORD"], host=ganeti["GANETI_RAPI_HOST"], ca_file=ganeti["GANETI_RAPI_CA"])
    backend.drained = False
    backend.save()
    vt = VolumeType.objects.create(name="Files", disk_template="file")
    flavor = Flavor.objects.create(cpu=1, ram=128, disk=1, volume_type=vt)
    settings.CYCLADES_DETACHABLE_DISK_TEMPLATES = ("file",)

    def call(method, path, body=None, api=C):
        return client.generic(method, api + path, data=json.dumps(body) if body is not None else b"",
                              content_type="application/json", HTTP_X_AUTH_TOKEN=token)

    def volume_status(vid):
        return Volume.objects.get(pk=vid).status

    r = call("POST", "/servers", {"server": {"name": "vols", "imageRef": image_id, "flavorRef": flavor.id}})
    assert r.status_code == 202, r.content
    sid = r.json()["server"]["id"]
    rapi = backend.get_client()
    name = VirtualMachine.objects.get(pk=sid).backend_vm_id
    helper = f"{settings.BACKEND_PREFIX_ID}helper-file"
    try:
        dispatch_until(lambda: VirtualMachine.objects.get(pk=sid).operstate == "STARTED", 90)
        r = call("POST", "/volumes", {"volume": {"size": 1, "server_id": sid}}, api=V)
        assert r.status_code == 202, r.content
        vid = int(r.json()["volume"]["id"])
        disk = Volume.objects.get(pk=vid).backend_volume_uuid
        dispatch_until(lambda: volume_status(vid) != "CREATING", 90)
        assert volume_status(vid) == "IN_USE", log_file.read_text()[-3000:]
        dispatch_until(lambda: VirtualMachine.objects.get(pk=sid).task is None, 30)
        assert call("DELETE", f"/servers/{sid}/os-volume_attachments/{vid}").status_code == 202
        dispatch_until(lambda: volume_status(vid) != "DETACHING", 90)
        assert volume_status(vid) == "AVAILABLE", log_file.read_text()[-3000:]
        assert ganeti_disks(ganeti)[disk] is False  # Ganeti keeps it, on no instance
        assert call("DELETE", f"/volumes/{vid}", api=V).status_code == 202
        assert volume_status(vid) == "DELETING"
        dispatch_until(lambda: volume_status(vid) != "DELETING", 90)
        assert volume_status(vid) == "DELETED", log_file.read_text()[-3000:]
        assert disk not in ganeti_disks(ganeti)
        assert Volume.objects.get(pk=vid).detached_on is None and usage(user, "cyclades.disk") == 1024 ** 3
        kept = rapi.get_instance(helper)
        assert kept["admin_state"] == "down" and kept["disk_template"] == "file" and len(kept["disk.names"]) == 1
        assert [s["id"] for s in call("GET", "/servers").json()["servers"]] == [sid]  # the helper is no one's server
    finally:
        for instance in (name, helper):
            try:
                rapi.wait_for_job(rapi.delete_instance(instance, shutdown_timeout=0), raise_on_error=False)
            except Exception:  # noqa: BLE001 - already gone
                pass
