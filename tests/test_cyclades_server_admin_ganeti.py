"""Server administration against REAL Ganeti (the sandbox cluster).

reconcile-servers: a build whose events never arrived, an instance removed with
`gnt-instance remove` and one created by hand through RAPI are reported, then fixed (the stale
server DELETED with its quota back, the orphan removed). server-import: a stopped instance made
outside Synnefo is renamed to <prefix><id> by Ganeti and becomes a STOPPED server with its quota.
server-create/modify/remove --wait follow the jobs while the real update path (eventd,
RabbitMQ, the dispatcher) applies them.
"""

import io
import subprocess
import threading
import uuid
from types import SimpleNamespace

import pytest
from django.core.management import call_command

from synnefo.astakos.quotaholder.logic import user_quotas
from synnefo.common import amqp
from synnefo.cyclades.dispatcher import Dispatcher
from synnefo.cyclades.ganeti.rapi import GanetiApiError
from synnefo.cyclades.logic import servers
from synnefo.cyclades.logic.backends import create_backend
from synnefo.cyclades.models import Flavor, VirtualMachine, VolumeType
from tests.compute_helpers import register_image
from tests.pithos_helpers import Store, small_blocks  # noqa: F401
from tests.test_cyclades_ganeti_e2e import eventd, ganeti  # noqa: F401


def usage(user, resource):
    quotas = user_quotas([str(user.uuid)], "cyclades")[str(user.uuid)]
    return sum(h["usage"] for q in quotas.values() for r, h in q.items() if r == resource)


def reconcile(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("reconcile-servers", *args, stdout=out, stderr=err)
    return out.getvalue() + err.getvalue()


def remove_quietly(rapi, name):
    try:
        rapi.wait_for_job(rapi.delete_instance(name, shutdown_timeout=0), raise_on_error=False)
    except GanetiApiError:
        pass  # already gone


@pytest.fixture
def own_prefix(settings):
    """A prefix of our own: the other instances of the shared sandbox are not ours to reconcile."""
    settings.BACKEND_PREFIX_ID = f"r{uuid.uuid4().hex[:6]}-"


@pytest.fixture
def real(ganeti, client, make_user, small_blocks, settings):  # noqa: F811
    """A user with an image, a flavor and the sandbox as a backend."""
    user, _, token = make_user("reconcile@example.org")
    image_id = register_image(client, Store(client, user, token), osfamily="linux")
    backend = create_backend(ganeti["GANETI_CLUSTER_NAME"], int(ganeti["GANETI_RAPI_PORT"]), ganeti["GANETI_RAPI_USER"],
                             ganeti["GANETI_RAPI_PASSWORD"], host=ganeti["GANETI_RAPI_HOST"], ca_file=ganeti["GANETI_RAPI_CA"])
    template = "file" if "file" in backend.disk_templates else "diskless"
    flavor = Flavor.objects.create(cpu=1, ram=128, disk=1, volume_type=VolumeType.objects.create(name="F", disk_template=template))
    return SimpleNamespace(user=user, image_id=image_id, backend=backend, flavor=flavor, rapi=backend.get_client(),
                           prefix=settings.BACKEND_PREFIX_ID, template=template)


@pytest.mark.django_db(transaction=True)
def test_reconcile_on_real_ganeti(ganeti, own_prefix, real, settings):  # noqa: F811
    user, image_id, backend, flavor, rapi = real.user, real.image_id, real.backend, real.flavor, real.rapi
    vm, _ = servers.create(str(user.uuid), "real", image_id, flavor.id, backend=backend)
    name = vm.backend_vm_id
    orphan = f"{settings.BACKEND_PREFIX_ID}{vm.id + 1000}"
    try:
        # No dispatcher runs: the build's events are never applied.
        assert rapi.wait_for_job(vm.task_job_id, timeout=120)["status"] == "success"
        report = reconcile("--backend-id", str(backend.id))
        assert f"server {vm.id} {name}: database BUILD, Ganeti STARTED" in report, report
        reconcile("--backend-id", str(backend.id), "--fix-all")
        vm.refresh_from_db()
        assert vm.operstate == "STARTED" and vm.task is None and usage(user, "cyclades.cpu") == 1

        # Behind Cyclades' back: the instance removed by an administrator, another one created.
        removed = subprocess.run([ganeti["GANETI_NSEXEC"], "gnt-instance", "remove", "-f", "--shutdown-timeout=0", name],
                                 capture_output=True, text=True, timeout=120)
        assert removed.returncode == 0, removed.stderr
        job = rapi.create_instance(
            orphan, "diskless", [], [{"link": ganeti["GANETI_NIC_LINK"], "mode": "bridged"}], os_type="snf-image+default",
            osparams={"img_id": "debian", "img_format": "diskdump", "img_properties": "{}"},
            beparams={"maxmem": 128, "minmem": 128, "vcpus": 1}, hypervisor="fake", pnode=ganeti["GANETI_NODE_NAME"],
            name_check=False, ip_check=False, start=True)
        rapi.wait_for_job(job, timeout=120)
        report = reconcile("--backend-id", str(backend.id))
        assert f"server {vm.id} {name}: STARTED in the database, no Ganeti instance" in report, report
        assert f"{orphan}: Ganeti instance, no such server" in report
        assert not VirtualMachine.objects.get(pk=vm.id).deleted  # a report changes nothing

        report = reconcile("--backend-id", str(backend.id), "--fix-all")
        assert report.count("-> FIXED") == 2, report
        vm.refresh_from_db()
        assert vm.deleted and vm.operstate == "DESTROYED"
        for resource in ("cyclades.vm", "cyclades.cpu", "cyclades.ram", "cyclades.total_cpu", "cyclades.disk"):
            assert usage(user, resource) == 0, resource
        job_id = int(report.split("removal job ")[1].split(")")[0])
        assert rapi.wait_for_job(job_id, timeout=120)["status"] == "success"
        with pytest.raises(GanetiApiError) as missing:
            rapi.get_instance(orphan)
        assert missing.value.code == 404
        assert "in sync" in reconcile("--backend-id", str(backend.id))
    finally:
        remove_quietly(rapi, name)
        remove_quietly(rapi, orphan)


@pytest.mark.django_db(transaction=True)
def test_import_on_real_ganeti(ganeti, own_prefix, real):  # noqa: F811
    legacy = f"legacy-{uuid.uuid4().hex[:6]}"
    disks = [{"size": 1024}] if real.template == "file" else []
    job = real.rapi.create_instance(
        legacy, real.template, disks, [{"link": ganeti["GANETI_NIC_LINK"], "mode": "bridged"}], os_type="snf-image+default",
        osparams={"img_id": "debian", "img_format": "diskdump", "img_properties": "{}"},
        beparams={"maxmem": 128, "minmem": 128, "vcpus": 1}, hypervisor="fake", pnode=ganeti["GANETI_NODE_NAME"],
        name_check=False, ip_check=False, start=False)
    renamed = None
    try:
        real.rapi.wait_for_job(job, timeout=120)
        out = io.StringIO()
        call_command("server-import", legacy, "--backend-id", str(real.backend.id), "--user", real.user.email,
                     "--image", real.image_id, "--flavor", str(real.flavor.id), stdout=out)
        vm = VirtualMachine.objects.get(name=legacy)
        renamed = vm.backend_vm_id
        assert f"as server {vm.id}" in out.getvalue() and vm.operstate == "STOPPED" and vm.userid == str(real.user.uuid)
        assert real.rapi.get_instance(renamed)["admin_state"] == "down"
        with pytest.raises(GanetiApiError):
            real.rapi.get_instance(legacy)
        assert usage(real.user, "cyclades.vm") == 1 and usage(real.user, "cyclades.cpu") == 0
        assert "in sync" in reconcile("--backend-id", str(real.backend.id))
        out = io.StringIO()
        call_command("server-inspect", str(vm.id), "--jobs", stdout=out)
        rows = {line.split()[0]: line.split() for line in out.getvalue().splitlines() if line.split()}
        assert rows["state"][1:3] == ["STOPPED", "STOPPED"] and rows["state"][-1] == "yes"
        assert rows["cpu"][1:] == ["1", "1", "yes"] and rows["nic.links"][1] == ganeti["GANETI_NIC_LINK"]
        assert "INSTANCE_RENAME" in out.getvalue()  # the job that made it ours
    finally:
        remove_quietly(real.rapi, legacy)
        if renamed:
            remove_quietly(real.rapi, renamed)


@pytest.mark.django_db(transaction=True)
def test_wait_follows_the_real_update_path(ganeti, eventd, real):  # noqa: F811
    from django.db import connections

    stop = threading.Event()

    def dispatch():
        try:
            Dispatcher(client=amqp.AMQPClient(), reconnect_timeout=120).run(until=stop.is_set)
        finally:
            connections.close_all()

    dispatcher = threading.Thread(target=dispatch, daemon=True)
    dispatcher.start()
    name = None
    try:
        out = io.StringIO()
        call_command("server-create", "--name", "waited", "--user", real.user.email, "--image", real.image_id,
                     "--flavor", str(real.flavor.id), "--backend-id", str(real.backend.id), "--wait", "True",
                     "--wait-timeout", "180", stdout=out)
        vm = VirtualMachine.objects.get(name="waited")
        name = vm.backend_vm_id
        assert out.getvalue().rstrip().endswith(f"Server {vm.id}: ACTIVE"), out.getvalue()
        assert f"server {vm.id}: BUILD" in out.getvalue()
        call_command("server-modify", str(vm.id), "--action", "stop", "--wait", "True", stdout=io.StringIO())
        vm.refresh_from_db()
        assert vm.operstate == "STOPPED" and vm.task is None and usage(real.user, "cyclades.cpu") == 0
        out = io.StringIO()
        call_command("server-remove", str(vm.id), "--wait", "True", stdout=out)
        vm.refresh_from_db()
        assert vm.deleted and f"server {vm.id}: DELETED" in out.getvalue()
        assert usage(real.user, "cyclades.vm") == 0
    finally:
        stop.set()
        dispatcher.join(30)
        if name:
            remove_quietly(real.rapi, name)
