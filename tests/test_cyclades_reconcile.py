"""snf-manage reconcile-servers on a simulated Ganeti backend: drift made behind Cyclades' back
(instances removed, created, stopped, resized; events lost) is reported, and --fix-all repairs
it through simulated events so that the quotas agree with the servers afterwards."""

import io
import uuid

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction

from synnefo.astakos.quotaholder.logic import user_quotas
from synnefo.cyclades.ganeti import simulated
from synnefo.cyclades.logic import quotas
from synnefo.cyclades.models import Backend, VirtualMachine
from tests.compute_helpers import ListPublisher, cloud  # noqa: F401
from tests.pithos_helpers import small_blocks  # noqa: F401

pytestmark = pytest.mark.django_db
RESOURCES = ("cyclades.vm", "cyclades.total_cpu", "cyclades.total_ram", "cyclades.disk", "cyclades.cpu", "cyclades.ram")


@pytest.fixture(autouse=True)
def roomy_quotas(cloud):
    for resource in RESOURCES:
        call_command("quota-modify", str(cloud.user.uuid), "--resource", resource, "--limit", "1T", stdout=io.StringIO())


def run(cloud, *args):
    out, err = io.StringIO(), io.StringIO()
    with cloud.on_commit(execute=True):
        call_command("reconcile-servers", *args, stdout=out, stderr=err)
    return out.getvalue() + err.getvalue()


def usage(user):
    holdings = user_quotas([str(user.uuid)], "cyclades")[str(user.uuid)]
    return {r: h["usage"] for q in holdings.values() for r, h in q.items() if r in RESOURCES}


def expected_usage(user):
    """What the user's live servers hold (SYNNEFO.md 1.8)."""
    total = {r: 0 for r in RESOURCES}
    for vm in VirtualMachine.objects.filter(userid=str(user.uuid), deleted=False).select_related("flavor"):
        parts = [quotas.offline(vm.flavor)]
        if vm.operstate in quotas.ONLINE_STATES:
            parts.append(quotas.online(vm.flavor))
        for key, value in quotas.combined(*parts).items():
            total[key] += value
    return total


def create(cloud, name="s"):
    r = cloud.call("POST", "/servers", {"server": {"name": name, "imageRef": cloud.image_id, "flavorRef": cloud.flavors[0].id}})
    assert r.status_code == 202, r.content
    return int(r.json()["server"]["id"])


def lose_events(cloud):
    """Let every job end, and drop the events they published (a dispatcher outage)."""
    rapi = simulated.SimulatedRapiClient(cloud.cluster)
    for job_id in list(cloud.cluster.jobs):
        rapi.wait_for_job(job_id, timeout=10, interval=0.01, raise_on_error=False)
    with cloud.publisher.lock:
        cloud.applied = len(cloud.publisher.published)


def snapshot():
    return sorted(VirtualMachine.objects.values_list("id", "operstate", "deleted", "flavor_id", "task", "serial"))


def test_drift_is_reported_then_fixed_with_quotas_agreeing(cloud, settings):
    stale, stopped, resized, pending, fine = (create(cloud, n) for n in ("stale", "stopped", "resized", "pending", "fine"))
    cloud.settle()
    insts = cloud.cluster.instances
    # Behind our back: an instance removed, one stopped, one resized, one created by hand.
    del insts[f"snf-{stale}"]
    insts[f"snf-{stopped}"].update(admin_state="down", oper_state=False, status="ADMIN_down")
    insts[f"snf-{resized}"]["beparams"].update(vcpus=2, maxmem=2048)
    orphan = f"snf-{fine + 100}"
    rapi = simulated.SimulatedRapiClient(cloud.cluster)
    rapi.create_instance(orphan, "drbd", [{"size": 1024}], [{}], beparams={"vcpus": 1, "maxmem": 512})
    # A shutdown whose events were lost, and a build whose failure was never heard of.
    assert cloud.call("POST", f"/servers/{pending}/action", {"os-stop": None}).status_code == 202
    settings.GANETI_CREATEINSTANCE_KWARGS = {"os": "no-such-os+default"}
    failed = create(cloud, "failed")
    lose_events(cloud)
    assert orphan in insts
    before = snapshot()
    user = cloud.user

    report = run(cloud)
    assert snapshot() == before  # a report changes nothing
    assert f"server {stale} snf-{stale}: STARTED in the database, no Ganeti instance" in report
    assert f"server {stopped} snf-{stopped}: database STARTED, Ganeti STOPPED" in report
    assert f"server {resized} snf-{resized}: flavor {cloud.flavors[0].id} (1 CPUs, 1024 MiB), Ganeti 2 CPUs, 2048 MiB" in report
    assert f"{orphan}: Ganeti instance, no such server" in report
    assert f"server {pending} snf-{pending}: task STOP, job" in report and "success" in report
    assert f"server {failed} snf-{failed}: BUILD, creation job" in report and "error, no instance" in report
    assert f"snf-{fine}" not in report
    assert "report only" in report

    report = run(cloud, "--fix-all")
    assert report.count("-> FIXED") == 6, report
    vm = {v.id: v for v in VirtualMachine.objects.all()}
    assert vm[stale].deleted and vm[stale].operstate == "DESTROYED"
    assert vm[stopped].operstate == "STOPPED"
    assert vm[resized].flavor_id == cloud.flavors[3].id  # 2 CPUs, 2048 MiB
    assert vm[pending].operstate == "STOPPED" and vm[pending].task is None and vm[pending].serial is None
    assert vm[failed].operstate == "ERROR" and vm[failed].task is None
    assert vm[fine].operstate == "STARTED"
    assert vm[stale].backendlogmsg == "Reconciliation: simulated Ganeti event"
    assert usage(user) == expected_usage(user)
    cloud.settle()  # the orphan's removal job
    assert orphan not in insts
    assert "in sync" in run(cloud)


def test_a_fix_option_repairs_only_its_kind(cloud):
    stale, stopped = create(cloud), create(cloud)
    cloud.settle()
    del cloud.cluster.instances[f"snf-{stale}"]
    cloud.cluster.instances[f"snf-{stopped}"].update(admin_state="down", oper_state=False)
    report = run(cloud, "--fix-stale")
    assert "STARTED in the database, no Ganeti instance -> FIXED" in report
    assert "database STARTED, Ganeti STOPPED" in report and report.count("FIXED") == 1
    assert VirtualMachine.objects.get(pk=stale).deleted
    assert VirtualMachine.objects.get(pk=stopped).operstate == "STARTED"
    run(cloud, "--fix-unsynced")
    assert VirtualMachine.objects.get(pk=stopped).operstate == "STOPPED"
    assert usage(cloud.user) == expected_usage(cloud.user)


def test_running_jobs_are_left_alone(cloud):
    sid = create(cloud)
    # The create job is still queued or running: nothing to say about this server yet.
    cloud.cluster.speed = 1000
    sid2 = create(cloud)
    report = run(cloud, "--fix-all")
    assert f"snf-{sid2}: task BUILD" in report and "still running" in report
    assert VirtualMachine.objects.get(pk=sid2).operstate == "BUILD"
    assert sid  # first one may be done or not; either way not wrongly fixed
    assert not VirtualMachine.objects.filter(deleted=True).exists()


def test_unknown_flavor_shape_is_an_error_and_changes_nothing(cloud):
    sid = create(cloud)
    cloud.settle()
    cloud.cluster.instances[f"snf-{sid}"]["beparams"].update(vcpus=7)
    with pytest.raises(CommandError, match="1 error"):
        run(cloud, "--fix-unsynced-flavors")
    vm = VirtualMachine.objects.get(pk=sid)
    assert vm.flavor_id == cloud.flavors[0].id and vm.backendopcode == "OP_INSTANCE_CREATE"
    assert usage(cloud.user) == expected_usage(cloud.user)


def test_bad_backend_and_offline_backend(cloud):
    with pytest.raises(CommandError, match="No backend"):
        run(cloud, "--backend-id", "9999")
    Backend.objects.filter(pk=cloud.backend.id).update(offline=True)
    with pytest.raises(CommandError, match="error"):
        run(cloud, "--backend-id", str(cloud.backend.id))
    assert "No online backends" in run(cloud)


@pytest.mark.django_db(transaction=True)
def test_parallel_reconciles_each_backend(cloud):
    name = f"sim-{uuid.uuid4().hex[:8]}"
    other = simulated.SimulatedCluster(name, speed=0.01, publisher=ListPublisher())
    simulated._clusters[name] = other
    try:
        Backend.objects.create(clustername=name, host=simulated.SIMULATED_HOST, hypervisor="fake", drained=True)
        sid, elsewhere = create(cloud), create(cloud)
        with transaction.atomic():  # as the dispatcher applies events
            cloud.settle()
        del cloud.cluster.instances[f"snf-{sid}"]
        simulated.SimulatedRapiClient(other).create_instance("snf-99999", "drbd", [], [{}], beparams={"vcpus": 1})
        simulated.SimulatedRapiClient(other).create_instance(f"snf-{elsewhere}", "drbd", [], [{}], beparams={"vcpus": 1})
        for job_id in list(other.jobs):
            simulated.SimulatedRapiClient(other).wait_for_job(job_id, interval=0.01)
        report = run(cloud, "--parallel", "--fix-all")
        assert f"== Backend {cloud.backend.id}" in report and f"({name})" in report
        assert "snf-99999: Ganeti instance, no such server (Ganeti STARTED) -> FIXED" in report
        assert f"snf-{elsewhere}: Ganeti instance, its server lives on backend {cloud.backend.id}" in report
        assert not VirtualMachine.objects.get(pk=elsewhere).deleted
        assert VirtualMachine.objects.get(pk=sid).deleted
        assert usage(cloud.user) == expected_usage(cloud.user)
    finally:
        simulated._clusters.pop(name, None)


@pytest.mark.django_db(transaction=True)
def test_lost_events_of_finished_and_vanished_jobs(cloud):
    # Real commits: each fix's commissions are resolved when it commits, before the next fix
    # (in a test transaction they would all wait for the end of the test).
    stopped, deleted = create(cloud), create(cloud)
    with transaction.atomic():
        cloud.settle()
    assert cloud.call("POST", f"/servers/{stopped}/action", {"os-stop": None}).status_code == 202
    assert cloud.call("DELETE", f"/servers/{deleted}").status_code == 204
    lose_events(cloud)
    stop_job = VirtualMachine.objects.get(pk=stopped).task_job_id
    del cloud.cluster.jobs[stop_job]  # archived: Ganeti no longer knows it
    report = run(cloud)
    assert f"task STOP, job {stop_job} not known to Ganeti" in report
    assert f"server {deleted} snf-{deleted}: task DESTROY, job" in report
    report = run(cloud, "--fix-all")
    vm = VirtualMachine.objects.get(pk=stopped)
    # The vanished job counts as failed (its commission rejected), then Ganeti's state is taken.
    assert vm.operstate == "STOPPED" and vm.task is None and vm.serial is None
    assert VirtualMachine.objects.get(pk=deleted).deleted
    assert usage(cloud.user) == expected_usage(cloud.user)
    assert usage(cloud.user)["cyclades.vm"] == 1 and usage(cloud.user)["cyclades.cpu"] == 0
    assert "in sync" in run(cloud)


def test_changes_after_the_bulk_snapshot_are_not_drift(cloud, monkeypatch):
    stopped = create(cloud)
    cloud.settle()
    rapi = simulated.SimulatedRapiClient(cloud.cluster)
    old_snapshot = rapi.get_instances(bulk=True)
    # Since that snapshot: a shutdown through the API, applied, and a new server, built.
    cloud.call("POST", f"/servers/{stopped}/action", {"os-stop": None})
    built = create(cloud)
    cloud.settle()
    monkeypatch.setattr(simulated.SimulatedRapiClient, "get_instances", lambda self, bulk=False: old_snapshot)
    report = run(cloud, "--fix-all")
    assert "in sync" in report, report
    assert VirtualMachine.objects.get(pk=stopped).operstate == "STOPPED"
    assert not VirtualMachine.objects.get(pk=built).deleted


def test_a_simulated_cluster_of_another_process_is_not_reconciled(cloud):
    sid = create(cloud)
    cloud.settle()
    simulated._clusters.pop(cloud.backend.clustername)  # as seen from another process
    report = run(cloud, "--fix-all")
    assert "skipped the whole backend: a simulated cluster is only known to the process running it" in report
    assert not VirtualMachine.objects.get(pk=sid).deleted


def test_disks_that_differ_from_ganeti_are_reported_then_fixed(cloud):
    """Volumes against Ganeti's disk.names/disk.sizes: a root disk grown in Ganeti, a volume
    whose disk was removed there, a disk no volume names."""
    from synnefo.cyclades.models import Volume

    sid = create(cloud)
    cloud.settle()
    r = cloud.call("POST", "/volumes", {"volume": {"size": 1, "server_id": sid}}, api="volume", version="v2.0")
    assert r.status_code == 202, r.content
    extra = int(r.json()["volume"]["id"])
    cloud.settle()
    root = Volume.objects.get(machine_id=sid, index=0)
    disk_usage = lambda: usage(cloud.user)["cyclades.disk"]  # noqa: E731
    assert disk_usage() == (root.size + 1) * quotas.GiB
    assert "in sync" in run(cloud)
    inst = cloud.cluster.instances[f"snf-{sid}"]
    assert inst["disk.names"] == [root.backend_volume_uuid, f"snf-vol-{extra}"]
    inst["disk.sizes"][0] += 1024  # gnt-instance grow-disk behind our back
    for key in ("disk.names", "disk.sizes", "disk.uuids"):
        inst[key].pop(1)  # gnt-instance modify --disk 1:remove
    inst["disk.names"].append("foreign")
    inst["disk.sizes"].append(512)
    inst["disk.uuids"].append(str(uuid.uuid4()))

    report = run(cloud)
    assert f"volume {root.id} ({root.backend_volume_uuid}) has {root.size} GiB, Ganeti's disk {root.size * 1024 + 1024} MiB" in report
    assert f"volume {extra} (snf-vol-{extra}, 1 GiB) has no Ganeti disk" in report
    assert "Ganeti disk 1 foreign (512 MiB) is no volume of the server" in report
    assert Volume.objects.get(pk=extra).status == "IN_USE" and Volume.objects.get(pk=root.id).size == root.size

    report = run(cloud, "--fix-unsynced-disks")
    assert "-> FIXED" in report and "left as is: Ganeti disk foreign is no volume" in report, report
    assert Volume.objects.get(pk=root.id).size == root.size + 1
    gone = Volume.objects.get(pk=extra)
    assert gone.deleted and gone.machine_id is None  # a drbd disk: its data went with it
    assert disk_usage() == (root.size + 1) * quotas.GiB
    report = run(cloud)
    assert "foreign" in report and "has no Ganeti disk" not in report and "MiB) has" not in report
    # The server's removal gives back what it holds now.
    assert cloud.call("DELETE", f"/servers/{sid}").status_code == 204
    cloud.settle()
    assert disk_usage() == 0


def test_unnamed_ganeti_disks_are_the_volumes_at_their_index(cloud):
    """Disks Ganeti made without a name (instances imported with server-import, disks from
    before volumes named them) are the server's volumes at the same index: in sync when they
    agree, a size drift reported on the right volume, and an extra unnamed disk is no volume."""
    from synnefo.cyclades.models import Volume

    sid = create(cloud)
    cloud.settle()
    root = Volume.objects.get(machine_id=sid, index=0)
    inst = cloud.cluster.instances[f"snf-{sid}"]
    inst["disk.names"] = [None]
    assert "in sync" in run(cloud)
    inst["disk.sizes"][0] += 1024
    inst["disk.names"].append(None)
    inst["disk.sizes"].append(512)
    inst["disk.uuids"].append(str(uuid.uuid4()))
    report = run(cloud)
    assert f"volume {root.id} ({root.backend_volume_uuid}) has {root.size} GiB, Ganeti's disk {root.size * 1024 + 1024} MiB" in report
    assert "Ganeti disk 1 disk/1 (512 MiB) is no volume of the server" in report
    assert "has no Ganeti disk" not in report
