"""Volume types and flavors: the snf-manage commands and the compute API's flavors, in the
shapes kamaki 0.16 and the openstack CLI read (CLIENTS-KAMAKI.md, CLIENTS-OPENSTACK.md)."""

import io
import json

import pytest
from django.core.management import CommandError, call_command

from synnefo.cyclades.models import Flavor, VolumeType

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.fixture
def drbd():
    run("volume-type-create", "--name", "Standard", "--disk-template", "drbd")
    return VolumeType.objects.get(name="Standard")


def test_volume_type_create_checks_the_disk_template():
    run("volume-type-create", "--name", "Archipelago", "--disk-template", "ext_archipelago")
    vt = VolumeType.objects.get()
    assert (vt.template, vt.provider) == ("ext", "archipelago")
    for bad in ("zfs", "ext", "ext_", "drbd_x", "ext_a/b"):
        with pytest.raises(CommandError, match="[Dd]isk template"):
            run("volume-type-create", "--name", "x", "--disk-template", bad)
    assert VolumeType.objects.count() == 1


def test_flavor_create_is_the_cartesian_product(drbd):
    out = run("flavor-create", "1,2", "1024,2048", "20", str(drbd.id))
    assert out.count("Created flavor") == 4
    names = sorted(f.name for f in Flavor.objects.all())
    assert names == ["C1R1024D20drbd", "C1R2048D20drbd", "C2R1024D20drbd", "C2R2048D20drbd"]
    # Again: nothing new, each reported as existing.
    out = run("flavor-create", "1,2", "1024,2048", "20", str(drbd.id))
    assert out.count("already exists") == 4 and Flavor.objects.count() == 4


@pytest.mark.parametrize("args", [("0", "1024", "20"), ("1", "1k", "20"), ("1", "1024", "-2"), ("1,", "1024", "20")])
def test_flavor_create_refuses_bad_values_and_creates_nothing(drbd, args):
    with pytest.raises(CommandError):
        run("flavor-create", *args, str(drbd.id))
    assert not Flavor.objects.exists()


def test_flavor_create_needs_existing_live_volume_types(drbd):
    with pytest.raises(CommandError, match="No volume type"):
        run("flavor-create", "1", "1024", "20", f"{drbd.id},999")
    run("volume-type-modify", str(drbd.id), "--deleted", "True")
    with pytest.raises(CommandError, match="deleted"):
        run("flavor-create", "1", "1024", "20", str(drbd.id))
    assert not Flavor.objects.exists()


def test_flavor_list_show_modify(drbd):
    run("flavor-create", "1", "1024", "20", str(drbd.id))
    flavor = Flavor.objects.get()
    listed = json.loads(run("flavor-list", "--output-format", "json"))
    assert listed == [{"id": flavor.id, "name": "C1R1024D20drbd", "cpu": 1, "ram": 1024, "disk": 20,
                       "volume_type": drbd.id, "disk_template": "drbd", "deleted": False,
                       "allow_create": True, "public": True}]
    run("flavor-modify", str(flavor.id), "--deleted", "True", "--public", "False")
    assert json.loads(run("flavor-list", "--output-format", "json")) == []
    assert len(json.loads(run("flavor-list", "--deleted", "--output-format", "json"))) == 1
    shown = json.loads(run("flavor-show", str(flavor.id), "--output-format", "json"))
    assert shown["deleted"] is True and shown["public"] is False and shown["volume_type_name"] == "Standard"
    with pytest.raises(CommandError, match="Expected True or False"):
        run("flavor-modify", str(flavor.id), "--allow-create", "maybe")
    with pytest.raises(CommandError, match="No flavor"):
        run("flavor-show", "12345")


# --- the compute API -------------------------------------------------------------------------


@pytest.fixture
def flavors(drbd):
    run("flavor-create", "1,2", "1024", "20", str(drbd.id))
    small, big = Flavor.objects.order_by("cpu")
    big.public = False
    big.save()
    return small, big


def get(client, path, token, **params):
    return client.get(path, params, HTTP_X_AUTH_TOKEN=token)


def test_version_documents_need_no_token_and_advertise_no_microversions(client):
    r = client.get("/cyclades/compute/v2.1")
    assert r.status_code == 200
    doc = r.json()["version"]
    assert doc["id"] == "v2.1" and doc["version"] == "" and doc["links"][0]["href"].endswith("/cyclades/compute/v2.1/")
    assert client.get("/cyclades/compute/v2.0/").json()["version"]["id"] == "v2.0"
    r = client.get("/cyclades/compute")
    assert r.status_code == 300 and [v["id"] for v in r.json()["versions"]] == ["v2.0", "v2.1"]


def test_flavor_list_in_kamakis_shape(client, alice, flavors):
    small, _ = flavors
    _, _, token = alice
    r = get(client, "/cyclades/compute/v2.0/flavors", token)
    assert r.status_code == 200
    assert r.json() == {"flavors": [{
        "id": small.id, "name": "C1R1024D20drbd",
        "links": [{"rel": "self", "href": f"http://testserver/cyclades/compute/v2.0/flavors/{small.id}"},
                  {"rel": "bookmark", "href": f"http://testserver/cyclades/compute/v2.0/flavors/{small.id}"}],
    }]}, "a private flavor is not listed for a user"


def test_flavor_detail_has_the_fields_both_clients_read(client, alice, flavors):
    small, _ = flavors
    _, _, token = alice
    (record,) = get(client, "/cyclades/compute/v2.1/flavors/detail", token, is_public="None").json()["flavors"]
    assert {k: record[k] for k in ("id", "vcpus", "ram", "disk", "SNF:disk_template", "SNF:volume_type",
                                    "SNF:allow_create", "os-flavor-access:is_public", "OS-FLV-EXT-DATA:ephemeral",
                                    "OS-FLV-DISABLED:disabled")} == {
        "id": small.id, "vcpus": 1, "ram": 1024, "disk": 20, "SNF:disk_template": "drbd",
        "SNF:volume_type": small.volume_type_id, "SNF:allow_create": True, "os-flavor-access:is_public": True,
        "OS-FLV-EXT-DATA:ephemeral": 0, "OS-FLV-DISABLED:disabled": False}
    r = get(client, f"/cyclades/compute/v2.1/flavors/{small.id}", token)
    assert r.status_code == 200 and r.json()["flavor"]["name"] == "C1R1024D20drbd"


def test_admins_see_private_flavors_and_filters_apply(client, make_user, flavors):
    small, big = flavors
    _, _, token = make_user(admin=True)
    ids = lambda **p: [f["id"] for f in get(client, "/cyclades/compute/v2.1/flavors/detail", token, **p).json()["flavors"]]  # noqa: E731
    assert ids() == [small.id, big.id]
    assert ids(is_public="True") == [small.id] and ids(is_public="False") == [big.id]
    assert ids(minRam="2048") == [] and ids(minDisk="20") == [small.id, big.id]
    assert get(client, f"/cyclades/compute/v2.1/flavors/{big.id}", token).status_code == 200


def test_flavor_bad_input(client, alice, flavors):
    _, big = flavors
    _, _, token = alice
    for path in (f"/cyclades/compute/v2.0/flavors/{big.id}", "/cyclades/compute/v2.0/flavors/999", "/cyclades/compute/v2.0/flavors/x"):
        r = get(client, path, token)
        assert r.status_code == 404 and r.json()["itemNotFound"]["code"] == 404
    r = get(client, "/cyclades/compute/v2.0/flavors/detail", token, minRam="lots")
    assert r.status_code == 400 and "minRam" in r.json()["badRequest"]["message"]
    assert get(client, "/cyclades/compute/v2.0/flavors", "bogus-token").status_code == 401
    r = get(client, "/cyclades/compute/v2.0/no-such-thing", token)
    assert r.status_code == 400 and "badRequest" in r.json()


def test_deleted_flavors_stay_readable_but_are_not_listed(client, alice, flavors):
    small, _ = flavors
    small.deleted = True
    small.save()
    _, _, token = alice
    assert get(client, "/cyclades/compute/v2.0/flavors", token).json() == {"flavors": []}
    r = get(client, f"/cyclades/compute/v2.0/flavors/{small.id}", token)
    assert r.status_code == 200 and r.json()["flavor"]["OS-FLV-DISABLED:disabled"] is True
