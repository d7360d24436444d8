"""End to end against real Ganeti and real RabbitMQ: an instance created, stopped and removed
through the RAPI client; snf-ganeti-eventd (a real process watching the real job queue)
publishes the op-status messages; the dispatcher applies them to the database."""

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.test import override_settings

from synnefo.common import amqp
from synnefo.cyclades.dispatcher import Dispatcher
from synnefo.cyclades.ganeti.rapi import GanetiApiError
from synnefo.cyclades.logic.backends import create_backend
from synnefo.cyclades.models import VirtualMachine
from tests.ganeti_helpers import RABBITMQ_URL, amqp_available, delete_topology, sandbox_env
from tests.services import require


@pytest.fixture(scope="module")
def ganeti():
    return sandbox_env()


@pytest.fixture
def eventd(ganeti, tmp_path):
    """Exchanges/queues unique to this test, and eventd running with the same settings."""
    require(amqp_available(), "RabbitMQ on 127.0.0.1:5672 (guest/guest)")
    tag = "e" + uuid.uuid4().hex[:8]
    names = {"AMQP_HOSTS": [RABBITMQ_URL], "EXCHANGE_GANETI": tag, "EXCHANGE_GANETI_DL": f"{tag}-dl",
             "BACKEND_PREFIX_ID": f"{tag}-"}
    conf_dir = tmp_path / "conf"
    conf_dir.mkdir()
    (conf_dir / "50-amqp.conf").write_text("".join(f"{k} = {v!r}\n" for k, v in names.items()))
    log_file = tmp_path / "eventd.log"
    with override_settings(**names):
        client = amqp.AMQPClient()
        client.ensure()  # queues exist before eventd publishes
        env = dict(os.environ, SYNNEFO_SETTINGS_DIR=str(conf_dir), SYNNEFO_DATA_DIR=str(tmp_path / "data"))
        env.pop("DJANGO_SETTINGS_MODULE", None)
        with open(log_file, "w") as log:
            proc = subprocess.Popen(
                [sys.executable, "-c", "from synnefo.cyclades.ganeti.eventd import main; main()",
                 "--queue-dir", ganeti["GANETI_QUEUE_DIR"], "--node-name", ganeti["GANETI_NODE_NAME"]],
                env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 30
            while "watching" not in log_file.read_text():
                assert proc.poll() is None, log_file.read_text()
                assert time.monotonic() < deadline, "eventd did not start"
                time.sleep(0.1)
            yield client, log_file
        finally:
            proc.terminate()
            proc.wait(10)
            client.close()
            delete_topology()


def dispatch_until(predicate, timeout=60):
    dispatcher = Dispatcher(client=amqp.AMQPClient(), reconnect_timeout=120)
    deadline = time.monotonic() + timeout
    dispatcher.run(until=lambda: predicate() or time.monotonic() > deadline)
    return dispatcher


def state(vm):
    vm.refresh_from_db()
    return vm.operstate, vm.backendjobstatus, vm.deleted


@pytest.mark.django_db(transaction=True)
def test_instance_lifecycle_through_rapi_eventd_and_dispatcher(ganeti, eventd):
    _, log_file = eventd
    backend = create_backend(ganeti["GANETI_CLUSTER_NAME"], int(ganeti["GANETI_RAPI_PORT"]), ganeti["GANETI_RAPI_USER"],
                             ganeti["GANETI_RAPI_PASSWORD"], host=ganeti["GANETI_RAPI_HOST"], ca_file=ganeti["GANETI_RAPI_CA"])
    vm = VirtualMachine.objects.create(backend=backend, name="e2e")
    rapi = backend.get_client()
    name = vm.backend_vm_id
    try:
        job = rapi.create_instance(
            name, "diskless", [], [{"link": ganeti["GANETI_NIC_LINK"], "mode": "bridged"}],
            os_type="snf-image+default", osparams={"img_id": "debian", "img_format": "diskdump", "img_properties": "{}"},
            beparams={"maxmem": 128, "minmem": 128, "vcpus": 1}, hypervisor="fake", pnode=ganeti["GANETI_NODE_NAME"],
            name_check=False, ip_check=False, start=True, tags=["synnefo:test"])
        seen = []

        def started():
            seen.append(state(vm))
            return seen[-1] == ("STARTED", "success", False)

        dispatch_until(started)
        assert state(vm) == ("STARTED", "success", False), log_file.read_text()
        assert vm.backendjobid == job and vm.backendopcode == "OP_INSTANCE_CREATE" and vm.buildpercentage == 100
        # The success message carries the instance's NICs and disks read from Ganeti's config.
        from synnefo.cyclades.ganeti.eventd import EventDaemon, Ssconf
        from tests.ganeti_helpers import RecordingClient

        recorder = RecordingClient()
        reader = EventDaemon(ganeti["GANETI_QUEUE_DIR"], recorder, Ssconf(), node_name=ganeti["GANETI_NODE_NAME"])
        assert reader.process_file(Path(ganeti["GANETI_QUEUE_DIR"]) / f"job-{job}") == 1
        success = recorder.published[-1][1]
        assert success["status"] == "success"
        assert success["instance_nics"][0]["link"] == ganeti["GANETI_NIC_LINK"] and success["instance_nics"][0]["mac"]
        assert success["instance_disks"] == []  # diskless

        job = rapi.shutdown_instance(name)
        dispatch_until(lambda: state(vm)[0] == "STOPPED" and vm.backendjobid == job)
        assert state(vm) == ("STOPPED", "success", False)

        job = rapi.delete_instance(name, shutdown_timeout=0)
        dispatch_until(lambda: state(vm)[2])
        assert state(vm) == ("DESTROYED", "success", True)
        assert vm.backendjobid == job
    finally:
        try:
            rapi.wait_for_job(rapi.delete_instance(name, shutdown_timeout=0), raise_on_error=False)
        except GanetiApiError:
            pass  # already gone


@pytest.mark.django_db(transaction=True)
def test_failed_create_sets_error(ganeti, eventd):
    backend = create_backend(ganeti["GANETI_CLUSTER_NAME"], int(ganeti["GANETI_RAPI_PORT"]), ganeti["GANETI_RAPI_USER"],
                             ganeti["GANETI_RAPI_PASSWORD"], host=ganeti["GANETI_RAPI_HOST"], ca_file=ganeti["GANETI_RAPI_CA"])
    vm = VirtualMachine.objects.create(backend=backend)
    rapi = backend.get_client()
    # A nonexistent OS fails in the job (not at submission): Ganeti's own error reaches the VM.
    rapi.create_instance(vm.backend_vm_id, "diskless", [], [{"link": ganeti["GANETI_NIC_LINK"]}], os_type="nonexistent+x",
                         beparams={"maxmem": 128, "minmem": 128, "vcpus": 1}, hypervisor="fake",
                         pnode=ganeti["GANETI_NODE_NAME"], name_check=False, ip_check=False, start=True)
    dispatch_until(lambda: state(vm)[0] == "ERROR")
    assert state(vm) == ("ERROR", "error", False)
    assert vm.backendlogmsg is not None


@pytest.mark.django_db(transaction=True)
def test_status_check_round_trip_through_rapi_ganeti_eventd_and_rabbitmq(ganeti, eventd):
    from synnefo.cyclades.models import Backend
    from synnefo.cyclades.status_check import healthy, status_check

    create_backend(ganeti["GANETI_CLUSTER_NAME"], int(ganeti["GANETI_RAPI_PORT"]), ganeti["GANETI_RAPI_USER"],
                   ganeti["GANETI_RAPI_PASSWORD"], host=ganeti["GANETI_RAPI_HOST"], ca_file=ganeti["GANETI_RAPI_CA"])
    Backend.objects.create(clustername="down.example.org", host="127.0.0.1", port=1)  # RAPI refuses
    result = status_check(timeout=10)
    assert result["clusters"][ganeti["GANETI_CLUSTER_NAME"]] == {"RAPI": "ok", "eventd": "ok"}
    assert result["clusters"]["down.example.org"]["RAPI"] == "fail"
    assert result["dispatcher"] == "fail"  # nobody consumes
    assert not healthy(result)
    client, _ = eventd
    queues, _ = amqp.event_queues(True)
    with client.connection.Consumer(queues[0], callbacks=[]):
        result = status_check(timeout=10)
    assert result["dispatcher"] == "ok"
