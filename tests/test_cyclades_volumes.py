"""The volume API (Cinder v3 and Synnefo v2.0) on a simulated Ganeti backend: volumes alone and
on servers, ext_archipelago maps in the volume store (thin clones), snapshots that are Pithos
files and images, quotas per volume (returned when a job fails), and bad input."""

import pytest
from django.core.management import call_command

from synnefo.archipelago.pithos import node_store
from synnefo.astakos.quotaholder.logic import user_quotas
from synnefo.cyclades.models import Backend, Flavor, Volume, VolumeType
from synnefo.pithos.backend.blocks import reset_block_store
from tests.compute_helpers import cloud, register_image  # noqa: F401
from tests.pithos_helpers import Store, small_blocks  # noqa: F401

pytestmark = pytest.mark.django_db
GiB = 1024 ** 3
IMAGE = b"image" * 100  # the cloud fixture's image


def usage(cloud, resource="cyclades.disk"):
    quotas = user_quotas([str(cloud.user.uuid)], "cyclades")[str(cloud.user.uuid)]
    (holding,) = [h for project, q in quotas.items() for r, h in q.items() if r == resource]
    return holding["usage"]


@pytest.fixture
def archip(cloud, settings, tmp_path):
    """The cloud with a volume store of its own, Pithos' 4 MiB blocks (maps of GiB volumes stay
    small), its image uploaded again in them, and an ext_archipelago volume type and flavor."""
    settings.SYNNEFO_DATA_DIR = str(tmp_path / "data")
    settings.PITHOS_BACKEND_BLOCK_SIZE = 4 * 1024 * 1024
    reset_block_store()
    store = Store(cloud.client, cloud.user, cloud.token, on_commit=cloud.on_commit)
    cloud.image_id = register_image(cloud.client, store, name="Debian4M", path="images4m/debian.diskdump", data=IMAGE,
                                    users="root")
    vt = VolumeType.objects.create(name="archip", disk_template="ext_archipelago")
    call_command("flavor-create", "1", "1024", "2", str(vt.id), stdout=None)
    cloud.archip_type = vt
    cloud.archip_flavor = Flavor.objects.get(volume_type=vt)
    return cloud


def v3(cloud, method, path, body=None, token=None):
    return cloud.call(method, path, body, token=token, api="volume", version=f"v3/{cloud.user.uuid}")


def v2(cloud, method, path, body=None):
    return cloud.call(method, path, body, api="volume", version="v2.0")


def server(cloud, flavor=None, **fields):
    body = {"name": "s1", "imageRef": cloud.image_id, "flavorRef": (flavor or cloud.archip_flavor).id, **fields}
    r = cloud.call("POST", "/servers", {"server": body})
    assert r.status_code == 202, r.content
    cloud.settle()
    return r.json()["server"]["id"]


def read_volume(volume_id, length):
    volume = Volume.objects.get(pk=volume_id)
    return node_store().read(volume.origin, 0, length)


def test_version_discovery_without_a_token(cloud):
    r = cloud.client.get("/cyclades/volume/")
    assert r.status_code == 300 and {v["id"] for v in r.json()["versions"]} == {"v3.0", "v2.0"}
    r = cloud.client.get("/cyclades/volume/v3/")
    assert r.status_code == 200 and r.json()["version"]["status"] == "CURRENT"
    assert v3(cloud, "GET", "/volumes", token="nope").status_code == 401


def test_catalog_has_the_volume_service(cloud):
    from synnefo.astakos.logic.catalog import v2_catalog, v3_catalog
    from django.test import RequestFactory

    request = RequestFactory().get("/")
    (v3_entry,) = [e for e in v3_catalog(request, "acct") if e["type"] == "volume"]
    assert v3_entry["endpoints"][0]["url"].endswith("/cyclades/volume/v3/acct")
    (v2_entry,) = [e for e in v2_catalog(request) if e["type"] == "volume"]
    assert v2_entry["endpoints"][0]["publicURL"].endswith("/cyclades/volume/v2.0")


def test_detached_volume_from_an_image_is_a_thin_clone(archip):
    cloud = archip
    r = v3(cloud, "POST", "/volumes", {"volume": {"size": 1, "name": "data", "imageRef": cloud.image_id,
                                                  "metadata": {"role": "db"}}})
    assert r.status_code == 202, r.content
    volume = r.json()["volume"]
    assert volume["status"] == "available" and volume["volume_type"] == "archip" and volume["bootable"] == "true"
    assert volume["image_id"] == cloud.image_id and volume["metadata"] == {"role": "db"}
    assert volume["os-vol-tenant-attr:tenant_id"] == str(cloud.user.uuid) and volume["attachments"] == []
    assert usage(cloud) == GiB
    row = Volume.objects.get(pk=volume["id"])
    assert row.origin == f"snf-vol-{row.id}" and row.source == f"image:{cloud.image_id}"
    store = node_store()
    info = store.info(row.origin)
    assert info["size"] == GiB and info["writable"] == 0  # a clone: shared blocks and zeros only
    assert read_volume(row.id, len(IMAGE)) == IMAGE
    # Listed in both APIs, with their spellings.
    assert [v["id"] for v in v3(cloud, "GET", "/volumes/detail").json()["volumes"]] == [volume["id"]]
    listed = v2(cloud, "GET", "/volumes/detail").json()["volumes"][0]
    assert listed["volume_type"] == str(cloud.archip_type.id) and listed["display_name"] == "data"
    assert v3(cloud, "GET", "/volumes?name=data").json()["volumes"][0]["id"] == volume["id"]
    # Update, metadata.
    r = v3(cloud, "PUT", f"/volumes/{volume['id']}", {"volume": {"name": "data2", "description": "d"}})
    assert r.json()["volume"]["name"] == "data2" and r.json()["volume"]["description"] == "d"
    assert v3(cloud, "POST", f"/volumes/{volume['id']}/metadata", {"metadata": {"a": "1"}}).json()["metadata"] == {"role": "db", "a": "1"}
    assert v3(cloud, "GET", f"/volumes/{volume['id']}/metadata/a").json() == {"meta": {"a": "1"}}
    assert v3(cloud, "DELETE", f"/volumes/{volume['id']}/metadata/a").status_code == 200
    assert v3(cloud, "PUT", f"/volumes/{volume['id']}/metadata", {"metadata": {"x": "y"}}).json()["metadata"] == {"x": "y"}
    # Delete: the map goes, the quota comes back.
    assert v3(cloud, "DELETE", f"/volumes/{volume['id']}").status_code == 202
    assert not store.exists(row.origin) and usage(cloud) == 0
    assert v3(cloud, "GET", f"/volumes/{volume['id']}").status_code == 404
    assert v3(cloud, "GET", "/volumes").json() == {"volumes": []}


def test_attach_detach_and_server_volumes(archip):
    cloud = archip
    sid = server(cloud)
    shown = cloud.call("GET", f"/servers/{sid}").json()["server"]
    (root,) = shown["os-extended-volumes:volumes_attached"]
    root_row = Volume.objects.get(pk=root["id"])
    assert root_row.index == 0 and root_row.status == "IN_USE" and root_row.size == 2
    assert read_volume(root_row.id, len(IMAGE)) == IMAGE  # the root disk is a thin clone of the image
    assert cloud.cluster.instances[f"snf-{sid}"]["disk.names"] == [f"snf-vol-{root_row.id}"]
    assert usage(cloud) == 2 * GiB  # the server's root disk, charged once
    vid = v3(cloud, "POST", "/volumes", {"volume": {"size": 1, "name": "blank"}}).json()["volume"]["id"]
    assert usage(cloud) == 3 * GiB
    # Nova's attach (openstack server add volume).
    r = cloud.call("POST", f"/servers/{sid}/os-volume_attachments", {"volumeAttachment": {"volumeId": vid}}, version="v2.1")
    assert r.status_code == 200, r.content
    assert r.json()["volumeAttachment"]["volumeId"] == vid and r.json()["volumeAttachment"]["device"] == "/dev/vdb"
    assert v3(cloud, "GET", f"/volumes/{vid}").json()["volume"]["status"] == "attaching"
    cloud.settle()
    volume = v3(cloud, "GET", f"/volumes/{vid}").json()["volume"]
    assert volume["status"] == "in-use" and volume["attachments"][0]["server_id"] == sid
    assert v2(cloud, "GET", f"/volumes/{vid}").json()["volume"]["status"] == "in_use"
    assert len(cloud.cluster.instances[f"snf-{sid}"]["disk.names"]) == 2
    listed = cloud.call("GET", f"/servers/{sid}/os-volume_attachments", version="v2.1").json()["volumeAttachments"]
    assert {a["volumeId"] for a in listed} == {root["id"], vid}
    # Attaching it again, detaching the root, deleting the server with a volume to keep: refused.
    again = cloud.call("POST", f"/servers/{sid}/os-volume_attachments", {"volumeAttachment": {"volumeId": vid}}, version="v2.1")
    assert again.status_code == 409 and "in_use" in again.json()["conflict"]["message"]
    r = cloud.call("DELETE", f"/servers/{sid}/os-volume_attachments/{root['id']}", version="v2.1")
    assert r.status_code == 409 and "root disk" in r.json()["conflict"]["message"]
    r = cloud.call("DELETE", f"/servers/{sid}")
    assert r.status_code == 409 and "detach them first" in r.json()["conflict"]["message"]
    # Detach (openstack server remove volume): available again, data kept, still charged.
    assert cloud.call("DELETE", f"/servers/{sid}/os-volume_attachments/{vid}", version="v2.1").status_code == 202
    assert v3(cloud, "GET", f"/volumes/{vid}").json()["volume"]["status"] == "detaching"
    cloud.settle()
    assert v3(cloud, "GET", f"/volumes/{vid}").json()["volume"]["status"] == "available"
    assert len(cloud.cluster.instances[f"snf-{sid}"]["disk.names"]) == 1 and usage(cloud) == 3 * GiB
    assert set(cloud.cluster.detached_disks) == {f"snf-vol-{vid}"}  # Ganeti keeps it, detached
    # Attached again to that server: Ganeti's attach of the disk it keeps; then detached again.
    cloud.call("POST", f"/servers/{sid}/os-volume_attachments", {"volumeAttachment": {"volumeId": vid}}, version="v2.1")
    last = cloud.cluster.jobs[max(cloud.cluster.jobs)]["ops"][0]["input"]
    assert last["disks"] == [["attach", -1, {"name": f"snf-vol-{vid}"}]]
    cloud.settle()
    assert v3(cloud, "GET", f"/volumes/{vid}").json()["volume"]["status"] == "in-use" and not cloud.cluster.detached_disks
    cloud.call("DELETE", f"/servers/{sid}/os-volume_attachments/{vid}", version="v2.1")
    cloud.settle()
    # A volume created on the server goes with it.
    r = v3(cloud, "POST", "/volumes", {"volume": {"size": 1, "server_id": sid}})
    assert r.status_code == 202 and r.json()["volume"]["status"] == "creating"
    on_server = r.json()["volume"]["id"]
    cloud.settle()
    assert v3(cloud, "GET", f"/volumes/{on_server}").json()["volume"]["status"] == "in-use" and usage(cloud) == 4 * GiB
    assert cloud.call("DELETE", f"/servers/{sid}").status_code == 204
    cloud.settle()
    assert usage(cloud) == GiB  # the detached volume only
    for gone in (root["id"], on_server):
        row = Volume.objects.get(pk=gone)
        assert row.deleted and row.status == "DELETED" and not node_store().exists(row.origin)
    assert v3(cloud, "GET", f"/volumes/{vid}").json()["volume"]["status"] == "available"


def test_delete_an_attached_volume(archip):
    cloud = archip
    sid = server(cloud)
    vid = v3(cloud, "POST", "/volumes", {"volume": {"size": 1, "server_id": sid}}).json()["volume"]["id"]
    cloud.settle()
    assert v3(cloud, "DELETE", f"/volumes/{vid}").status_code == 202
    assert v3(cloud, "GET", f"/volumes/{vid}").json()["volume"]["status"] == "deleting"
    assert usage(cloud) == 3 * GiB  # released when the job succeeds
    cloud.settle()
    assert v3(cloud, "GET", f"/volumes/{vid}").status_code == 404 and usage(cloud) == 2 * GiB
    assert not node_store().exists(f"snf-vol-{vid}")


def test_failed_disk_job_is_an_error_and_gives_the_quota_back(archip, monkeypatch):
    from synnefo.cyclades.ganeti import simulated

    cloud = archip
    sid = server(cloud)
    real = simulated.SimulatedCluster.submit

    def failing(self, op_id, fields, apply, fail=None):
        return real(self, op_id, fields, apply, "disk add refused" if op_id == "OP_INSTANCE_SET_PARAMS" else fail)

    monkeypatch.setattr(simulated.SimulatedCluster, "submit", failing)
    vid = v3(cloud, "POST", "/volumes", {"volume": {"size": 1, "server_id": sid}}).json()["volume"]["id"]
    assert usage(cloud) == 3 * GiB
    cloud.settle()
    volume = v3(cloud, "GET", f"/volumes/{vid}").json()["volume"]
    assert volume["status"] == "error" and volume["attachments"] == [] and usage(cloud) == 2 * GiB
    assert len(cloud.cluster.instances[f"snf-{sid}"]["disk.names"]) == 1
    # Attaching an available volume fails: available again, on no server.
    other = v3(cloud, "POST", "/volumes", {"volume": {"size": 1}}).json()["volume"]["id"]
    cloud.call("POST", f"/servers/{sid}/os-volume_attachments", {"volumeAttachment": {"volumeId": other}}, version="v2.1")
    cloud.settle()
    assert v3(cloud, "GET", f"/volumes/{other}").json()["volume"]["status"] == "available"
    # The error volume is deleted without giving back what it never held.
    assert v3(cloud, "DELETE", f"/volumes/{vid}").status_code == 202
    assert usage(cloud) == 3 * GiB and not node_store().exists(f"snf-vol-{vid}")


def test_over_quota_creates_nothing(archip):
    cloud = archip
    call_command("quota-modify", str(cloud.user.uuid), "--resource", "cyclades.disk", "--limit", str(GiB), stdout=None)
    maps = {name for name, _ in node_store().list()}
    r = v3(cloud, "POST", "/volumes", {"volume": {"size": 2}})
    assert r.status_code == 413 and r.json()["overLimit"]["code"] == 413
    assert not Volume.objects.exists() and {name for name, _ in node_store().list()} == maps


@pytest.mark.parametrize("body,code,message", [
    ({"size": 0}, 400, "Invalid size"),
    ({"size": 201}, 400, "1 to 200 GiB"),
    ({"size": "ten"}, 400, "Invalid size"),
    ({"size": 1, "volume_type": "nope"}, 400, "Volume type nope does not exist"),
    ({"size": 1, "snapshot_id": "00000000-0000-4000-8000-000000000000"}, 400, "does not exist"),
    ({"size": 1, "imageRef": "nope"}, 400, "Image nope does not exist"),
    ({"size": 1, "server_id": "999999"}, 400, "Server 999999 does not exist"),
    ({"size": 1, "metadata": {str(i): "v" for i in range(11)}}, 400, "At most 10 metadata"),
    ({"size": 1, "source_volid": "1"}, 400, "Volume 1 does not exist"),
    ({"size": 1, "source_volid": "1", "imageRef": "x"}, 400, "one of a snapshot, an image or a source volume"),
])
def test_bad_volume_requests_change_nothing(archip, body, code, message):
    r = v3(archip, "POST", "/volumes", {"volume": body})
    assert r.status_code == code, r.content
    assert message in r.json()["badRequest"]["message"]
    assert not Volume.objects.exists() and usage(archip) == 0


def test_a_volume_cloned_from_a_volume_has_its_bytes_of_that_moment(archip, make_user):
    """Cinder's source_volid (openstack volume create --source): a thin clone of the source as
    it is now, even while it is open (mapped) and in use; each changes apart afterwards."""
    cloud = archip
    src = v3(cloud, "POST", "/volumes", {"volume": {"size": 1, "imageRef": cloud.image_id}}).json()["volume"]["id"]
    store = node_store()
    store.write(f"snf-vol-{src}", 0, b"written")  # open in the store, as a writer holds it
    expected = b"written" + IMAGE[7:]
    r = v3(cloud, "POST", "/volumes", {"volume": {"size": 2, "source_volid": src, "name": "copy"}})
    assert r.status_code == 202, r.content
    clone = r.json()["volume"]
    assert clone["source_volid"] == src and clone["volume_type"] == "archip" and clone["status"] == "available"
    assert clone["image_id"] is None and clone["snapshot_id"] is None and clone["size"] == 2
    assert read_volume(clone["id"], len(expected)) == expected
    info = store.info(f"snf-vol-{clone['id']}")
    assert info["size"] == 2 * GiB and info["writable"] == 0  # the source's blocks, nothing copied
    assert {name for name, _ in store.list()} == {f"snf-vol-{src}", f"snf-vol-{clone['id']}"}  # no hidden snapshot left
    assert usage(cloud) == 3 * GiB
    store.write(f"snf-vol-{src}", 0, b"source")
    store.write(f"snf-vol-{clone['id']}", 1, b"CLONE")
    assert read_volume(src, 7) == b"sourcen" and read_volume(clone["id"], 7) == b"wCLONEn"
    store.close(f"snf-vol-{src}")
    store.close(f"snf-vol-{clone['id']}")
    # The root volume of a running server (in use) clones as well.
    sid = server(cloud)
    (root,) = Volume.objects.filter(machine_id=sid)
    r = v3(cloud, "POST", "/volumes", {"volume": {"size": 2, "source_volid": str(root.id)}})
    assert r.status_code == 202 and read_volume(r.json()["volume"]["id"], len(IMAGE)) == IMAGE
    assert usage(cloud) == 7 * GiB
    # Refused, nothing made: a smaller size, another user's volume, a volume not in the store.
    count, maps = Volume.objects.count(), {name for name, _ in store.list()}
    r = v3(cloud, "POST", "/volumes", {"volume": {"size": 1, "source_volid": clone["id"]}})
    assert r.status_code == 400 and f"Volume {clone['id']} has 2 GiB: more than 1 GiB" in r.json()["badRequest"]["message"]
    _, _, bob_token = make_user("bob@example.org")
    r = cloud.call("POST", "/volumes", {"volume": {"size": 2, "source_volid": src}}, token=bob_token, api="volume",
                   version="v2.0")
    assert r.status_code == 400 and f"Volume {src} does not exist" in r.json()["badRequest"]["message"]
    drbd_server = server(cloud, cloud.flavors[0])
    (drbd_root,) = Volume.objects.filter(machine_id=drbd_server)
    count += 1
    r = v3(cloud, "POST", "/volumes", {"volume": {"size": 2, "source_volid": str(drbd_root.id)}})
    assert r.status_code == 400 and "only ext_archipelago" in r.json()["badRequest"]["message"]
    assert Volume.objects.count() == count and {name for name, _ in store.list()} == maps


def test_a_volume_served_by_a_nodes_vlmcd_is_snapshotted_and_cloned_in_that_nodes_name(archip):
    """The disk of a running server is held by the vlmcd of its node (another host than
    Cyclades'): snapshots and clones are taken in that node's name, and what the guest writes
    afterwards (through vlmcd's open volume) stays out of them. Held by anyone else (an exclusive
    open on another host): 409, nothing made."""
    from synnefo.archipelago.store import OpenVolume, VolumeStore

    cloud = archip
    src = v3(cloud, "POST", "/volumes", {"volume": {"size": 1, "imageRef": cloud.image_id}}).json()["volume"]["id"]
    store = node_store()
    served = OpenVolume(VolumeStore(store.config, "node9.example.org/vlmcd"), f"snf-vol-{src}")
    served.write(0, b"before")
    r = v3(cloud, "POST", "/snapshots", {"snapshot": {"volume_id": src, "name": "s"}})
    assert r.status_code == 202, r.content
    r = v3(cloud, "POST", "/volumes", {"volume": {"size": 1, "source_volid": src}})
    assert r.status_code == 202, r.content
    clone = r.json()["volume"]["id"]
    served.write(0, b"AFTER!")
    assert read_volume(clone, 6) == b"before" and read_volume(src, 6) == b"AFTER!"
    r = cloud.client.get(f"/pithos/object-store/v1/{cloud.user.uuid}/snapshots/s", HTTP_X_AUTH_TOKEN=cloud.token,
                         HTTP_RANGE="bytes=0-5")
    assert (b"".join(r.streaming_content) if r.streaming else r.content) == b"before"
    served.close()
    other = v3(cloud, "POST", "/volumes", {"volume": {"size": 1}}).json()["volume"]["id"]
    VolumeStore(store.config, "otherhost/blockerm").open(f"snf-vol-{other}")
    count, maps, used = Volume.objects.count(), {name for name, _ in store.list()}, usage(cloud)
    r = v3(cloud, "POST", "/volumes", {"volume": {"size": 1, "source_volid": other}})
    assert r.status_code == 409 and "locked by otherhost/blockerm" in r.json()["conflict"]["message"], r.content
    r = v3(cloud, "POST", "/snapshots", {"snapshot": {"volume_id": other}})
    assert r.status_code == 409 and "locked by otherhost/blockerm" in r.json()["conflict"]["message"], r.content
    assert Volume.objects.count() == count and {name for name, _ in store.list()} == maps and usage(cloud) == used


def test_non_detachable_types_live_on_servers_only(archip):
    cloud = archip
    drbd = cloud.flavors[0].volume_type
    r = v3(cloud, "POST", "/volumes", {"volume": {"size": 1, "volume_type": str(drbd.id)}})
    assert r.status_code == 400 and "give a server_id" in r.json()["badRequest"]["message"]
    sid = server(cloud, cloud.flavors[0])
    r = v3(cloud, "POST", "/volumes", {"volume": {"size": 1, "volume_type": "archip", "server_id": sid}})
    assert r.status_code == 400 and "drbd disks" in r.json()["badRequest"]["message"]
    vid = v3(cloud, "POST", "/volumes", {"volume": {"size": 1, "server_id": sid}}).json()["volume"]["id"]
    cloud.settle()
    for r in (v3(cloud, "DELETE", f"/volumes/{vid}"),
              cloud.call("DELETE", f"/servers/{sid}/os-volume_attachments/{vid}", version="v2.1")):
        assert r.status_code == 409 and "drbd" in r.json()["conflict"]["message"]
    r = v3(cloud, "POST", "/snapshots", {"snapshot": {"volume_id": vid}})
    assert r.status_code == 400 and "only ext_archipelago" in r.json()["badRequest"]["message"]
    assert v3(cloud, "GET", f"/volumes/{vid}").json()["volume"]["status"] == "in-use"


def test_other_users_volumes_are_not_found(archip, make_user):
    cloud = archip
    vid = v3(cloud, "POST", "/volumes", {"volume": {"size": 1}}).json()["volume"]["id"]
    _, _, bob_token = make_user("bob@example.org")
    for method, path in (("GET", f"/volumes/{vid}"), ("DELETE", f"/volumes/{vid}")):
        r = cloud.call(method, path, token=bob_token, api="volume", version="v2.0")
        assert r.status_code == 404
    assert v3(cloud, "GET", "/volumes", token=bob_token).status_code == 403  # another's project in the URL
    assert v3(cloud, "GET", f"/volumes/{vid}").json()["volume"]["status"] == "available"


def test_snapshot_is_a_pithos_file_and_an_image_that_deploys(archip):
    from synnefo.plankton import backend as plankton

    cloud = archip
    vid = v3(cloud, "POST", "/volumes", {"volume": {"size": 1, "imageRef": cloud.image_id}}).json()["volume"]["id"]
    store = node_store()
    store.write(f"snf-vol-{vid}", 0, b"written")  # the guest changed its disk
    expected = b"written" + IMAGE[7:]
    r = v3(cloud, "POST", "/snapshots", {"snapshot": {"volume_id": vid, "name": "snap1", "metadata": {"k": "v"}}})
    assert r.status_code == 202, r.content
    snap = r.json()["snapshot"]
    assert snap["volume_id"] == vid and snap["status"] == "available" and snap["size"] == 1 and snap["metadata"] == {"k": "v"}
    # A file in the owner's snapshots container with the volume's content...
    path = f"/pithos/object-store/v1/{cloud.user.uuid}/snapshots/snap1"
    assert cloud.client.head(path, HTTP_X_AUTH_TOKEN=cloud.token)["Content-Length"] == str(GiB)
    r = cloud.client.get(path, HTTP_X_AUTH_TOKEN=cloud.token, HTTP_RANGE=f"bytes=0-{len(expected) + 99}")
    assert r.status_code == 206
    body = b"".join(r.streaming_content) if r.streaming else r.content
    assert body == expected + bytes(100)
    # ...and an image (is_snapshot) with that id, which new volumes and servers clone.
    image = plankton.get_image(str(cloud.user.uuid), snap["id"])
    assert image.is_snapshot and image.name == "snap1"
    assert [s["id"] for s in v3(cloud, "GET", "/snapshots/detail").json()["snapshots"]] == [snap["id"]]
    clone = v3(cloud, "POST", "/volumes", {"volume": {"size": 1, "snapshot_id": snap["id"]}}).json()["volume"]
    assert clone["snapshot_id"] == snap["id"] and read_volume(clone["id"], len(expected)) == expected
    assert store.info(f"snf-vol-{clone['id']}")["writable"] == 0
    sid = server(cloud, imageRef=snap["id"])
    (root,) = Volume.objects.filter(machine_id=sid)
    assert root.source == f"snapshot:{snap['id']}" and read_volume(root.id, len(expected)) == expected
    # Update and metadata of the snapshot.
    assert v3(cloud, "PUT", f"/snapshots/{snap['id']}", {"snapshot": {"description": "d"}}).json()["snapshot"]["description"] == "d"
    assert v3(cloud, "POST", f"/snapshots/{snap['id']}/metadata", {"metadata": {"a": "b"}}).json()["metadata"] == {"k": "v", "a": "b"}
    assert v3(cloud, "DELETE", f"/snapshots/{snap['id']}/metadata/k").status_code == 200
    assert v3(cloud, "GET", f"/snapshots/{snap['id']}/metadata").json()["metadata"] == {"a": "b"}
    # Delete: the Pithos file and the frozen map go; the clones keep their data.
    assert v3(cloud, "DELETE", f"/snapshots/{snap['id']}").status_code == 202
    assert v3(cloud, "GET", f"/snapshots/{snap['id']}").status_code == 404
    r = cloud.client.get(f"/pithos/object-store/v1/{cloud.user.uuid}/snapshots/snap1", HTTP_X_AUTH_TOKEN=cloud.token)
    assert r.status_code == 404 and not store.exists(f"snf-snap-{vid}-1")
    assert read_volume(clone["id"], len(expected)) == expected
    # A volume still open in the store (mapped by its writer) is not deleted: 409, nothing changed.
    r = v3(cloud, "DELETE", f"/volumes/{vid}")
    assert r.status_code == 409 and "in use in the volume store" in r.json()["conflict"]["message"]
    assert v3(cloud, "GET", f"/volumes/{vid}").json()["volume"]["status"] == "available" and store.exists(f"snf-vol-{vid}")
    store.close(f"snf-vol-{vid}")
    assert v3(cloud, "DELETE", f"/volumes/{vid}").status_code == 202 and not store.exists(f"snf-vol-{vid}")


def test_bad_snapshot_requests(archip, settings):
    cloud = archip
    r = v3(cloud, "POST", "/snapshots", {"snapshot": {"volume_id": "nope"}})
    assert r.status_code == 404 and "Volume nope not found" in r.json()["itemNotFound"]["message"]
    assert v3(cloud, "POST", "/snapshots", {"snapshot": {}}).status_code == 400
    assert v3(cloud, "GET", "/snapshots/nope").status_code == 404
    assert v3(cloud, "GET", f"/snapshots/{cloud.image_id}").status_code == 404  # an image, not a snapshot
    settings.CYCLADES_SNAPSHOTS_ENABLED = False
    assert v3(cloud, "GET", "/snapshots").status_code == 501


def test_boot_from_a_new_volume(archip):
    cloud = archip
    bdm = [{"uuid": cloud.image_id, "source_type": "image", "destination_type": "volume", "boot_index": 0,
            "volume_size": 5, "delete_on_termination": True}]
    sid = server(cloud, block_device_mapping_v2=bdm, imageRef="")
    (root,) = Volume.objects.filter(machine_id=sid)
    assert root.size == 5 and root.index == 0 and usage(cloud) == 5 * GiB
    assert cloud.cluster.instances[f"snf-{sid}"]["disk.sizes"] == [5 * 1024]
    assert cloud.call("DELETE", f"/servers/{sid}").status_code == 204
    cloud.settle()
    assert usage(cloud) == 0
    bad = [{**bdm[0], "source_type": "blank"}]
    r = cloud.call("POST", "/servers", {"server": {"name": "x", "flavorRef": cloud.archip_flavor.id, "block_device_mapping_v2": bad}})
    assert r.status_code == 400 and "not available" in r.json()["badRequest"]["message"]


def test_boot_from_an_existing_volume_keeps_its_data(archip):
    cloud = archip
    vid = v3(cloud, "POST", "/volumes", {"volume": {"size": 3, "imageRef": cloud.image_id}}).json()["volume"]["id"]
    node_store().write(f"snf-vol-{vid}", 0, b"mine")
    node_store().close(f"snf-vol-{vid}")  # as the writer does when the volume is unmapped
    assert usage(cloud) == 3 * GiB
    bdm = [{"uuid": vid, "source_type": "volume", "destination_type": "volume", "boot_index": 0}]
    sid = server(cloud, block_device_mapping_v2=bdm, imageRef="")
    volume = v3(cloud, "GET", f"/volumes/{vid}").json()["volume"]
    assert volume["status"] == "in-use" and volume["attachments"][0]["server_id"] == sid and volume["SNF:index"] == 0
    assert usage(cloud) == 3 * GiB  # the volume's own charge, nothing more
    instance = cloud.cluster.instances[f"snf-{sid}"]
    assert instance["disk.names"] == [f"snf-vol-{vid}"] and instance["disk.sizes"] == [3 * 1024]
    create_job = next(j for j in cloud.cluster.jobs.values() if j["ops"][0]["input"]["OP_ID"] == "OP_INSTANCE_CREATE"
                      and j["ops"][0]["input"]["instance_name"] == f"snf-{sid}")
    assert create_job["ops"][0]["input"].get("no_install") is True  # no OS written over the data
    assert read_volume(vid, 4) == b"mine"
    assert cloud.call("GET", f"/servers/{sid}").json()["server"]["image"]["id"] == cloud.image_id
    # Taken: another server cannot boot from it; a blank volume has nothing to boot.
    r = cloud.call("POST", "/servers", {"server": {"name": "x", "flavorRef": cloud.archip_flavor.id, "block_device_mapping_v2": bdm}})
    assert r.status_code == 409
    blank = v3(cloud, "POST", "/volumes", {"volume": {"size": 1}}).json()["volume"]["id"]
    r = cloud.call("POST", "/servers", {"server": {"name": "x", "flavorRef": cloud.archip_flavor.id,
                                                   "block_device_mapping_v2": [{**bdm[0], "uuid": blank}]}})
    assert r.status_code == 400 and "nothing to boot" in r.json()["badRequest"]["message"]
    # The root volume goes with the server.
    assert cloud.call("DELETE", f"/servers/{sid}").status_code == 204
    cloud.settle()
    assert usage(cloud) == GiB and v3(cloud, "GET", f"/volumes/{vid}").status_code == 404


def test_volume_list_and_show_commands(archip):
    import io
    import json

    from django.core.management.base import CommandError

    cloud = archip
    vid = v3(cloud, "POST", "/volumes", {"volume": {"size": 1, "name": "data", "metadata": {"k": "v"}}}).json()["volume"]["id"]
    out = io.StringIO()
    call_command("volume-list", "--output-format", "json", stdout=out)
    (row,) = json.loads(out.getvalue())
    assert (row["id"], row["name"], row["size"], row["status"], row["disk_template"]) == (int(vid), "data", 1, "AVAILABLE",
                                                                                          "ext_archipelago")
    out = io.StringIO()
    call_command("volume-show", vid, "--output-format", "json", stdout=out)
    shown = json.loads(out.getvalue())
    assert shown["origin"] == f"snf-vol-{vid}" and shown["metadata"] == "k=v" and shown["user"] == str(cloud.user.uuid)
    with pytest.raises(CommandError, match="No volume 999"):
        call_command("volume-show", "999", stdout=io.StringIO())


def test_the_migration_gives_existing_servers_their_root_volume(archip):
    import importlib

    from django.apps import apps

    from synnefo.cyclades.models import VirtualMachine

    cloud = archip
    sid = server(cloud)
    Volume.objects.all().delete()  # a server from before volumes
    built = VirtualMachine.objects.create(userid=str(cloud.user.uuid), project=str(cloud.user.uuid), flavor=cloud.flavors[0],
                                          imageid=cloud.image_id, operstate="BUILD")
    VirtualMachine.objects.create(userid=str(cloud.user.uuid), flavor=cloud.flavors[0], deleted=True)
    migration = importlib.import_module("synnefo.cyclades.migrations.0007_volumes")
    migration.root_volumes(apps, None)
    migration.root_volumes(apps, None)  # once only
    rows = {v.machine_id: v for v in Volume.objects.all()}
    assert set(rows) == {int(sid), built.id}
    assert (rows[int(sid)].index, rows[int(sid)].size, rows[int(sid)].status) == (0, 2, "IN_USE")
    assert rows[built.id].status == "CREATING" and rows[built.id].source == f"image:{cloud.image_id}"
    # The server's release still gives back its disk.
    assert cloud.call("DELETE", f"/servers/{sid}").status_code == 204
    cloud.settle()
    assert usage(cloud) == 0


# ------------------------------------------------- deleting a volume whose disk Ganeti keeps


def detached_volume(cloud, sid):
    """A new volume attached to the server and detached again: Ganeti keeps its disk."""
    vid = v3(cloud, "POST", "/volumes", {"volume": {"size": 1}}).json()["volume"]["id"]
    cloud.call("POST", f"/servers/{sid}/os-volume_attachments", {"volumeAttachment": {"volumeId": vid}}, version="v2.1")
    cloud.settle()
    assert cloud.call("DELETE", f"/servers/{sid}/os-volume_attachments/{vid}", version="v2.1").status_code == 202
    cloud.settle()
    assert f"snf-vol-{vid}" in cloud.cluster.detached_disks
    return vid


def helper_jobs(cloud):
    return [job["ops"][0]["input"] for job in cloud.cluster.jobs.values()
            if job["ops"][0]["input"].get("instance_name") == "snf-helper-diskless"]


def test_deleting_a_detached_volume_removes_the_disk_ganeti_keeps(archip):
    cloud = archip
    sid = server(cloud)
    vid = detached_volume(cloud, sid)
    assert usage(cloud) == 3 * GiB
    assert v3(cloud, "DELETE", f"/volumes/{vid}").status_code == 202
    assert v3(cloud, "GET", f"/volumes/{vid}").json()["volume"]["status"] == "deleting"
    assert v3(cloud, "DELETE", f"/volumes/{vid}").status_code == 409  # one deletion at a time
    assert usage(cloud) == 3 * GiB  # given back when Ganeti has removed the disk
    # The backend had no helper: it is created (never started, nothing installed) and the
    # removal (attach the kept disk to it, remove it there) waits for that job.
    create, removal = helper_jobs(cloud)
    assert create["OP_ID"] == "OP_INSTANCE_CREATE" and create["disk_template"] == "diskless" and create["disks"] == []
    assert removal["disks"] == [["attach", -1, {"name": f"snf-vol-{vid}"}], ["remove", -1, {}]]
    assert removal["depends"][0][0] == max(j for j, job in cloud.cluster.jobs.items()
                                           if job["ops"][0]["input"]["OP_ID"] == "OP_INSTANCE_CREATE")
    cloud.settle()
    assert v3(cloud, "GET", f"/volumes/{vid}").status_code == 404 and usage(cloud) == 2 * GiB
    row = Volume.objects.get(pk=vid)
    assert row.deleted and row.status == "DELETED" and row.detached_on is None
    assert not cloud.cluster.detached_disks and not node_store().exists(f"snf-vol-{vid}")
    helper = cloud.cluster.instances["snf-helper-diskless"]
    assert helper["admin_state"] == "down" and helper["disk.names"] == []
    assert [s["id"] for s in cloud.call("GET", "/servers").json()["servers"]] == [sid]  # the helper is no one's server
    # The next one reuses the helper.
    other = detached_volume(cloud, sid)
    assert v3(cloud, "DELETE", f"/volumes/{other}").status_code == 202
    cloud.settle()
    assert [j["OP_ID"] for j in helper_jobs(cloud)] == ["OP_INSTANCE_CREATE", "OP_INSTANCE_SET_PARAMS",
                                                        "OP_INSTANCE_SET_PARAMS"]
    assert not cloud.cluster.detached_disks and usage(cloud) == 2 * GiB


def test_a_failed_removal_leaves_the_volume_available_to_delete_again(archip, monkeypatch):
    from synnefo.cyclades.ganeti import simulated

    cloud = archip
    sid = server(cloud)
    vid = detached_volume(cloud, sid)
    real = simulated.SimulatedCluster.submit

    def failing(self, op_id, fields, apply, fail=None):
        refused = op_id == "OP_INSTANCE_SET_PARAMS" and fields["instance_name"].startswith("snf-helper")
        return real(self, op_id, fields, apply, "disk removal refused" if refused else fail)

    monkeypatch.setattr(simulated.SimulatedCluster, "submit", failing)
    assert v3(cloud, "DELETE", f"/volumes/{vid}").status_code == 202
    cloud.settle()
    volume = v3(cloud, "GET", f"/volumes/{vid}").json()["volume"]
    assert volume["status"] == "available" and usage(cloud) == 3 * GiB  # nothing lost: data, disk, charge
    assert f"snf-vol-{vid}" in cloud.cluster.detached_disks and node_store().exists(f"snf-vol-{vid}")
    monkeypatch.setattr(simulated.SimulatedCluster, "submit", real)
    assert v3(cloud, "DELETE", f"/volumes/{vid}").status_code == 202
    cloud.settle()
    assert v3(cloud, "GET", f"/volumes/{vid}").status_code == 404 and not cloud.cluster.detached_disks


def test_a_disk_ganeti_no_longer_has_does_not_keep_the_volume(archip):
    cloud = archip
    sid = server(cloud)
    vid = detached_volume(cloud, sid)
    del cloud.cluster.detached_disks[f"snf-vol-{vid}"]  # removed in Ganeti by hand
    assert v3(cloud, "DELETE", f"/volumes/{vid}").status_code == 202
    cloud.settle()
    assert v3(cloud, "GET", f"/volumes/{vid}").status_code == 404 and usage(cloud) == 2 * GiB
    assert cloud.results[-1] == f"applied: volume {vid}'s disk removed from {cloud.backend.clustername}"


def test_an_unreachable_backend_refuses_the_deletion_and_changes_nothing(archip, monkeypatch):
    from synnefo.cyclades.ganeti import simulated
    from synnefo.cyclades.ganeti.rapi import GanetiConnectionError

    cloud = archip
    sid = server(cloud)
    vid = detached_volume(cloud, sid)
    jobs = len(cloud.cluster.jobs)

    def unreachable(self, name):
        raise GanetiConnectionError("connection refused")

    monkeypatch.setattr(simulated.SimulatedRapiClient, "get_instance", unreachable)
    r = v3(cloud, "DELETE", f"/volumes/{vid}")
    assert r.status_code == 503 and "try again later" in r.content.decode()
    assert v3(cloud, "GET", f"/volumes/{vid}").json()["volume"]["status"] == "available"
    assert len(cloud.cluster.jobs) == jobs and usage(cloud) == 3 * GiB and node_store().exists(f"snf-vol-{vid}")


def test_on_an_offline_backend_the_volume_goes_and_reconciliation_removes_its_disk_later(archip):
    from io import StringIO

    cloud = archip
    sid = server(cloud)
    vid = detached_volume(cloud, sid)
    cloud.backend.offline = True
    cloud.backend.save()
    jobs = len(cloud.cluster.jobs)
    assert v3(cloud, "DELETE", f"/volumes/{vid}").status_code == 202
    assert v3(cloud, "GET", f"/volumes/{vid}").status_code == 404 and usage(cloud) == 2 * GiB  # the user's is done
    assert len(cloud.cluster.jobs) == jobs and Volume.objects.get(pk=vid).detached_on_id == cloud.backend.id
    cloud.backend.offline = False
    cloud.backend.save()
    out = StringIO()
    call_command("reconcile-servers", stdout=out, stderr=StringIO())
    assert f"snf-vol-{vid}: volume {vid} is deleted, Ganeti keeps its disk detached" in out.getvalue()
    assert f"snf-vol-{vid}" in cloud.cluster.detached_disks
    out = StringIO()
    with cloud.on_commit(execute=True):
        call_command("reconcile-servers", "--fix-kept-disks", stdout=out, stderr=StringIO())
    assert "FIXED (removal job" in out.getvalue()
    cloud.settle()
    assert not cloud.cluster.detached_disks and Volume.objects.get(pk=vid).detached_on is None
    out = StringIO()
    call_command("reconcile-servers", stdout=out, stderr=StringIO())
    assert "in sync" in out.getvalue() and usage(cloud) == 2 * GiB


def test_reconciliation_settles_a_removal_whose_event_was_lost(archip):
    from io import StringIO

    from synnefo.cyclades.ganeti.simulated import SimulatedRapiClient

    cloud = archip
    sid = server(cloud)
    vid = detached_volume(cloud, sid)
    assert v3(cloud, "DELETE", f"/volumes/{vid}").status_code == 202
    SimulatedRapiClient(cloud.cluster).wait_for_job(Volume.objects.get(pk=vid).backendjobid, timeout=10, interval=0.01)
    cloud.applied = len(cloud.publisher.published)  # the dispatcher never hears of the job's end
    assert Volume.objects.get(pk=vid).status == "DELETING" and not cloud.cluster.detached_disks
    out = StringIO()
    with cloud.on_commit(execute=True):
        call_command("reconcile-servers", "--fix-kept-disks", stdout=out, stderr=StringIO())
    assert f"volume {vid} DELETING, removal job" in out.getvalue() and "success -> FIXED" in out.getvalue()
    row = Volume.objects.get(pk=vid)
    assert row.deleted and row.detached_on is None and usage(cloud) == 2 * GiB


def test_a_backend_goes_only_without_kept_disks_and_takes_its_helper_with_it(archip):
    from synnefo.cyclades.logic.backends import BackendInUse, remove_backend

    cloud = archip
    sid = server(cloud)
    vid = detached_volume(cloud, sid)
    assert cloud.call("DELETE", f"/servers/{sid}").status_code == 204
    cloud.settle()
    with pytest.raises(BackendInUse, match=f"keeps the disks of detached volumes {vid}"):
        remove_backend(cloud.backend)  # the disk (the volume's data, for most templates) is there
    assert Backend.objects.filter(pk=cloud.backend.pk).exists()
    assert v3(cloud, "DELETE", f"/volumes/{vid}").status_code == 202
    cloud.settle()
    assert "snf-helper-diskless" in cloud.cluster.instances
    done = remove_backend(cloud.backend)
    assert "helper instance snf-helper-diskless: removed" in done
    assert "snf-helper-diskless" not in cloud.cluster.instances and not Backend.objects.filter(pk=cloud.backend.pk).exists()


def test_a_volume_kept_by_one_backend_is_not_attached_on_another(archip):
    cloud = archip
    sid = server(cloud)
    vid = detached_volume(cloud, sid)
    other = Backend.objects.create(clustername="other", host="127.0.0.1", offline=True)
    Volume.objects.filter(pk=vid).update(detached_on=other)  # as if detached from a server there
    jobs = len(cloud.cluster.jobs)
    r = cloud.call("POST", f"/servers/{sid}/os-volume_attachments", {"volumeAttachment": {"volumeId": vid}},
                   version="v2.1")
    assert r.status_code == 409 and "another compute backend" in r.content.decode()
    volume = Volume.objects.get(pk=vid)
    assert (volume.status, volume.machine_id, volume.detached_on_id) == ("AVAILABLE", None, other.id)
    assert len(cloud.cluster.jobs) == jobs  # nothing sent to Ganeti


# --------------------------------------------------------------------------- extend (os-extend)


def extend(cloud, vid, body):
    return v3(cloud, "POST", f"/volumes/{vid}/action", body)


def test_an_available_volume_grows_and_is_charged_the_difference(archip):
    cloud = archip
    vid = v3(cloud, "POST", "/volumes", {"volume": {"size": 1, "imageRef": cloud.image_id}}).json()["volume"]["id"]
    before = usage(cloud)
    r = extend(cloud, vid, {"os-extend": {"new_size": 3}})
    assert r.status_code == 202
    assert v3(cloud, "GET", f"/volumes/{vid}").json()["volume"]["size"] == 3 and usage(cloud) == before + 2 * GiB
    store = node_store()
    assert store.map_of(f"snf-vol-{vid}").size == 3 * GiB
    assert store.read(f"snf-vol-{vid}", 0, len(IMAGE)) == IMAGE and store.read(f"snf-vol-{vid}", 2 * GiB, 8) == bytes(8)


@pytest.mark.parametrize("body,code,message", [
    ({"os-extend": {"new_size": 1}}, 400, "must be larger than the volume's 2 GiB"),
    ({"os-extend": {"new_size": 2}}, 400, "volumes only grow"),
    ({"os-extend": {"new_size": "big"}}, 400, "Invalid size"),
    ({"os-extend": {"new_size": 999}}, 400, "1 to 200 GiB"),
    ({"os-extend": {}}, 400, "new_size"),
    ({"os-extend": 5}, 400, "new_size"),
])
def test_bad_extends_are_refused_and_change_nothing(archip, body, code, message):
    cloud = archip
    vid = v3(cloud, "POST", "/volumes", {"volume": {"size": 2}}).json()["volume"]["id"]
    before = usage(cloud)
    r = extend(cloud, vid, body)
    assert r.status_code == code and message in r.content.decode()
    assert Volume.objects.get(pk=vid).size == 2 and usage(cloud) == before
    assert node_store().map_of(f"snf-vol-{vid}").size == 2 * GiB


def test_extend_over_quota_in_use_or_kept_is_refused(archip):
    cloud = archip
    vid = v3(cloud, "POST", "/volumes", {"volume": {"size": 1}}).json()["volume"]["id"]
    call_command("quota-modify", str(cloud.user.uuid), "--resource", "cyclades.disk", "--limit", str(usage(cloud)),
                 stdout=None)
    r = extend(cloud, vid, {"os-extend": {"new_size": 2}})
    assert r.status_code == 413 and node_store().map_of(f"snf-vol-{vid}").size == GiB
    assert Volume.objects.get(pk=vid).size == 1
    call_command("quota-modify", str(cloud.user.uuid), "--resource", "cyclades.disk", "--limit", str(100 * GiB),
                 stdout=None)
    sid = server(cloud)
    kept = detached_volume(cloud, sid)
    r = extend(cloud, kept, {"os-extend": {"new_size": 2}})
    assert r.status_code == 409 and "kept by its compute backend" in r.content.decode()
    cloud.call("POST", f"/servers/{sid}/os-volume_attachments", {"volumeAttachment": {"volumeId": vid}}, version="v2.1")
    cloud.settle()
    r = extend(cloud, vid, {"os-extend": {"new_size": 2}})
    assert r.status_code == 409 and "only available volumes" in r.content.decode()
    assert Volume.objects.get(pk=vid).size == 1 and Volume.objects.get(pk=kept).size == 1
    assert extend(cloud, 99999, {"os-extend": {"new_size": 2}}).status_code == 404
