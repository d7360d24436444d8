"""snf-ganeti-simulated: the simulated cluster served as a Ganeti RAPI over real HTTPS, driven by
the real GanetiRapiClient (TLS verified against the generated certificate, Basic auth)."""

import json
import os
import signal
import stat
import subprocess
import sys
import threading
import uuid

import pytest
import requests

from synnefo.cyclades.ganeti.rapi import GanetiApiError, GanetiConnectionError, GanetiJobError, GanetiRapiClient
from synnefo.cyclades.ganeti.simulated import RESTARTED, SimulatedCluster
from synnefo.cyclades.ganeti.simulated_rapi import RAPI_USER, ServiceFiles, SimulatedRapiServer
from tests.live import free_port
from tests.test_cyclades_simulated import ListPublisher


class Service:
    """A SimulatedRapiServer on a free port, in a thread of the test process."""

    def __init__(self, directory, speed=0.01, name="sim.test"):
        self.files = ServiceFiles(directory)
        self.files.ensure()
        self.publisher = ListPublisher()
        self.cluster = SimulatedCluster(name, speed=speed, publisher=self.publisher, state_file=self.files.state_file)
        self.server = SimulatedRapiServer(self.cluster, self.files)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        self.clients = []

    @property
    def url(self):
        return f"https://127.0.0.1:{self.server.port}"

    def client(self, user=RAPI_USER, password=None, ca_file=True):
        client = GanetiRapiClient("127.0.0.1", self.server.port, user, self.files.password() if password is None else password,
                                  ca_file=str(self.files.cert) if ca_file else None, retries=0)
        self.clients.append(client)
        return client

    def stop(self):
        for client in self.clients:
            client.close()
        self.server.shutdown()
        self.server.server_close()
        self.cluster.stop()


@pytest.fixture
def service(tmp_path):
    svc = Service(tmp_path / "ganeti-simulated")
    yield svc
    svc.stop()


def create(client, name="snf-1", **kw):
    return client.create_instance(name, "file", [{"size": 1024}], [{"name": f"{name}-nic0"}], os_type="snf-image+default",
                                  beparams={"maxmem": 512, "vcpus": 1}, **kw)


def wait(client, job):
    return client.wait_for_job(job, interval=0.02)


def test_create_succeeds_and_a_second_connection_sees_the_instance(service):
    first = service.client()
    job = create(first)
    assert isinstance(job, int)
    assert wait(first, job)["status"] == "success"
    second = service.client()  # another session, its own TLS connections
    assert second.get_instances() == [{"id": "snf-1", "uri": "/2/instances/snf-1"}]
    (bulk,) = second.get_instances(bulk=True)
    assert bulk["name"] == "snf-1" and bulk["status"] == "running" and bulk["beparams"]["maxmem"] == 512
    assert len(bulk["nic.macs"]) == 1 and bulk["disk.sizes"] == [1024]
    node = second.get_nodes(bulk=True)[0]
    assert node["pinst_cnt"] == 1 and node["mfree"] == node["mtotal"] - 512
    assert second.get_node(node["name"])["pinst_list"] == ["snf-1"]
    assert second.get_info()["name"] == "sim.test" and second.get_version() == 2
    assert "instance-create-reqv1" in second.get_features() and second.get_operating_systems() == ["snf-image+default"]
    # eventd's messages went out for every state of the job.
    assert [m["status"] for _, m in service.publisher.published] == ["queued", "waiting", "running", "success"]
    assert service.publisher.published[-1][1]["jobId"] == job


def test_shutdown_startup_reboot_modify_tags_delete(service):
    client = service.client()
    wait(client, create(client))
    wait(client, client.shutdown_instance("snf-1", timeout=5))
    assert client.get_instance("snf-1")["status"] == "ADMIN_down"
    wait(client, client.startup_instance("snf-1"))
    assert client.get_instance("snf-1")["status"] == "running"
    job = wait(client, client.reboot_instance("snf-1", "soft"))
    assert job["ops"][0]["OP_ID"] == "OP_INSTANCE_REBOOT" and job["ops"][0]["reboot_type"] == "soft"
    wait(client, client.modify_instance("snf-1", beparams={"maxmem": 1024}))
    assert client.get_instance("snf-1")["beparams"]["maxmem"] == 1024
    wait(client, client.add_instance_tags("snf-1", ["synnefo:a", "synnefo:b"]))
    wait(client, client.delete_instance_tags("snf-1", ["synnefo:a"]))
    assert client.get_instance_tags("snf-1") == ["synnefo:b"]
    assert client.get_instance_console("snf-1")["kind"] == "msg"
    info = wait(client, client.get_instance_info("snf-1"))
    assert info["opresult"][0]["snf-1"]["run_state"] == "up"
    wait(client, client.delete_instance("snf-1"))
    with pytest.raises(GanetiApiError) as missing:
        service.client().get_instance("snf-1")
    assert missing.value.code == 404 and missing.value.explain == "Nothing matches the given URI"


def test_networks_groups_cluster_tags_and_jobs(service):
    client = service.client()
    wait(client, client.create_network("net1", "203.0.113.0/24", "203.0.113.1", mac_prefix="aa:00:01"))
    wait(client, client.connect_network("net1", link="gntbr0"))
    assert client.get_network("net1")["group_list"] == [["default", "bridged", "gntbr0", ""]]
    assert client.get_groups(bulk=True)[0]["networks"] == ["net1"]
    with pytest.raises(GanetiJobError, match="still connected"):
        wait(client, client.delete_network("net1"))
    wait(client, client.disconnect_network("net1"))
    wait(client, client.delete_network("net1"))
    assert client.get_networks() == []
    wait(client, client.add_cluster_tags(["synnefo:x"]))
    assert client.get_cluster_tags() == ["synnefo:x"]
    assert client.get_info()["tags"] == ["synnefo:x"]
    jobs = client.get_jobs()
    assert [j["id"] for j in jobs] == list(range(1, 7))
    assert all(j["status"] in ("success", "error") for j in client.get_jobs(bulk=True))


def test_jobs_on_unknown_objects_end_in_error_and_lookups_are_404(service):
    client = service.client()
    with pytest.raises(GanetiJobError, match="not known") as failed:
        wait(client, client.startup_instance("snf-404"))
    assert failed.value.job["status"] == "error" and failed.value.job["opresult"][0][0] == "OpPrereqError"
    assert service.publisher.published[-1][1]["status"] == "error"
    with pytest.raises(GanetiJobError, match="nonexistent"):
        wait(client, client.create_instance("snf-2", "file", [], [], os_type="nonexistent+x"))
    wait(client, create(client, "snf-3"))
    with pytest.raises(GanetiJobError, match="already in the cluster"):
        wait(client, create(client, "snf-3"))
    for call in (lambda: client.get_instance("snf-404"), lambda: client.get_job_status(999),
                 lambda: client.get_node("nope"), lambda: client.get_network("nope")):
        with pytest.raises(GanetiApiError) as missing:
            call()
        assert missing.value.code == 404


def test_authentication_is_required_on_every_path_and_a_refusal_changes_nothing(service):
    for client in (service.client(password="wrong"), service.client(user="admin"), service.client(user=None)):
        for call in (client.get_version, client.get_instances, lambda: create(client)):
            with pytest.raises(GanetiApiError) as refused:
                call()
            assert refused.value.code == 401
    r = requests.post(service.url + "/2/instances", data="not json", verify=str(service.files.cert))
    assert r.status_code == 401  # not 415: the body of a stranger is not looked at
    r = requests.get(service.url + "/2/info", verify=str(service.files.cert))
    assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Basic")
    assert r.json() == {"code": 401, "message": "Unauthorized", "explain": "Authentication required: RAPI user and password"}
    client = service.client()
    assert client.get_instances() == [] and client.get_jobs() == []


def test_bad_requests_are_ganeti_like_4xx_and_submit_no_job(service):
    auth, verify = (RAPI_USER, service.files.password()), str(service.files.cert)

    def call(method, path, **kw):
        return requests.request(method, service.url + path, auth=auth, verify=verify, timeout=10, **kw)

    body = {"__version__": 1, "mode": "create", "name": "snf-1", "disk_template": "file", "disks": [], "nics": []}
    cases = [
        (call("POST", "/2/instances", json={k: v for k, v in body.items() if k != "__version__"}), 400, "version"),
        (call("POST", "/2/instances", json={**body, "mode": "import"}), 400, "mode"),
        (call("POST", "/2/instances", json={k: v for k, v in body.items() if k != "disks"}), 400, "'disks' is missing"),
        (call("POST", "/2/instances", json={**body, "disks": [{"size": "big"}]}), 400, "size"),
        (call("POST", "/2/instances", json={**body, "name": "../x"}), 400, "Invalid instance name"),
        (call("POST", "/2/instances", json=[1]), 400, "JSON object"),
        (call("POST", "/2/instances", data="name=snf-1"), 415, "application/json"),
        (call("POST", "/2/instances", data="{nope", headers={"Content-Type": "application/json"}), 400, "not valid JSON"),
        (call("POST", "/2/networks", json={"network_name": "n", "network": "300.0.0.0/8"}), 400, "Invalid network"),
        (call("PUT", "/2/instances/snf-1/reboot"), 501, "Method PUT is unsupported"),
        (call("GET", "/2/nosuch"), 404, "Nothing matches"),
        (call("GET", "/2/instances?bulk=maybe"), 400, "bulk"),
        (call("PUT", "/2/tags"), 400, "tag"),
        (call("POST", "/2/instances", data=b"x" * (1024 * 1024 + 1), headers={"Content-Type": "application/json"}),
         413, "limited"),
    ]
    for response, status, explain in cases:
        assert response.status_code == status, response.text
        assert response.json()["code"] == status and explain in response.json()["explain"]
    assert service.client().get_jobs() == [] and service.cluster.instances == {}


def test_tls_is_verified_against_the_generated_certificate_and_files_are_private(service, tmp_path):
    with pytest.raises(GanetiConnectionError, match="TLS"):
        service.client(ca_file=False).get_version()  # the system CAs do not know it
    other = ServiceFiles(tmp_path / "other")
    other.ensure()
    stranger = GanetiRapiClient("127.0.0.1", service.server.port, RAPI_USER, service.files.password(),
                                ca_file=str(other.cert), retries=0)
    with pytest.raises(GanetiConnectionError, match="TLS"):
        stranger.get_version()
    stranger.close()
    assert stat.S_IMODE(service.files.directory.stat().st_mode) == 0o700
    for path in (service.files.password_file, service.files.key, service.files.state_file):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(service.files.password()) >= 40
    before = (service.files.password(), service.files.cert.read_bytes())
    service.files.ensure()  # a second start keeps them
    assert (service.files.password(), service.files.cert.read_bytes()) == before


def test_state_survives_a_restart_and_pending_jobs_then_fail(tmp_path):
    directory = tmp_path / "ganeti-simulated"
    first = Service(directory)
    client = first.client()
    wait(client, create(client))
    wait(client, client.create_network("net1", "192.0.2.0/24"))
    wait(client, client.add_cluster_tags(["synnefo:kept"]))
    first.cluster.speed = 1000  # the next job cannot finish before the stop
    pending = client.shutdown_instance("snf-1")
    first.stop()

    second = Service(directory)
    try:
        client = second.client()
        assert client.get_instance("snf-1")["status"] == "running"
        assert [n["name"] for n in client.get_networks(bulk=True)] == ["net1"] and client.get_cluster_tags() == ["synnefo:kept"]
        job = client.get_job_status(pending)
        assert job["status"] == "error" and RESTARTED in json.dumps(job["opresult"])
        # ...and the dispatcher is told, like for any failed job.
        assert [(m["jobId"], m["status"]) for _, m in second.publisher.published] == [(pending, "error")]
        assert wait(client, client.startup_instance("snf-1"))["id"] > pending  # job ids go on
    finally:
        second.stop()
    state = json.loads((directory / "state.json").read_text())
    assert state["cluster"] == "sim.test" and list(state["instances"]) == ["snf-1"]
    assert not list(directory.glob(".*.tmp"))


def test_a_state_file_of_another_cluster_is_refused(tmp_path):
    svc = Service(tmp_path / "sim", name="one.test")
    svc.stop()
    with pytest.raises(ValueError, match="two.test"):
        SimulatedCluster("two.test", state_file=svc.files.state_file)


def test_snf_ganeti_simulated_process_restarts_with_its_state(tmp_path):
    """The real entry point, as `synnefo up` runs it: files created, SIGTERM stops it cleanly,
    a new process serves the same cluster."""
    port = free_port()
    settings_dir = tmp_path / "etc"
    settings_dir.mkdir()
    (settings_dir / "50-test.conf").write_text(f"SIMULATED_GANETI_PORT = {port}\nSIMULATED_GANETI_SPEED = 0.01\n")
    env = {**os.environ, "SYNNEFO_DATA_DIR": str(tmp_path / "data"), "SYNNEFO_SETTINGS_DIR": str(settings_dir)}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    files = ServiceFiles(tmp_path / "data" / "ganeti-simulated")
    name = f"snf-{uuid.uuid4().hex[:6]}"

    def start():
        process = subprocess.Popen([sys.executable, "-m", "synnefo.cyclades.ganeti.simulated_rapi"], env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        line = process.stdout.readline()
        assert f"serving RAPI on https://127.0.0.1:{port}" in line, line + process.stdout.read()
        return process, GanetiRapiClient("127.0.0.1", port, RAPI_USER, files.password(), ca_file=str(files.cert))

    process, client = start()
    try:
        wait(client, create(client, name))
        assert client.get_info()["name"] == "simulated.local"
    finally:
        client.close()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    process, client = start()
    try:
        assert client.get_instance(name)["status"] == "running"
    finally:
        client.close()
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)


def test_a_busy_port_is_a_clear_error(tmp_path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {**os.environ, "SYNNEFO_DATA_DIR": str(tmp_path / "data"), "SYNNEFO_SETTINGS_DIR": str(tmp_path)}
        env.pop("DJANGO_SETTINGS_MODULE", None)
        result = subprocess.run([sys.executable, "-m", "synnefo.cyclades.ganeti.simulated_rapi", "--port", str(port)],
                                env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and f"cannot listen on 127.0.0.1:{port}" in result.stderr



# -- the backend of the service: backend-add --simulated, `synnefo up`'s bootstrap -------------------


@pytest.fixture
def node_service(service, settings):
    """The service as this node's own (the settings name its directory, port and cluster)."""
    settings.SIMULATED_GANETI_DIR = str(service.files.directory)
    settings.SIMULATED_GANETI_PORT = service.server.port
    settings.SIMULATED_GANETI_CLUSTER_NAME = "sim.test"
    return service


@pytest.mark.django_db
def test_backend_add_simulated_points_at_the_running_service(node_service):
    from django.core.management import call_command

    from synnefo.cyclades.models import Backend

    call_command("backend-add", "--simulated", stdout=None)
    backend = Backend.objects.get()
    assert (backend.clustername, backend.host, backend.port, backend.username) == (
        "sim.test", "127.0.0.1", node_service.server.port, RAPI_USER)
    assert backend.password == node_service.files.password() and backend.ca_file == str(node_service.files.cert)
    assert backend.drained and backend.mtotal > 0 and not backend.insecure
    client = backend.get_client()
    assert isinstance(client, GanetiRapiClient)  # the real client: nothing simulated on this side
    wait(client, create(client))
    from synnefo.cyclades.logic.backends import update_status

    assert update_status(backend).pinst_cnt == 1


@pytest.mark.django_db
@pytest.mark.parametrize("args, message", [
    (["--clustername", "other"], "named 'sim.test'"),
    (["--user", "u", "--pass", "p"], "do not give them"),
    (["--insecure"], "do not give them"),
    (["--simulated-in-process"], "not allowed with argument"),
])
def test_backend_add_simulated_refuses_contradicting_options(node_service, args, message):
    from django.core.management import CommandError, call_command

    from synnefo.cyclades.models import Backend

    with pytest.raises(CommandError) as refused:
        call_command("backend-add", "--simulated", *args, stdout=None, stderr=None)
    assert message in str(refused.value)
    assert not Backend.objects.exists()


@pytest.mark.django_db
def test_backend_add_simulated_without_a_service_says_how_to_start_one(tmp_path, settings):
    from django.core.management import CommandError, call_command

    from synnefo.cyclades.models import Backend

    settings.SIMULATED_GANETI_DIR = str(tmp_path / "none")
    with pytest.raises(CommandError, match="synnefo up"):
        call_command("backend-add", "--simulated", stdout=None)
    settings.SIMULATED_GANETI_DIR = str(tmp_path / "stopped")
    ServiceFiles(tmp_path / "stopped").ensure()  # files of a service that is not running
    settings.SIMULATED_GANETI_PORT = free_port()
    with pytest.raises(CommandError, match="Cannot use the cluster's RAPI"):
        call_command("backend-add", "--simulated", "--port", str(settings.SIMULATED_GANETI_PORT), stdout=None)
    assert not Backend.objects.exists()


@pytest.mark.django_db
def test_synnefo_up_bootstrap_adds_then_keeps_and_migrates_the_simulated_backend(node_service, capsys):
    from synnefo.cli import bootstrap_simulated_backend, wants_simulated_service
    from synnefo.cyclades.models import Backend

    assert wants_simulated_service()
    bootstrap_simulated_backend()  # a fresh node: added, undrained
    backend = Backend.objects.get()
    assert backend.host == "127.0.0.1" and not backend.drained and "added the simulated" in capsys.readouterr().out
    # A data directory of before the service: the backend named the in-process cluster.
    Backend.objects.update(host="simulated", username="", password_encrypted="", ca_file="", port=5080, mtotal=0)
    Backend.objects.create(clustername="bench1", host="simulated")
    bootstrap_simulated_backend()
    backend = Backend.objects.get(clustername="sim.test")
    assert (backend.host, backend.port, backend.username, backend.ca_file) == (
        "127.0.0.1", node_service.server.port, RAPI_USER, str(node_service.files.cert))
    assert backend.password == node_service.files.password() and backend.mtotal > 0  # statistics re-read
    out = capsys.readouterr().out
    assert "now uses the shared" in out and "warning: backends bench1 are in-process" in out
    assert not backend.drained and backend.get_client().get_info()["name"] == "sim.test"
    assert Backend.objects.get(clustername="bench1").host == "simulated"  # left alone
    # The data directory moved: the certificate's path is updated.
    Backend.objects.filter(pk=backend.pk).update(ca_file="/old/place/ganeti-simulated/rapi.pem")
    bootstrap_simulated_backend()
    assert Backend.objects.get(pk=backend.pk).ca_file == str(node_service.files.cert)


@pytest.mark.django_db
def test_synnefo_up_leaves_real_backends_alone(node_service, settings):
    from synnefo.cli import bootstrap_simulated_backend, wants_simulated_service
    from synnefo.cyclades.models import Backend

    Backend.objects.create(clustername="ganeti.example.org", port=5080)
    assert not wants_simulated_service()  # a node with only real clusters runs no simulated one
    bootstrap_simulated_backend()
    assert list(Backend.objects.values_list("clustername", flat=True)) == ["ganeti.example.org"]
    settings.SYNNEFO_UP_SIMULATED_BACKEND = False
    Backend.objects.all().delete()
    assert not wants_simulated_service()


def test_an_answered_job_id_is_already_on_disk(tmp_path):
    svc = Service(tmp_path / "sim", speed=1000)  # jobs stay pending
    try:
        client = svc.client()
        job = create(client)
        saved = json.loads(svc.files.state_file.read_text())
        assert [j["id"] for j in saved["jobs"]] == [job] and saved["next_job_id"] == job + 1
    finally:
        svc.stop()


def test_synnefo_up_stops_with_the_reason_when_the_simulated_cluster_cannot_start(tmp_path):
    import socket

    from tests.live import make_node

    node, cleanup = make_node(tmp_path, "sqlite")
    try:
        with socket.socket() as taken:  # something else holds the simulated cluster's port
            taken.bind(("127.0.0.1", node.simulated_port))
            taken.listen()
            result = subprocess.run([sys.executable, "-m", "synnefo.cli", "up", "--bind", f"127.0.0.1:{node.port}"],
                                    env=node.env, capture_output=True, text=True, timeout=120)
    finally:
        cleanup()
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{node.simulated_port}" in result.stderr
    assert "did not start" in result.stderr and "Ctrl-C stops" not in result.stdout
