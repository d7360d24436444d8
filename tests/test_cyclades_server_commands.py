"""snf-manage server-* on a simulated Ganeti backend: list, show, inspect, create (--wait),
modify (actions, resize, suspend, owner change with its quota), import, remove; bad input is
a CommandError that changes nothing."""

import io
import time

import pytest
from django.core.management import CommandError, call_command

from synnefo.astakos.quotaholder.logic import user_quotas
from synnefo.cyclades.ganeti import simulated
from synnefo.cyclades.logic import server_admin
from synnefo.cyclades.models import VirtualMachine
from tests.compute_helpers import cloud  # noqa: F401
from tests.pithos_helpers import small_blocks  # noqa: F401

pytestmark = pytest.mark.django_db
MiB = 1024 ** 2


@pytest.fixture(autouse=True)
def dispatch_while_waiting(cloud, monkeypatch):
    """--wait polls the database; here the 'dispatcher' applies the simulated events meanwhile."""
    def sleep(seconds):
        time.sleep(0.01)
        cloud.apply_events()

    monkeypatch.setattr(server_admin, "_sleep", sleep)


def run(cloud, *args):
    out, err = io.StringIO(), io.StringIO()
    with cloud.on_commit(execute=True):
        call_command(*args, stdout=out, stderr=err)
    return out.getvalue() + err.getvalue()


def usage(user, resource):
    holdings = user_quotas([str(user.uuid)], "cyclades")[str(user.uuid)]
    return sum(h["usage"] for q in holdings.values() for r, h in q.items() if r == resource)


def make_server(cloud, name="s1", wait=True):
    out = run(cloud, "server-create", "--name", name, "--user", cloud.user.email, "--image", cloud.image_id,
              "--flavor", str(cloud.flavors[0].id), "--wait", str(wait))
    return VirtualMachine.objects.get(pk=int(out.split()[1])), out


def test_create_waits_and_shows_progress(cloud):
    vm, out = make_server(cloud, wait=True)
    assert "Password: " in out and f"instance snf-{vm.id}" in out
    assert f"server {vm.id}: BUILD 0%, job {vm.backendjobid} queued" in out or "BUILD" in out.splitlines()[2]
    assert out.rstrip().endswith(f"Server {vm.id}: ACTIVE")
    vm.refresh_from_db()
    assert vm.operstate == "STARTED" and vm.task is None and vm.userid == str(cloud.user.uuid)
    assert usage(cloud.user, "cyclades.vm") == 1 and usage(cloud.user, "cyclades.cpu") == 1


@pytest.mark.parametrize("change, message", [
    (("--user", "nobody@example.org"), "No user"),
    (("--image", "9f92995e-ec8b-4d63-925f-70a612b0874f"), "Image"),
    (("--flavor", "9999"), "Flavor 9999 does not exist"),
    (("--backend-id", "9999"), "No backend"),
    (("--password", "short"), "adminPass"),
    (("--name", ""), "name"),
    (("--wait", "maybe"), "True or False"),
])
def test_bad_creates_change_nothing(cloud, change, message):
    args = {"--name": "s1", "--user": cloud.user.email, "--image": cloud.image_id, "--flavor": str(cloud.flavors[0].id)}
    args[change[0]] = change[1]
    with pytest.raises(CommandError, match=message):
        run(cloud, "server-create", *[x for kv in args.items() for x in kv])
    assert not VirtualMachine.objects.exists() and not cloud.cluster.jobs
    assert usage(cloud.user, "cyclades.vm") == 0


def test_list_and_show(cloud, make_user):
    vm, _ = make_server(cloud)
    second, _ = make_server(cloud, "building", wait=False)
    out = run(cloud, "server-list", "--output-format", "csv")
    header, *rows = out.strip().splitlines()
    assert header == "id,name,user,flavor,image,backend,state,operstate,task,suspended,deleted,created,updated"
    assert rows[0].startswith(f"{vm.id},s1,{cloud.user.uuid},C1R1024D1drbd,{cloud.image_id},{cloud.backend.id},ACTIVE,STARTED,,False,False,")
    assert f"{second.id},building" in rows[1] and ",BUILD,BUILD,BUILD," in rows[1]
    assert cloud.user.email in run(cloud, "server-list", "--display-mails", "-o", "id,user")
    assert run(cloud, "server-list", "--build", "-o", "id", "--no-headers").split() == [str(second.id)]
    assert run(cloud, "server-list", "--suspended", "-o", "id", "--no-headers").split() == []
    assert run(cloud, "server-list", "--image-name", "Debian", "-o", "id", "--no-headers").split() == [str(vm.id), str(second.id)]
    assert run(cloud, "server-list", "--image-name", "Other", "-o", "id", "--no-headers").split() == []
    assert len(run(cloud, "server-list", "--backend-id", cloud.backend.clustername, "--no-headers").splitlines()) == 2
    other, _, _ = make_user("bob@example.org")
    assert run(cloud, "server-list", "-u", "bob@example.org", "--no-headers") == ""
    assert run(cloud, "server-list", "-p", str(cloud.user.uuid), "-o", "id", "--no-headers").split() == [str(vm.id), str(second.id)]
    assert run(cloud, "server-list", "-p", str(other.uuid), "--no-headers") == ""
    assert run(cloud, "server-list", "--filter-by", f"id={vm.id}", "-o", "name", "--no-headers").split() == ["s1"]
    with pytest.raises(CommandError, match="Bad filter"):
        run(cloud, "server-list", "--filter-by", "colour=red")
    with pytest.raises(CommandError, match="No user"):
        run(cloud, "server-list", "-u", "nobody@example.org")

    cloud.call("POST", f"/servers/{vm.id}/metadata", {"metadata": {"role": "web"}})
    shown = run(cloud, "server-show", str(vm.id))
    for expected in (f"id                  : {vm.id}", "state", ": ACTIVE", "flavor cpu", "C1R1024D1drbd", "image name",
                     ": Debian", "metadata:role", ": web", f"snf-{vm.id}", cloud.user.email):
        assert expected in shown, expected
    assert '"metadata:users": "root"' in run(cloud, "server-show", str(vm.id), "--output-format", "json")
    for bad in ("9999", "abc"):
        with pytest.raises(CommandError, match="No server"):
            run(cloud, "server-show", bad)


def test_inspect_compares_database_and_ganeti(cloud):
    vm, _ = make_server(cloud)
    out = run(cloud, "server-inspect", str(vm.id), "--jobs", "--display-mails")
    assert "== Database" in out and f"user                : {cloud.user.email}" in out
    assert "== Ganeti: instance snf-" in out
    lines = {line.split()[0]: line for line in out.splitlines() if line.split()}
    assert lines["state"].rstrip().endswith("yes") and lines["cpu"].rstrip().endswith("yes")
    assert f"== Ganeti jobs of snf-{vm.id}" in out and "INSTANCE_CREATE" in out
    cloud.cluster.instances[f"snf-{vm.id}"]["beparams"]["vcpus"] = 4
    lines = {line.split()[0]: line for line in run(cloud, "server-inspect", str(vm.id)).splitlines() if line.split()}
    assert lines["cpu"].split()[1:] == ["1", "4", "NO"]
    del cloud.cluster.instances[f"snf-{vm.id}"]
    assert "reconcile-servers reports it as stale" in run(cloud, "server-inspect", str(vm.id))
    with pytest.raises(CommandError, match="No server"):
        run(cloud, "server-inspect", "9999")
    cloud.backend.offline = True
    cloud.backend.save()
    with pytest.raises(CommandError, match="Cannot read backend"):
        run(cloud, "server-inspect", str(vm.id))
    with pytest.raises(CommandError, match="offline"):
        run(cloud, "server-create", "--name", "x", "--user", cloud.user.email, "--image", cloud.image_id,
            "--flavor", str(cloud.flavors[0].id), "--backend-id", str(cloud.backend.id))
    assert VirtualMachine.objects.count() == 1


def test_modify_actions_resize_suspend(cloud):
    vm, _ = make_server(cloud)
    out = run(cloud, "server-modify", str(vm.id), "--action", "stop", "--wait", "True")
    assert f"Server {vm.id}: stop (job" in out
    vm.refresh_from_db()
    assert vm.operstate == "STOPPED" and usage(cloud.user, "cyclades.cpu") == 0
    bigger = cloud.flavors[3]
    run(cloud, "server-modify", str(vm.id), "--flavor", str(bigger.id), "--name", "big", "--wait", "True")
    vm.refresh_from_db()
    assert vm.flavor_id == bigger.id and vm.name == "big" and usage(cloud.user, "cyclades.total_cpu") == 2
    assert cloud.cluster.instances[f"snf-{vm.id}"]["beparams"]["vcpus"] == 2
    # Suspended: the owner may not start it; an administrator unsuspends and starts in one go.
    run(cloud, "server-modify", str(vm.id), "--suspended", "True")
    assert cloud.call("POST", f"/servers/{vm.id}/action", {"start": {}}).status_code == 403
    run(cloud, "server-modify", str(vm.id), "--suspended", "False", "--action", "start", "--wait", "True")
    vm.refresh_from_db()
    assert vm.operstate == "STARTED" and not vm.suspended and usage(cloud.user, "cyclades.cpu") == 2
    run(cloud, "server-modify", str(vm.id), "--action", "reboot_soft", "--wait", "True")
    assert VirtualMachine.objects.get(pk=vm.id).backendopcode == "OP_INSTANCE_REBOOT"


@pytest.mark.parametrize("args, message", [
    (("--flavor", "BIGGER"), "Cannot resize"),            # running: resize needs STOPPED
    (("--flavor", "9999"), "9999"),
    (("--suspended", "perhaps"), "True or False"),
    (("--action", "explode"), "invalid choice"),
    (("--user", "nobody@example.org"), "No user"),
    (("--name", "x" * 300), "limited"),
    (("--flavor", "BIGGER", "--action", "start"), "one after the other"),
    (("--name", "new", "--action", "start"), "Cannot start"),   # already running: the rename is undone too
    ((), "Nothing to change"),
])
def test_bad_modifications_change_nothing(cloud, args, message):
    vm, _ = make_server(cloud)
    jobs = len(cloud.cluster.jobs)
    before = VirtualMachine.objects.filter(pk=vm.id).values().get()
    args = [str(cloud.flavors[3].id) if a == "BIGGER" else a for a in args]
    with pytest.raises(CommandError, match=message):
        run(cloud, "server-modify", str(vm.id), *args)
    assert VirtualMachine.objects.filter(pk=vm.id).values().get() == before
    assert len(cloud.cluster.jobs) == jobs
    with pytest.raises(CommandError, match="No server"):
        run(cloud, "server-modify", "9999", "--name", "x")


def test_changing_the_owner_moves_the_quota(cloud, make_user):
    vm, _ = make_server(cloud)
    bob, _, _ = make_user("bob@example.org")
    run(cloud, "server-modify", str(vm.id), "--user", "bob@example.org")
    vm.refresh_from_db()
    assert vm.userid == str(bob.uuid) and vm.project == str(bob.uuid)
    for resource, amount in (("cyclades.vm", 1), ("cyclades.cpu", 1), ("cyclades.ram", 1024 * MiB)):
        assert usage(cloud.user, resource) == 0 and usage(bob, resource) == amount, resource
    # Over the new owner's quota: refused, nothing moves.
    call_command("quota-modify", str(cloud.user.uuid), "--resource", "cyclades.vm", "--limit", "0", stdout=io.StringIO())
    with pytest.raises(CommandError, match="cyclades.vm"):
        run(cloud, "server-modify", str(vm.id), "--user", cloud.user.email)
    assert VirtualMachine.objects.get(pk=vm.id).userid == str(bob.uuid) and usage(bob, "cyclades.vm") == 1
    with pytest.raises(CommandError, match="already belongs"):
        run(cloud, "server-modify", str(vm.id), "--user", str(bob.uuid))


def test_import_adopts_a_stopped_instance(cloud):
    rapi = simulated.SimulatedRapiClient(cloud.cluster)
    job = rapi.create_instance("legacy.example.org", "drbd", [{"size": 1024}], [{}], start=False,
                               beparams={"vcpus": 1, "maxmem": 1024})
    rapi.wait_for_job(job, interval=0.01)
    args = ("--backend-id", str(cloud.backend.id), "--user", cloud.user.email, "--image", cloud.image_id)
    for name, flavor, message in (("nosuch", cloud.flavors[0].id, "no instance"),
                                  ("legacy.example.org", cloud.flavors[3].id, "has 1 CPUs, 1024 MiB"),
                                  ("legacy.example.org", 9999, "Flavor 9999")):
        with pytest.raises(CommandError, match=message):
            run(cloud, "server-import", name, *args, "--flavor", str(flavor))
    with pytest.raises(CommandError, match="No backend"):
        run(cloud, "server-import", "legacy.example.org", "--backend-id", "9999", *args[2:], "--flavor", "1")
    assert not VirtualMachine.objects.exists() and usage(cloud.user, "cyclades.vm") == 0

    out = run(cloud, "server-import", "legacy.example.org", *args, "--flavor", str(cloud.flavors[0].id))
    vm = VirtualMachine.objects.get()
    assert f"as server {vm.id}" in out
    assert vm.operstate == "STOPPED" and vm.name == "legacy.example.org" and vm.flavor_id == cloud.flavors[0].id
    assert f"snf-{vm.id}" in cloud.cluster.instances and "legacy.example.org" not in cloud.cluster.instances
    assert usage(cloud.user, "cyclades.vm") == 1 and usage(cloud.user, "cyclades.cpu") == 0
    run(cloud, "server-modify", str(vm.id), "--action", "start", "--wait", "True")
    assert VirtualMachine.objects.get(pk=vm.id).operstate == "STARTED" and usage(cloud.user, "cyclades.cpu") == 1
    with pytest.raises(CommandError, match="already server"):
        run(cloud, "server-import", f"snf-{vm.id}", *args, "--flavor", str(cloud.flavors[0].id))


def test_import_refuses_a_running_instance(cloud):
    rapi = simulated.SimulatedRapiClient(cloud.cluster)
    rapi.wait_for_job(rapi.create_instance("running.example.org", "drbd", [], [{}], beparams={"vcpus": 1, "maxmem": 1024}),
                      interval=0.01)
    with pytest.raises(CommandError, match="shut it down first"):
        run(cloud, "server-import", "running.example.org", "--backend-id", str(cloud.backend.id), "--user",
            cloud.user.email, "--image", cloud.image_id, "--flavor", str(cloud.flavors[0].id))
    assert not VirtualMachine.objects.exists() and "running.example.org" in cloud.cluster.instances


def test_remove(cloud):
    first, _ = make_server(cloud, "a")
    second, _ = make_server(cloud, "b")
    with pytest.raises(CommandError, match="No server"):
        run(cloud, "server-remove", str(first.id), "9999")
    assert VirtualMachine.objects.filter(deleted=False).count() == 2
    out = run(cloud, "server-remove", str(first.id), str(second.id), "--wait", "True")
    assert f"Server {first.id}: removal job" in out and f"server {second.id}: DELETED" in out
    assert VirtualMachine.objects.filter(deleted=False).count() == 0 and not cloud.cluster.instances
    assert usage(cloud.user, "cyclades.vm") == 0 and usage(cloud.user, "cyclades.cpu") == 0
    with pytest.raises(CommandError, match="deleted"):
        run(cloud, "server-remove", str(first.id))


def test_owner_change_of_a_stopped_server_moves_only_what_it_holds(cloud, make_user):
    vm, _ = make_server(cloud)
    run(cloud, "server-modify", str(vm.id), "--action", "stop", "--wait", "True")
    bob, _, _ = make_user("bob@example.org")
    run(cloud, "server-modify", str(vm.id), "--user", str(bob.uuid), "--suspended", "True")
    vm.refresh_from_db()
    assert vm.userid == str(bob.uuid) and vm.suspended
    assert usage(bob, "cyclades.vm") == 1 and usage(bob, "cyclades.total_cpu") == 1 and usage(bob, "cyclades.cpu") == 0
    assert all(usage(cloud.user, r) == 0 for r in ("cyclades.vm", "cyclades.total_cpu", "cyclades.cpu", "cyclades.disk"))
    # Removed: the quota returns to its new owner; a deleted server cannot be modified.
    run(cloud, "server-remove", str(vm.id), "--wait", "True")
    assert usage(bob, "cyclades.vm") == 0
    with pytest.raises(CommandError, match="deleted"):
        run(cloud, "server-modify", str(vm.id), "--name", "again")


def test_a_failed_build_is_removed(cloud, settings):
    settings.GANETI_CREATEINSTANCE_KWARGS = {"os": "no-such-os+default"}
    vm, out = make_server(cloud, wait=True)
    assert out.rstrip().endswith(f"Server {vm.id}: ERROR")
    out = run(cloud, "server-remove", str(vm.id), "--wait", "True")
    assert VirtualMachine.objects.get(pk=vm.id).deleted and usage(cloud.user, "cyclades.vm") == 0


def test_a_simulated_cluster_of_another_process_is_refused(cloud):
    vm, _ = make_server(cloud)
    simulated._clusters.pop(cloud.backend.clustername)  # as seen from another process
    jobs = len(cloud.cluster.jobs)
    for args in (("server-modify", str(vm.id), "--action", "stop"), ("server-remove", str(vm.id)),
                 ("server-inspect", str(vm.id)),
                 ("server-create", "--name", "x", "--user", cloud.user.email, "--image", cloud.image_id, "--flavor",
                  str(cloud.flavors[0].id), "--backend-id", str(cloud.backend.id)),
                 ("server-import", "legacy", "--backend-id", str(cloud.backend.id), "--user", cloud.user.email,
                  "--image", cloud.image_id, "--flavor", str(cloud.flavors[0].id))):
        with pytest.raises(CommandError, match="known only to the process that runs it"):
            run(cloud, *args)
    assert len(cloud.cluster.jobs) == jobs and VirtualMachine.objects.count() == 1
    assert "renamed to 'renamed'" in run(cloud, "server-modify", str(vm.id), "--name", "renamed")  # database only
