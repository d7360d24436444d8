"""snf-ganeti-eventd and snf-progress-monitor: job files -> messages (units on captured shapes)."""

import json

import pytest

from synnefo.cyclades.ganeti import progress_monitor
from synnefo.cyclades.ganeti.eventd import EventDaemon, Ssconf, job_status, messages_for_job
from tests.ganeti_helpers import RecordingClient, job_file_from_shape


@pytest.mark.parametrize("ops,expected", [
    (["success", "success"], "success"),
    (["queued", "queued"], "queued"),
    (["success", "waiting"], "waiting"),
    (["success", "running", "queued"], "running"),
    (["success", "error", "queued"], "error"),
    (["canceled", "queued"], "canceled"),
    (["running", "canceling"], "canceling"),
])
def test_job_status_derived_from_opcodes(ops, expected):
    assert job_status(ops) == expected


def test_instance_create_success_message_has_upstream_fields():
    job = job_file_from_shape("job_instance_create")
    [(key, msg)] = messages_for_job(job, "cluster.ganeti.test")
    assert key == "ganeti.snf.event.op"
    assert msg["type"] == "ganeti-op-status" and msg["instance"] == "snf-1"
    assert msg["operation"] == "OP_INSTANCE_CREATE" and msg["status"] == "success"
    assert msg["jobId"] == job["id"] and msg["cluster"] == "cluster.ganeti.test"
    assert msg["event_time"] == job["ops"][0]["end_timestamp"]
    assert msg["logmsg"] == job["ops"][0]["log"][-1][3]
    assert set(msg["job_fields"]) <= {"nics", "disks", "hvparams", "beparams"} and "beparams" in msg["job_fields"]


def test_event_time_follows_the_op_status():
    job = job_file_from_shape("job_instance_create", status="queued")
    assert messages_for_job(job, "c")[0][1]["event_time"] == job["received_timestamp"]
    job = job_file_from_shape("job_instance_create", status="running", exec_timestamp=[5, 6])
    assert messages_for_job(job, "c")[0][1]["event_time"] == [5, 6]


def test_failed_create_carries_the_whole_input_without_the_password():
    job = job_file_from_shape("job_instance_create", status="error")
    job["ops"][0]["input"]["osparams"] = {"img_id": "x", "img_passwd": "topsecret"}
    msg = messages_for_job(job, "c")[0][1]
    assert msg["job_fields"]["OP_ID"] == "OP_INSTANCE_CREATE"
    assert msg["job_fields"]["osparams"]["img_passwd"] is None
    assert "topsecret" not in json.dumps(msg)


def test_network_and_cluster_messages():
    job = job_file_from_shape("job_network_create")
    [(key, msg)] = messages_for_job(job, "c")
    assert key == "ganeti.net1.event.network" or key.endswith(".event.network")
    assert msg["type"] == "ganeti-network-status" and msg["network"] == "net1"
    assert msg["job_fields"]["subnet"] == "203.0.113.0/24"
    cluster_job = {"id": 9, "received_timestamp": [1, 0], "ops": [
        {"input": {"OP_ID": "OP_CLUSTER_SET_PARAMS"}, "status": "success", "end_timestamp": [2, 0], "log": []}]}
    [(key, msg)] = messages_for_job(cluster_job, "c")
    assert key == "ganeti.event.cluster" and msg["type"] == "ganeti-cluster-status"


def test_other_jobs_publish_nothing():
    job = {"id": 3, "ops": [{"input": {"OP_ID": "OP_OS_DIAGNOSE"}, "status": "success", "log": []}]}
    assert messages_for_job(job, "c") == []


@pytest.fixture
def queue(tmp_path):
    qdir = tmp_path / "queue"
    qdir.mkdir()
    (tmp_path / "ssconf_master_node").write_text("node1.ganeti.test\n")
    (tmp_path / "ssconf_cluster_name").write_text("cluster.ganeti.test\n")
    return qdir


def test_daemon_reads_job_files_skips_temp_names_and_repeats(queue):
    client = RecordingClient()
    daemon = EventDaemon(str(queue), client, Ssconf(str(queue.parent)), node_name="node1.ganeti.test")
    job = job_file_from_shape("job_instance_create")
    for name in ("job-18-8735-9.tmp", "job-18xk3p4zo.new", "serial", "lock"):
        (queue / name).write_text(json.dumps(job))
        assert daemon.process_file(queue / name) == 0
    (queue / "job-18").write_text(json.dumps(job))
    assert daemon.process_file(queue / "job-18") == 1
    assert daemon.process_file(queue / "job-18") == 0  # same state, not sent again
    (queue / "job-19").write_text("{not json")
    assert daemon.process_file(queue / "job-19") == 0
    assert daemon.process_file(queue / "job-20") == 0  # archived meanwhile
    assert client.published[0][1]["cluster"] == "cluster.ganeti.test"


def test_only_the_master_publishes(queue):
    client = RecordingClient()
    daemon = EventDaemon(str(queue), client, Ssconf(str(queue.parent)), node_name="node2.ganeti.test")
    (queue / "job-18").write_text(json.dumps(job_file_from_shape("job_instance_create")))
    assert daemon.process_file(queue / "job-18") == 0
    (queue.parent / "ssconf_master_node").write_text("node2.ganeti.test\n")  # failover
    assert daemon.process_file(queue / "job-18") == 1


def test_rescan_publishes_every_job_in_order(queue):
    client = RecordingClient()
    daemon = EventDaemon(str(queue), client, Ssconf(str(queue.parent)), node_name="node1.ganeti.test")
    for job_id in (10, 9, 100):
        job = job_file_from_shape("job_instance_create")
        job["id"] = job_id
        (queue / f"job-{job_id}").write_text(json.dumps(job))
    assert daemon.rescan() == 3
    assert [m["jobId"] for _, m in client.published] == [9, 10, 100]


def test_progress_monitor_parses_a_stream_and_skips_garbage():
    text = '{"type":"image-copy-progress","position":5,"total":10,"progress":50.0}\nnot json\n{"type":"image-info","messages":["a"]}{"type":"image-helper","subtype":"task-start","task":"X"}\n'
    objects = list(progress_monitor.parse_stream(text))
    assert [o["type"] for o in objects] == ["image-copy-progress", "image-info", "image-helper"]
    msg = progress_monitor.build_message(objects[0], "snf-7", now=12.5)
    assert msg["instance"] == "snf-7" and msg["event_time"] == [12, 500000] and msg["progress"] == 50.0


def test_heartbeat_tag_job_gives_an_eventd_heartbeat():
    job = {"id": 4, "received_timestamp": [1, 0], "ops": [
        {"input": {"OP_ID": "OP_TAGS_SET", "kind": "cluster", "tags": ["snf:eventd:heartbeat:h:1:2"], "dry_run": True},
         "status": "success", "end_timestamp": [2, 0], "log": []}]}
    [(key, msg)] = messages_for_job(job, "c")
    assert key == "eventd.heartbeat" and msg["type"] == "eventd-heartbeat" and msg["tag"] == "snf:eventd:heartbeat:h:1:2"
    job["ops"][0]["input"]["tags"] = ["other"]
    assert messages_for_job(job, "c") == []


def test_success_messages_carry_instance_details_from_ganeti_config():
    config = {
        "cluster": {"nicparams": {"default": {"mode": "bridged", "link": "gntbr0"}}},
        "networks": {"net-uuid": {"name": "snf-net-3"}},
        "disks": {"d1": {"name": "snf-vol-9", "size": 1024, "uuid": "d1"}},
        "instances": {"i1": {"name": "snf-1", "tags": ["synnefo:network:snf-nic-7:protected"], "hvparams": {},
                             "disks": ["d1"], "nics": [{"name": "snf-nic-7", "mac": "aa:00:00:d5:3d:72", "ip": "203.0.113.5",
                                                         "network": "net-uuid", "nicparams": {"link": "br1"}, "uuid": "n1"}]}},
    }
    job = job_file_from_shape("job_instance_create")
    [(_, msg)] = messages_for_job(job, "c", lambda: config)
    assert msg["instance_nics"] == [{"name": "snf-nic-7", "network": "snf-net-3", "ip": "203.0.113.5",
                                     "mac": "aa:00:00:d5:3d:72", "mode": "bridged", "link": "br1", "uuid": "n1",
                                     "firewall": "protected"}]
    assert msg["instance_disks"] == [{"name": "snf-vol-9", "size": 1024, "uuid": "d1"}]
    assert msg["instance_hvparams"] == {"boot_order": None, "cdrom_image_path": None}
    running = job_file_from_shape("job_instance_create", status="running")
    assert "instance_nics" not in messages_for_job(running, "c", lambda: config)[0][1]


def test_burst_of_renamed_job_files_misses_no_final_status(queue):
    """Ganeti-style writes (temp file, then rename) of 300 jobs x 3 states as fast as possible,
    through the real inotify loop: every job's final status is published."""
    import os
    import threading

    client = RecordingClient()
    daemon = EventDaemon(str(queue), client, Ssconf(str(queue.parent)), node_name="node1.ganeti.test")
    thread = threading.Thread(target=daemon.run, daemon=True)
    thread.start()
    import time

    time.sleep(0.3)  # the watch is set
    base = job_file_from_shape("job_instance_create")
    for job_id in range(1, 301):
        for status in ("queued", "running", "success"):
            job = json.loads(json.dumps(base))
            job["id"] = job_id
            job["ops"][0]["status"] = status
            tmp = queue / f"job-{job_id}-1-{status}.tmp"
            tmp.write_text(json.dumps(job))
            os.rename(tmp, queue / f"job-{job_id}")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        finals = {m["jobId"] for _, m in client.published if m["status"] == "success"}
        if len(finals) == 300:
            break
        time.sleep(0.1)
    daemon.stopping = True
    thread.join(5)
    assert len(finals) == 300
