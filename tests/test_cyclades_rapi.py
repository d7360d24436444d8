"""Units of the Ganeti RAPI client against captured Ganeti 3.0 answers."""

import pytest
import requests

from synnefo.cyclades.ganeti.rapi import (GanetiApiError, GanetiConnectionError, GanetiJobError, GanetiRapiClient,
                                          client_for)
from tests.ganeti_helpers import FixtureAdapter, routes_from_shapes, shape

ALL = ["version", "info", "nodes_bulk", "instances", "instance", "instance_404", "instance_create", "instance_delete",
       "instance_shutdown", "instance_startup", "instance_reboot", "job_instance_create", "job_error", "networks_bulk",
       "network_create", "network_connect", "instance_tags", "jobs"]


def make_client(routes=None, fail_connects=0, **kwargs):
    client = GanetiRapiClient("cluster.example.org", 5080, "synnefo", "s3cret", retry_delay=0, **kwargs)
    adapter = FixtureAdapter(routes if routes is not None else routes_from_shapes(*ALL), fail_connects)
    client.session.mount("https://", adapter)
    return client, adapter


def test_info_nodes_instances_parse_ganeti_shapes():
    client, adapter = make_client()
    assert client.get_version() == 2
    assert client.get_info()["enabled_disk_templates"] == ["file", "diskless"]
    node = client.get_nodes()[0]
    assert node["name"] == "node1.ganeti.test" and node["mfree"] > 0
    assert client.get_instance("snf-1")["status"] == "running"
    assert "bulk=1" in adapter.requests[2].url
    assert adapter.requests[0].headers["Authorization"].startswith("Basic ")


def test_mutations_return_job_ids_with_the_right_methods():
    client, adapter = make_client()
    body = shape("instance_create")["request"]["body"]
    kwargs = {k: v for k, v in body.items() if k not in ("__version__", "mode", "name", "disk_template", "disks", "nics")}
    job = client.create_instance(body["name"], body["disk_template"], body["disks"], body["nics"], **kwargs)
    assert job == shape("instance_create")["response"]
    sent = adapter.requests[-1]
    assert sent.method == "POST" and sent.headers["Content-Type"] == "application/json"
    assert b'"__version__": 1' in sent.body and b'"mode": "create"' in sent.body
    assert isinstance(client.shutdown_instance("snf-1"), int)
    assert isinstance(client.startup_instance("snf-1"), int)
    assert isinstance(client.reboot_instance("snf-1"), int)
    assert adapter.requests[-1].method == "POST"  # PUT .../reboot is 501 on Ganeti
    assert isinstance(client.delete_instance("snf-1"), int)
    assert adapter.requests[-1].method == "DELETE"


def test_job_status_and_wait():
    client, _ = make_client()
    job = client.wait_for_job(shape("job_instance_create")["response"]["id"])
    assert job["status"] == "success" and job["opresult"] == [["node1.ganeti.test"]]


def test_failed_job_raises_with_ganeti_result():
    data = shape("job_error")
    client, _ = make_client({("GET", data["request"]["path"]): (200, data["response"])})
    with pytest.raises(GanetiJobError) as info:
        client.wait_for_job(data["response"]["id"])
    assert "OpExecError" in str(info.value) or "OpPrereqError" in str(info.value)
    assert client.wait_for_job(data["response"]["id"], raise_on_error=False)["status"] == "error"


def test_error_answers_carry_ganeti_code_and_message():
    client, _ = make_client()
    with pytest.raises(GanetiApiError) as info:
        client.get_instance("doesnotexist")
    assert info.value.code == 404 and info.value.message == "Not Found"
    assert info.value.explain == "Nothing matches the given URI"


def test_5xx_and_401_are_errors_not_retried():
    routes = {("GET", "/2/info"): (500, {"code": 500, "message": "Internal error", "explain": "boom"}),
              ("GET", "/2/nodes"): (401, b"Unauthorized")}
    client, adapter = make_client(routes)
    with pytest.raises(GanetiApiError) as info:
        client.get_info()
    assert info.value.code == 500 and info.value.message == "Internal error"
    with pytest.raises(GanetiApiError) as info:
        client.get_nodes()
    assert info.value.code == 401
    assert len(adapter.requests) == 2


def test_connection_errors_are_retried_then_raised():
    client, adapter = make_client(fail_connects=2, retries=3)
    assert client.get_version() == 2
    assert len(adapter.requests) == 3
    client, adapter = make_client(fail_connects=10, retries=2)
    with pytest.raises(GanetiConnectionError) as info:
        client.get_version()
    assert info.value.code is None and len(adapter.requests) == 3


def test_timeouts_are_not_retried():
    client, adapter = make_client()

    def timeout(*a, **k):
        adapter.requests.append(None)
        raise requests.exceptions.ReadTimeout("read timed out")

    adapter.send = timeout
    with pytest.raises(GanetiConnectionError):
        client.get_version()
    assert len(adapter.requests) == 1


def test_tls_verification_is_on_by_default_and_off_only_explicitly():
    assert GanetiRapiClient("h").verify is True
    assert GanetiRapiClient("h", ca_file="/x/ca.pem").verify == "/x/ca.pem"
    assert GanetiRapiClient("h", insecure=True).verify is False
    # The environment's CA bundle must not replace the backend's CA.
    assert GanetiRapiClient("h").session.trust_env is False


def test_password_not_in_repr_and_pool_per_backend():
    client = client_for("c1.example.org", 5080, "u", "pw-1")
    assert "pw-1" not in repr(client)
    assert client_for("c1.example.org", 5080, "u", "pw-1") is client
    other = client_for("c1.example.org", 5080, "u", "pw-2")
    assert other is not client
    assert client_for("c2.example.org", 5080, "u", "pw-2") is not other
