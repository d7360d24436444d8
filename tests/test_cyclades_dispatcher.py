"""The dispatcher: applying events (ordering guard, duplicates, poison) and the RabbitMQ path
(durable publish, dead-letter queue, broker restart, embedded filesystem transport)."""

import json
import subprocess
import sys
import threading
import time
import uuid

import kombu
import pytest
from django.test import override_settings

from synnefo.common import amqp
from synnefo.cyclades.dispatcher import Dispatcher
from synnefo.cyclades.logic import callbacks
from synnefo.cyclades.models import Backend, VirtualMachine
from tests.ganeti_helpers import RABBITMQ_URL, RecordingClient, amqp_available, delete_topology
from tests.services import require


def op(vm, opcode, status, t, job=1, **extra):
    return {"type": "ganeti-op-status", "instance": f"snf-{vm.id}", "operation": opcode, "status": status,
            "jobId": job, "event_time": [t, 0], "logmsg": f"{opcode} {status}", "cluster": "c", "result": None, **extra}


class FakeMessage:
    def __init__(self, body, routing_key="ganeti.snf.event.op"):
        self.body = body if isinstance(body, (bytes, str)) else json.dumps(body)
        self.delivery_info = {"routing_key": routing_key, "exchange": "ganeti"}
        self.headers = {}
        self.acked = self.requeued = False

    def ack(self):
        self.acked = True

    def requeue(self):
        self.requeued = True


@pytest.fixture
def vm(db):
    return VirtualMachine.objects.create(backend=Backend.objects.create(clustername="c"))


def apply(msg):
    dispatcher = Dispatcher(client=RecordingClient())
    message = FakeMessage(msg)
    dispatcher.handle_message(message)
    return dispatcher, message


def test_create_lifecycle_is_applied(vm):
    for status, t in (("queued", 10), ("waiting", 11), ("running", 12)):
        apply(op(vm, "OP_INSTANCE_CREATE", status, t))
        vm.refresh_from_db()
        assert (vm.operstate, vm.backendjobstatus) == ("BUILD", status)
    _, message = apply(op(vm, "OP_INSTANCE_CREATE", "success", 13))
    vm.refresh_from_db()
    assert message.acked
    assert (vm.operstate, vm.backendopcode, vm.backendjobid, vm.buildpercentage) == ("STARTED", "OP_INSTANCE_CREATE", 1, 100)
    assert vm.backendtime.timestamp() == 13


def test_reordered_and_duplicate_messages_do_not_go_back(vm):
    apply(op(vm, "OP_INSTANCE_SHUTDOWN", "success", 20, job=2))
    apply(op(vm, "OP_INSTANCE_STARTUP", "success", 30, job=3))
    # A late, older message and a redelivered one change nothing.
    apply(op(vm, "OP_INSTANCE_SHUTDOWN", "running", 19, job=2))
    apply(op(vm, "OP_INSTANCE_SHUTDOWN", "success", 20, job=2))
    apply(op(vm, "OP_INSTANCE_STARTUP", "success", 30, job=3))
    vm.refresh_from_db()
    assert (vm.operstate, vm.backendjobid, vm.backendjobstatus) == ("STARTED", 3, "success")


def test_failed_jobs_do_not_advance_the_guard_except_create(vm):
    apply(op(vm, "OP_INSTANCE_CREATE", "success", 10))
    apply(op(vm, "OP_INSTANCE_SHUTDOWN", "error", 20, job=2))
    vm.refresh_from_db()
    assert vm.operstate == "STARTED" and vm.backendjobstatus == "error" and vm.backendtime.timestamp() == 10
    other = VirtualMachine.objects.create()
    apply(op(other, "OP_INSTANCE_CREATE", "error", 10))
    other.refresh_from_db()
    assert other.operstate == "ERROR"


def test_a_failed_check_without_log_keeps_ganetis_reason(vm):
    """Ganeti logs nothing when a prerequisite check fails: the reason is in the opcode's result."""
    result = [["OpPrereqError", ["violates policy: nic-count value 0 is not in range [1, 8]", "wrong_input"]]]
    apply(op(vm, "OP_INSTANCE_SET_PARAMS", "error", 20, job=2, logmsg="", result=result))
    vm.refresh_from_db()
    assert vm.backendlogmsg == "OpPrereqError: violates policy: nic-count value 0 is not in range [1, 8]"
    apply(op(vm, "OP_INSTANCE_SET_PARAMS", "error", 21, job=3, logmsg="", result=None))
    vm.refresh_from_db()
    assert vm.backendlogmsg == ""


def test_remove_marks_deleted_and_later_messages_are_ignored(vm):
    apply(op(vm, "OP_INSTANCE_REMOVE", "success", 50, job=9))
    vm.refresh_from_db()
    assert vm.deleted and vm.operstate == "DESTROYED"
    _, message = apply(op(vm, "OP_INSTANCE_STARTUP", "success", 60, job=10))
    vm.refresh_from_db()
    assert message.acked and vm.operstate == "DESTROYED"


def test_foreign_and_unknown_instances_are_acked_and_ignored(db):
    for name in ("other-1", "snf-abc", "snf-999999"):
        dispatcher, message = apply({"type": "ganeti-op-status", "instance": name, "operation": "OP_INSTANCE_STARTUP",
                                     "status": "success", "jobId": 1, "event_time": [1, 0]})
        assert message.acked and dispatcher.stats["applied"] == 1 and not dispatcher.client.dead


@pytest.mark.parametrize("body", [
    b"\xff not json", "[1, 2]", {"type": "no-such-type"}, {"type": "ganeti-op-status", "instance": "snf-1"},
    {"type": "ganeti-op-status", "instance": "snf-1", "operation": "X", "status": "success", "jobId": 1, "event_time": "yesterday"},
])
def test_poison_messages_go_to_the_dead_letter_queue(db, body):
    dispatcher, message = apply(body)
    assert message.acked and dispatcher.stats["poison"] == 1 and len(dispatcher.client.dead) == 1


def test_progress_updates_build_percentage(vm):
    apply({"type": "image-copy-progress", "instance": f"snf-{vm.id}", "progress": 42.7, "event_time": [1, 0]})
    vm.refresh_from_db()
    assert vm.buildpercentage == 42
    dispatcher, _ = apply({"type": "image-error", "instance": f"snf-{vm.id}", "messages": ["disk full"]})
    assert dispatcher.stats["applied"] == 1


# --- through a real broker ------------------------------------------------------------------

@pytest.fixture
def broker():
    """Unique exchanges and queues on the local RabbitMQ; deleted afterwards."""
    require(amqp_available(), "RabbitMQ on 127.0.0.1:5672 (guest/guest)")
    tag = "t" + uuid.uuid4().hex[:8]
    with override_settings(AMQP_HOSTS=[RABBITMQ_URL], EXCHANGE_GANETI=tag, EXCHANGE_GANETI_DL=f"{tag}-dl",
                           BACKEND_PREFIX_ID=f"{tag}-"):
        client = amqp.AMQPClient()
        client.ensure()
        yield client
        client.close()
        delete_topology()


def dispatch_until(predicate, timeout=30):
    dispatcher = Dispatcher(client=amqp.AMQPClient(), reconnect_timeout=60)
    deadline = time.monotonic() + timeout
    dispatcher.run(until=lambda: predicate() or time.monotonic() > deadline)
    return dispatcher


def queue_count(client, name):
    _, count, _ = client.connection.default_channel.queue_declare(name, passive=True)
    return count


@pytest.mark.django_db(transaction=True)
def test_published_events_are_applied_and_poison_is_kept(broker):
    vm = VirtualMachine.objects.create()
    prefix = amqp.queue_prefix()
    vm_name = f"{prefix}-{vm.id}"
    key = f"ganeti.{prefix}.event.op"
    for status, t in (("queued", 1), ("running", 2), ("success", 3)):
        broker.publish(key, {"type": "ganeti-op-status", "instance": vm_name, "operation": "OP_INSTANCE_CREATE",
                             "status": status, "jobId": 5, "event_time": [t, 0], "logmsg": ""})
    broker.publish(key, {"type": "ganeti-op-status", "instance": vm_name})  # poison
    dispatcher = dispatch_until(lambda: dispatcher_done(vm, "STARTED") and queue_count(broker, f"{prefix}-events-op-dl"))
    vm.refresh_from_db()
    assert vm.operstate == "STARTED" and vm.backendjobstatus == "success"
    assert queue_count(broker, f"{prefix}-events-op") == 0
    assert queue_count(broker, f"{prefix}-events-op-dl") == 1
    assert dispatcher.stats["poison"] == 1
    # queue-inspect shows it; queue-retry puts it back (where it is poison again).
    from django.core.management import call_command
    import io
    out = io.StringIO()
    call_command("queue-inspect", f"{prefix}-events-op-dl", stdout=out)
    assert "lacks" in out.getvalue() and vm_name in out.getvalue()
    out = io.StringIO()
    call_command("queue-retry", f"{prefix}-events-op-dl", stdout=out)
    assert "1 message" in out.getvalue()
    assert queue_count(broker, f"{prefix}-events-op-dl") == 0
    assert queue_count(broker, f"{prefix}-events-op") == 1


def dispatcher_done(vm, state):
    return VirtualMachine.objects.filter(pk=vm.pk, operstate=state).exists()


@pytest.mark.django_db(transaction=True)
def test_broker_restart_loses_no_message(broker):
    import shutil

    usable = shutil.which("rabbitmqctl") is not None and subprocess.run(
        ["rabbitmqctl", "status"], capture_output=True).returncode == 0
    require(usable, "rabbitmqctl (to restart the local broker's app)")
    vms = [VirtualMachine.objects.create() for _ in range(20)]
    prefix = amqp.queue_prefix()
    key = f"ganeti.{prefix}.event.op"

    def publish(vm):
        broker.publish(key, {"type": "ganeti-op-status", "instance": f"{prefix}-{vm.id}", "operation": "OP_INSTANCE_CREATE",
                             "status": "success", "jobId": vm.id, "event_time": [100, 0], "logmsg": ""})

    for vm in vms[:10]:
        publish(vm)
    subprocess.run(["rabbitmqctl", "stop_app"], check=True, capture_output=True)
    subprocess.run(["rabbitmqctl", "start_app"], check=True, capture_output=True)
    subprocess.run(["rabbitmqctl", "await_startup"], capture_output=True, timeout=60)
    for vm in vms[10:]:
        publish(vm)  # the old connection is dead: the client reconnects and retries
    dispatch_until(lambda: VirtualMachine.objects.filter(operstate="STARTED").count() == 20, timeout=60)
    assert VirtualMachine.objects.filter(operstate="STARTED").count() == 20


@pytest.mark.django_db(transaction=True)
def test_embedded_filesystem_transport_across_processes(tmp_path):
    tag = "f" + uuid.uuid4().hex[:6]
    with override_settings(AMQP_HOSTS=None, AMQP_FILESYSTEM_DIR=str(tmp_path), EXCHANGE_GANETI=tag,
                           EXCHANGE_GANETI_DL=f"{tag}-dl", BACKEND_PREFIX_ID=f"{tag}-"):
        consumer_client = amqp.AMQPClient()
        consumer_client.ensure()  # declares queues + bindings (kept in files)
        vm = VirtualMachine.objects.create()
        script = (
            "import django,os;os.environ['DJANGO_SETTINGS_MODULE']='tests.settings';django.setup()\n"
            "from django.test import override_settings\nfrom synnefo.common import amqp\n"
            f"with override_settings(AMQP_HOSTS=None, AMQP_FILESYSTEM_DIR={str(tmp_path)!r}, EXCHANGE_GANETI={tag!r}, "
            f"EXCHANGE_GANETI_DL={tag + '-dl'!r}, BACKEND_PREFIX_ID={tag + '-'!r}):\n"
            f"    amqp.AMQPClient().publish('ganeti.{tag}.event.op', {{'type':'ganeti-op-status','instance':'{tag}-{vm.id}',"
            "'operation':'OP_INSTANCE_CREATE','status':'success','jobId':1,'event_time':[5,0]})\n"
        )
        subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, timeout=60)
        dispatch_until(lambda: dispatcher_done(vm, "STARTED"), timeout=20)
        vm.refresh_from_db()
        assert vm.operstate == "STARTED"


class Crash(BaseException):
    """Stands for the process dying (not an Exception: nothing may catch it)."""


@pytest.mark.django_db(transaction=True)
def test_dispatcher_killed_between_commit_and_ack_replays_harmlessly(broker):
    vm = VirtualMachine.objects.create()
    prefix = amqp.queue_prefix()
    broker.publish(f"ganeti.{prefix}.event.op", {"type": "ganeti-op-status", "instance": f"{prefix}-{vm.id}",
                                                 "operation": "OP_INSTANCE_CREATE", "status": "success", "jobId": 7,
                                                 "event_time": [500, 0], "logmsg": "created"})
    dispatcher = Dispatcher(client=amqp.AMQPClient())
    original = dispatcher.handle_message

    def die_before_ack(message):
        def ack(*args, **kwargs):
            raise Crash()

        message.ack = ack
        original(message)

    dispatcher.handle_message = die_before_ack
    with pytest.raises(Crash):
        dispatcher.run(until=lambda: False)
    dispatcher.client.close()  # the dead process's connection goes away: the broker requeues
    vm.refresh_from_db()
    assert vm.operstate == "STARTED"  # committed
    VirtualMachine.objects.filter(pk=vm.pk).update(backendlogmsg="changed after the crash")
    second = Dispatcher(client=amqp.AMQPClient())
    deadline = time.monotonic() + 30
    second.run(until=lambda: second.stats["applied"] >= 1 or time.monotonic() > deadline)
    assert queue_count(broker, f"{prefix}-events-op") == 0
    vm.refresh_from_db()
    assert second.stats["applied"] == 1  # redelivered, acked ...
    assert vm.backendlogmsg == "changed after the crash"  # ... and dropped by the ordering guard


@pytest.mark.django_db(transaction=True)
def test_failover_to_the_broker_that_answers(broker):
    import io

    from django.core.management import call_command

    prefix = amqp.queue_prefix()
    with override_settings(AMQP_HOSTS=["amqp://guest:guest@127.0.0.1:1//", RABBITMQ_URL]):
        for _ in range(4):  # random order: the dead broker is tried first about half the time
            client = amqp.AMQPClient()
            client.publish(f"ganeti.{prefix}.event.op", {"type": "ganeti-op-status"})
            assert "5672" in client.connection.as_uri()
            client.close()
        out = io.StringIO()
        call_command("queue-inspect", stdout=out)
    assert f"{prefix}-events-op " in out.getvalue() and f"{prefix}-events-op-dl" in out.getvalue()
    assert queue_count(broker, f"{prefix}-events-op") == 4
    with override_settings(AMQP_HOSTS=["amqp://guest:guest@127.0.0.1:1//"]):
        with pytest.raises(ConnectionError, match="no AMQP broker reachable"):
            amqp.AMQPClient(retry_seconds=0).publish("k", {})
