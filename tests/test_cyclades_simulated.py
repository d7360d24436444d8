"""The SIMULATED Ganeti cluster: same RAPI calls, same job states, same messages as a real one;
and a scale run (hundreds of backends, thousands of messages) through the real dispatcher."""

import threading
import time
import uuid

import pytest
from django.core.management import call_command
from django.test import override_settings

from synnefo.common import amqp
from synnefo.cyclades.dispatcher import Dispatcher
from synnefo.cyclades.ganeti.rapi import GanetiApiError, GanetiJobError
from synnefo.cyclades.ganeti.simulated import SimulatedCluster, SimulatedRapiClient
from synnefo.cyclades.logic.allocator import VMRequest, allocate_backend
from synnefo.cyclades.models import Backend, VirtualMachine
from tests.ganeti_helpers import RABBITMQ_URL, RecordingClient, amqp_available, delete_topology
from tests.services import require


class ListPublisher(RecordingClient):
    def __init__(self):
        super().__init__()
        self.lock = threading.Lock()

    def publish(self, routing_key, body, exchange=None, headers=None):
        with self.lock:
            self.published.append((routing_key, body))


def make_client(**kw):
    publisher = ListPublisher()
    cluster = SimulatedCluster(f"sim-{uuid.uuid4().hex[:6]}", speed=0.01, publisher=publisher, **kw)
    return SimulatedRapiClient(cluster), publisher


def test_jobs_go_through_ganeti_states_and_emit_eventd_messages():
    rapi, publisher = make_client()
    job = rapi.create_instance("snf-1", "file", [{"size": 1024}], [{"name": "snf-nic-1"}], os_type="snf-image+default",
                               beparams={"maxmem": 512, "vcpus": 1})
    assert isinstance(job, int)
    assert rapi.wait_for_job(job)["status"] == "success"
    statuses = [m["status"] for _, m in publisher.published]
    assert statuses == ["queued", "waiting", "running", "success"]
    key, msg = publisher.published[-1]
    assert key == "ganeti.snf.event.op" and msg["type"] == "ganeti-op-status" and msg["instance"] == "snf-1"
    assert msg["operation"] == "OP_INSTANCE_CREATE" and msg["jobId"] == job and msg["cluster"] == rapi.cluster.name
    assert [t[0] for t in [m["event_time"] for _, m in publisher.published]] == sorted(
        t[0] for t in [m["event_time"] for _, m in publisher.published])
    assert rapi.get_instance("snf-1")["status"] == "running"
    node = rapi.get_nodes()[0]
    assert node["pinst_cnt"] == 1 and node["mfree"] == node["mtotal"] - 512
    rapi.wait_for_job(rapi.shutdown_instance("snf-1"))
    assert rapi.get_instance("snf-1")["status"] == "ADMIN_down"
    rapi.wait_for_job(rapi.delete_instance("snf-1"))
    with pytest.raises(GanetiApiError) as info:
        rapi.get_instance("snf-1")
    assert info.value.code == 404


def test_failures_are_ganeti_like():
    rapi, publisher = make_client()
    with pytest.raises(GanetiJobError, match="nonexistent"):
        rapi.wait_for_job(rapi.create_instance("snf-2", "file", [], [], os_type="nonexistent+x"))
    assert publisher.published[-1][1]["status"] == "error"
    with pytest.raises(GanetiJobError, match="not known"):
        rapi.wait_for_job(rapi.startup_instance("snf-404"))
    with pytest.raises(GanetiApiError) as info:
        rapi.get_job_status(999)
    assert info.value.code == 404


def test_a_detached_disk_is_removed_by_attaching_it_to_a_stopped_instance_as_in_ganeti():
    """What Ganeti 3.0 does (tried on the sandbox): a job waits for the jobs it ``depends`` on
    and fails when one ended in a status it does not accept; a detached disk is attached and
    removed in one modify job; a running instance's disk goes only with hotplug."""
    rapi, _ = make_client()
    rapi.wait_for_job(rapi.create_instance("snf-1", "file", [{"size": 1024, "name": "root"}, {"size": 1024, "name": "data"}],
                                           [{}], os_type="snf-image+default"))
    rapi.wait_for_job(rapi.modify_instance("snf-1", disks=[["detach", "data", {}]]))
    assert set(rapi.cluster.detached_disks) == {"data"}
    create = rapi.create_instance("helper", "diskless", [], [{}], os_type="snf-image+default", start=False)
    removal = rapi.modify_instance("helper", disks=[["attach", -1, {"name": "data"}], ["remove", -1, {}]],
                                   depends=[[create, ["success"]]])
    done = rapi.wait_for_job(removal)
    assert done["end_ts"] >= rapi.get_job_status(create)["end_ts"]
    assert done["opresult"] == [[["disk/0", "attach"], ["disk/0", "remove"]]] and not rapi.cluster.detached_disks
    assert rapi.get_instance("helper")["disk.names"] == []
    refused = rapi.wait_for_job(rapi.modify_instance("helper", disks=[["attach", -1, {"name": "data"}]]),
                                raise_on_error=False)
    assert refused["opresult"][0][1][0] == "No disk was found with this name: data"
    failed = rapi.create_instance("snf-1", "file", [{"size": 1024}], [{}], os_type="snf-image+default")
    blocked = rapi.wait_for_job(rapi.modify_instance("helper", beparams={"vcpus": 2}, depends=[[failed, ["success"]]]),
                                raise_on_error=False)
    assert blocked["status"] == "error" and "Dependency job" in blocked["opresult"][0][1][0]
    assert rapi.get_instance("helper")["beparams"].get("vcpus") != 2
    running = rapi.wait_for_job(rapi.modify_instance("snf-1", disks=[["remove", -1, {}]]), raise_on_error=False)
    assert "without using hotplug" in running["opresult"][0][1][0]
    rapi.wait_for_job(rapi.modify_instance("snf-1", disks=[["remove", -1, {}]], hotplug_if_possible=True))
    assert rapi.get_instance("snf-1")["disk.names"] == []


@pytest.mark.django_db
def test_backend_add_simulated():
    call_command("backend-add", "--clustername", f"sim-{uuid.uuid4().hex[:6]}", "--simulated-in-process", stdout=None)
    backend = Backend.objects.get()
    assert backend.host == "simulated" and backend.drained and backend.mtotal > 0
    assert "drbd" in backend.disk_templates


@pytest.mark.django_db(transaction=True)
def test_scale_hundreds_of_backends_thousands_of_messages():
    require(amqp_available(), "RabbitMQ on 127.0.0.1:5672 (guest/guest)")
    tag = "s" + uuid.uuid4().hex[:8]
    backends_n, vms_n = 100, 150
    with override_settings(AMQP_HOSTS=[RABBITMQ_URL], EXCHANGE_GANETI=tag, EXCHANGE_GANETI_DL=f"{tag}-dl",
                           BACKEND_PREFIX_ID=f"{tag}-"):
        client = amqp.AMQPClient()
        client.ensure()
        publisher = ListPublisher()
        real = amqp.AMQPClient()
        publisher.publish = lambda key, body, **kw: _locked(publisher.lock, real.publish, key, body)
        from synnefo.cyclades.ganeti import simulated

        try:
            for i in range(backends_n):
                name = f"{tag}-cluster{i}"
                simulated._clusters[name] = SimulatedCluster(name, speed=0.02, publisher=publisher,
                                                             mem_per_node=16384, cpus_per_node=8)
                call_command("backend-add", "--clustername", name, "--simulated-in-process", stdout=None)
            Backend.objects.update(drained=False)
            vms = []
            for i in range(vms_n):
                backend = allocate_backend(VMRequest(ram=512, disk=1024, cpu=1, disk_template="file", userid="u"))
                vm = VirtualMachine.objects.create(backend=backend)
                backend.get_client().create_instance(vm.backend_vm_id, "file", [{"size": 1024}], [],
                                                     beparams={"maxmem": 512, "vcpus": 1})
                vms.append(vm)
            used = VirtualMachine.objects.values("backend").distinct().count()
            assert used == backends_n  # the load score spreads VMs over every backend
            dispatcher = Dispatcher(client=amqp.AMQPClient())
            deadline = time.monotonic() + 120
            dispatcher.run(until=throttled(lambda: VirtualMachine.objects.filter(operstate="STARTED").count() == vms_n
                                           or time.monotonic() > deadline))
            assert VirtualMachine.objects.filter(operstate="STARTED", backendjobstatus="success").count() == vms_n
            assert dispatcher.stats["poison"] == 0
        finally:
            client.close()
            real.close()
            delete_topology()


def _locked(lock, fn, *args):
    with lock:
        fn(*args)


def throttled(predicate, interval=0.5):
    """Evaluate an expensive stop condition at most every ``interval`` seconds."""
    state = {"at": 0.0, "value": False}

    def check():
        now = time.monotonic()
        if now - state["at"] >= interval:
            state["at"], state["value"] = now, predicate()
        return state["value"]

    return check
