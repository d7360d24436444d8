"""The archipelago ExtStorage provider on REAL Ganeti (the sandbox cluster): a server created
through the compute API with an ``ext_archipelago`` flavor gets a thin clone of its image as
root disk (mapped as a block device on the node), is snapshotted through Cyclades' volume API
while it runs (a Pithos file and an image, which a second server on the sandbox clones), grows,
and its volume goes with the server."""

import json
import os
import subprocess
import sys

import pytest

from synnefo.archipelago import pithos as archip_pithos
from synnefo.cyclades.logic.backends import create_backend
from synnefo.cyclades.models import Flavor, VirtualMachine, Volume, VolumeType
from synnefo.pithos.backend.blocks import reset_block_store
from synnefo.pithos.backend.data import digests
from synnefo.plankton import backend as plankton
from synnefo.archipelago.device import mappings
from tests.archip_helpers import Vlmcd, device_support, write_config_file
from tests.compute_helpers import register_image
from tests.ganeti_helpers import ROOT, ganeti_disks
from tests.pithos_helpers import Store
from tests.test_cyclades_ganeti_e2e import dispatch_until, eventd, ganeti  # noqa: F401

C = "/cyclades/compute/v2.0"
V = "/cyclades/volume/v2.0"
MiB, GiB = 1 << 20, 1 << 30


@pytest.fixture
def volume_store(settings, tmp_path, ganeti):  # noqa: F811
    """Real 4 MiB Pithos blocks, a volume store over them, and the provider installed on the
    sandbox's node with this store's configuration (the ext template enabled on the cluster)."""
    settings.PITHOS_BACKEND_BLOCK_PATH = str(tmp_path / "blocks")
    reset_block_store()
    block_size = settings.PITHOS_BACKEND_BLOCK_SIZE
    config = write_config_file(tmp_path / "archipelago", tmp_path / "archip", block_size=block_size)
    config.write_text(config.read_text().replace(f"PITHOS='{tmp_path}/archip/blocks'", f"PITHOS='{tmp_path}/blocks'"))
    (tmp_path / "blocks").mkdir(exist_ok=True)
    settings.ARCHIPELAGO_CONFIG = str(config)
    device_support()
    result = subprocess.run([str(ROOT / "deploy" / "install-extstorage"), "--sandbox", "--python", sys.executable,
                             "--archipelago-config", str(config)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    store = archip_pithos.node_store()
    # The node's vlmcd (its lock owner is the node: <node name>/vlmcd, as the scripts expect).
    vlmcd = Vlmcd(config, store.config.run_dir, {"ARCHIPELAGO_HOST": ganeti["GANETI_NODE_NAME"]})
    try:
        yield store, vlmcd
    finally:
        vlmcd.stop()
        reset_block_store()
        # Leave the shared cluster as it was: without the provider and the ext template.
        subprocess.run([str(ROOT / "deploy" / "install-extstorage"), "--uninstall", "--sandbox"], timeout=120)


class ExtCloud:
    """A user with an image, the sandbox as an undrained backend, an ext_archipelago flavor."""

    def __init__(self, ganeti, client, make_user, store, log_file):  # noqa: F811
        self.client, self.store, self.log_file = client, store, log_file
        self.user, _, self.token = make_user("extstorage@example.org")
        self.pithos = Store(client, self.user, self.token)
        self.image_data = os.urandom(2 * store.block_size + 12345)  # three blocks, the last partial
        self.image = plankton.any_image(register_image(client, self.pithos, data=self.image_data, osfamily="linux"))
        self.backend = create_backend(ganeti["GANETI_CLUSTER_NAME"], int(ganeti["GANETI_RAPI_PORT"]),
                                      ganeti["GANETI_RAPI_USER"], ganeti["GANETI_RAPI_PASSWORD"],
                                      host=ganeti["GANETI_RAPI_HOST"], ca_file=ganeti["GANETI_RAPI_CA"])
        assert self.backend.disk_templates == ["file", "diskless", "ext"]  # added, the others kept
        self.backend.drained = False
        self.backend.save()
        vt = VolumeType.objects.create(name="Archipelago", disk_template="ext_archipelago")
        self.flavor = Flavor.objects.create(cpu=1, ram=128, disk=1, volume_type=vt)
        self.rapi = self.backend.get_client()

    def call(self, method, path, body=None, api=C):
        return self.client.generic(method, api + path, data=json.dumps(body) if body is not None else b"",
                                   content_type="application/json", HTTP_X_AUTH_TOKEN=self.token)

    def create(self, image_id=None) -> tuple[int, str]:
        r = self.call("POST", "/servers", {"server": {"name": "ext", "imageRef": image_id or self.image.id,
                                                       "flavorRef": self.flavor.id}})
        assert r.status_code == 202, r.content
        sid = r.json()["server"]["id"]
        return sid, VirtualMachine.objects.get(pk=sid).backend_vm_id

    def settle(self, sid, expected, timeout=120):
        def done():
            return self.call("GET", f"/servers/{sid}").json()["server"]["status"] == expected and \
                VirtualMachine.objects.get(pk=sid).task is None
        dispatch_until(done, timeout)
        assert self.call("GET", f"/servers/{sid}").json()["server"]["status"] == expected, \
            self.log_file.read_text()[-3000:]

    def remove_instance(self, name):
        try:
            self.rapi.wait_for_job(self.rapi.delete_instance(name, shutdown_timeout=0), raise_on_error=False)
        except Exception:  # noqa: BLE001 - already gone
            pass


@pytest.mark.django_db(transaction=True)
def test_a_server_on_ext_archipelago_gets_a_thin_clone_of_its_image(ganeti, eventd, volume_store, client,  # noqa: F811
                                                                     make_user):
    volume_store, _ = volume_store
    cloud = ExtCloud(ganeti, client, make_user, volume_store, eventd[1])
    image, image_data, pithos, rapi, user = cloud.image, cloud.image_data, cloud.pithos, cloud.rapi, cloud.user
    call = cloud.call

    def settle(expected):
        cloud.settle(sid, expected)

    sid, name = cloud.create()
    volume = Volume.objects.get(machine_id=sid, index=0).backend_volume_uuid  # made by Cyclades, adopted
    try:
        settle("ACTIVE")
        instance = rapi.get_instance(name)
        assert instance["disk_template"] == "ext" and instance["disk.sizes"] == [1024]
        # The root disk is a thin clone: its map names the image's own blocks, nothing copied.
        root = volume_store.map_of(volume)
        assert root.size == GiB and root.entries[:3] == digests(image.version)
        assert all(entry is None for entry in root.entries[3:])
        assert volume_store.read(volume, 0, len(image_data)) == image_data
        assert volume_store.read(volume, len(image_data), 4096) == bytes(4096)
        assert not os.listdir(volume_store.storage.objects_dir)
        # Ganeti attached it: a block device with the image's bytes, writable copy-on-write.
        (mapping,) = [m for m in mappings(volume_store.config) if m.volume == volume]
        fd = os.open(mapping.device, os.O_RDWR)
        try:
            assert os.pread(fd, len(image_data), 0) == image_data
            os.pwrite(fd, b"guest wrote this", 100)  # into an image block: copied up
            os.pwrite(fd, b"and this", 100 * MiB)  # into a zero block: allocated
            os.fsync(fd)
        finally:
            os.close(fd)
        assert volume_store.read(volume, 100, 16) == b"guest wrote this"
        assert len(os.listdir(volume_store.storage.objects_dir)) == 2
        # Ganeti's setinfo: the volume's record names its instance.
        (record,) = [json.loads(p.read_text()) for p in (volume_store.storage.maps_dir / ".extstorage").iterdir()]
        assert record == {"volume": volume, "origin": None, "adopted": True, "metadata": f"originstname+{name}"}

        # A snapshot through Cyclades (POST /snapshots) while the server runs and the node's
        # vlmcd serves its disk: a Pithos file with the volume's bytes of that moment, and an
        # image (Plankton, is_snapshot).
        root_id = Volume.objects.get(machine_id=sid, index=0).id
        r = call("POST", "/snapshots", {"snapshot": {"volume_id": str(root_id), "name": "snap1"}}, api=V)
        assert r.status_code == 202, r.content
        snap = r.json()["snapshot"]
        assert snap["volume_id"] == str(root_id) and snap["status"] == "available" and snap["size"] == 1
        expected = volume_store.read(volume, 0, len(image_data) + 100)
        assert expected[100:116] == b"guest wrote this"
        r = pithos.call("GET", "/snapshots/snap1", HTTP_RANGE=f"bytes=0-{len(image_data) + 99}")
        assert pithos.body(r) == expected
        r = pithos.call("GET", "/snapshots/snap1", HTTP_RANGE=f"bytes={100 * MiB}-{100 * MiB + 7}")
        assert pithos.body(r) == b"and this"
        r = pithos.call("GET", "/snapshots/snap1", HTTP_RANGE=f"bytes={GiB - 100}-")
        assert pithos.body(r) == bytes(100)
        snapshot_image = plankton.get_image(str(user.uuid), snap["id"])
        assert snapshot_image.is_snapshot and snapshot_image.location == f"pithos://{user.uuid}/snapshots/snap1"
        frozen = volume_store.map_of(snapshot_image.properties["archipelago_snapshot"])
        # The guest goes on writing: the snapshot keeps the bytes it had.
        fd = os.open(mapping.device, os.O_RDWR)
        try:
            os.pwrite(fd, b"after the snapshot", 100)
            os.fsync(fd)
        finally:
            os.close(fd)
        assert volume_store.read(volume, 100, 18) == b"after the snapshot"
        r = pithos.call("GET", "/snapshots/snap1", HTTP_RANGE="bytes=100-115")
        assert pithos.body(r) == b"guest wrote this"

        # A volume cloned from the running server's disk (source_volid): its bytes of now.
        r = call("POST", "/volumes", {"volume": {"size": 1, "source_volid": str(root_id)}}, api=V)
        assert r.status_code == 202, r.content
        copy = Volume.objects.get(pk=r.json()["volume"]["id"])
        assert volume_store.read(copy.origin, 100, 18) == b"after the snapshot"
        assert volume_store.info(copy.origin)["writable"] == 0  # the source's (now shared) blocks
        assert volume_store.locks.get(volume).owner == f"{ganeti['GANETI_NODE_NAME']}/vlmcd"  # still served
        assert call("DELETE", f"/volumes/{copy.id}", api=V).status_code == 202
        assert not volume_store.exists(copy.origin)

        # A second server on the sandbox from the snapshot: a thin clone of it (its map names
        # the snapshot's blocks), served by the node's vlmcd with the snapshot's bytes.
        sid2, name2 = cloud.create(snap["id"])
        try:
            cloud.settle(sid2, "ACTIVE")
            volume2 = Volume.objects.get(machine_id=sid2, index=0)
            assert volume2.source == f"snapshot:{snap['id']}"
            assert volume_store.map_of(volume2.backend_volume_uuid).entries == frozen.entries
            (mapping2,) = [m for m in mappings(volume_store.config) if m.volume == volume2.backend_volume_uuid]
            fd = os.open(mapping2.device, os.O_RDONLY)
            try:
                assert os.pread(fd, len(expected), 0) == expected
            finally:
                os.close(fd)
            assert call("DELETE", f"/servers/{sid2}").status_code == 204
            cloud.settle(sid2, "DELETED")
            assert not volume_store.exists(volume2.backend_volume_uuid)
        finally:
            cloud.remove_instance(name2)

        # Grow through Ganeti: the provider's grow script resizes the volume.
        rapi.wait_for_job(rapi.grow_instance_disk(name, 0, 1024))
        assert volume_store.map_of(volume).size == 2 * GiB
        assert rapi.get_instance(name)["disk.sizes"] == [2048]
        assert pithos.body(pithos.call("GET", "/images/debian.diskdump")) == image_data  # untouched

        # Deleting the server removes its volume (Ganeti: detach, then the remove script).
        assert call("DELETE", f"/servers/{sid}").status_code == 204
        settle("DELETED")
        assert not volume_store.exists(volume) and not mappings(volume_store.config)
        assert not list((volume_store.storage.maps_dir / ".extstorage").iterdir())
        assert volume_store.exists(snapshot_image.properties["archipelago_snapshot"])  # the snapshot is its own
        r = pithos.call("GET", "/snapshots/snap1", HTTP_RANGE="bytes=100-115")
        assert pithos.body(r) == b"guest wrote this"
        r = pithos.call("GET", "/images/debian.diskdump")
        assert pithos.body(r) == image_data
    finally:
        cloud.remove_instance(name)


@pytest.mark.django_db(transaction=True)
def test_without_the_nodes_vlmcd_the_server_fails_and_no_volume_is_left(ganeti, eventd, volume_store, client,  # noqa: F811
                                                                        make_user):
    volume_store, vlmcd = volume_store
    cloud = ExtCloud(ganeti, client, make_user, volume_store, eventd[1])
    vlmcd.stop()  # the node cannot map volumes now
    sid, name = cloud.create()
    try:
        cloud.settle(sid, "ERROR")
        job = cloud.rapi.get_job_status(VirtualMachine.objects.get(pk=sid).backendjobid)
        assert "vlmcd is not running on this node" in json.dumps(job["opresult"]), job["opresult"]
        # Nothing left behind in the store (Ganeti would not remove a disk it cannot attach).
        assert [n for n, _ in volume_store.list()] == [] and not (volume_store.storage.maps_dir / ".extstorage").exists()
        assert cloud.call("DELETE", f"/servers/{sid}").status_code == 204
        cloud.settle(sid, "DELETED")
    finally:
        cloud.remove_instance(name)


@pytest.mark.django_db(transaction=True)
def test_a_deleted_detached_volume_leaves_nothing_in_ganeti_or_the_store(ganeti, eventd, volume_store, client,  # noqa: F811
                                                                         make_user, settings):
    """An ext_archipelago volume detached from a running server stays in Ganeti's configuration;
    deleting it attaches it to the backend's diskless helper (the provider maps it there) and
    removes it (the provider unmaps and removes the map)."""
    volume_store, _ = volume_store
    cloud = ExtCloud(ganeti, client, make_user, volume_store, eventd[1])
    helper = f"{settings.BACKEND_PREFIX_ID}helper-diskless"
    sid, name = cloud.create()
    try:
        cloud.settle(sid, "ACTIVE")
        r = cloud.call("POST", "/volumes", {"volume": {"size": 1, "server_id": sid}}, api=V)
        assert r.status_code == 202, r.content
        volume = Volume.objects.get(pk=r.json()["volume"]["id"])
        dispatch_until(lambda: Volume.objects.get(pk=volume.id).status != "CREATING", 120)
        cloud.settle(sid, "ACTIVE")
        assert Volume.objects.get(pk=volume.id).status == "IN_USE", cloud.log_file.read_text()[-3000:]
        assert cloud.call("DELETE", f"/servers/{sid}/os-volume_attachments/{volume.id}").status_code == 202
        dispatch_until(lambda: Volume.objects.get(pk=volume.id).status != "DETACHING", 120)
        assert Volume.objects.get(pk=volume.id).status == "AVAILABLE", cloud.log_file.read_text()[-3000:]
        assert ganeti_disks(ganeti)[volume.backend_volume_uuid] is False and volume_store.exists(volume.origin)
        assert cloud.call("DELETE", f"/volumes/{volume.id}", api=V).status_code == 202
        dispatch_until(lambda: Volume.objects.get(pk=volume.id).status != "DELETING", 120)
        assert Volume.objects.get(pk=volume.id).status == "DELETED", cloud.log_file.read_text()[-3000:]
        assert volume.backend_volume_uuid not in ganeti_disks(ganeti)
        assert not volume_store.exists(volume.origin)
        assert [m.volume for m in mappings(volume_store.config)] == [Volume.objects.get(machine_id=sid).origin]
        assert cloud.rapi.get_instance(helper)["status"] == "ADMIN_down"
        cloud.settle(sid, "ACTIVE")  # the server is untouched
    finally:
        cloud.remove_instance(name)
        cloud.remove_instance(helper)

