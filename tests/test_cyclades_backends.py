"""Backends: the model (password encrypted at rest), statistics from RAPI shapes, and the
backend-* commands against the real sandbox cluster."""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from synnefo.cyclades import crypto
from synnefo.cyclades.logic.backends import disk_templates_from_info, resources_from_nodes
from synnefo.cyclades.models import Backend, VirtualMachine
from tests.ganeti_helpers import sandbox_env, shape


def run(*args):
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_statistics_sum_usable_nodes_only():
    node = shape("nodes_bulk")["response"][0]
    drained = dict(node, drained=True)
    offline = dict(node, offline=True)
    no_cpu_info = dict(node, cnodes=None)
    totals = resources_from_nodes([node, node, drained, offline, no_cpu_info])
    assert totals["mtotal"] == 2 * node["mtotal"] and totals["ctotal"] == 2 * node["ctotal"]
    assert totals["pinst_cnt"] == 0


def test_disk_templates_are_enabled_and_allowed_by_policy():
    info = shape("info")["response"]
    assert disk_templates_from_info(info) == ["file", "diskless"]
    assert disk_templates_from_info(dict(info, ipolicy={"disk-templates": ["file"]})) == ["file"]


@pytest.mark.django_db
def test_password_is_encrypted_at_rest():
    backend = Backend(clustername="c.example.org", username="u")
    backend.password = "very-secret-pw"
    backend.save()
    stored = Backend.objects.values_list("password_encrypted", flat=True).get()
    assert "very-secret-pw" not in stored
    assert Backend.objects.get().password == "very-secret-pw"
    with override_settings(SECRET_KEY="another-key"):
        crypto._fernet.cache_clear()
        with pytest.raises(ValueError):
            Backend.objects.get().password
    crypto._fernet.cache_clear()


@pytest.mark.django_db
def test_add_refuses_unreachable_rapi_and_bad_port():
    with pytest.raises(CommandError, match="Cannot use the cluster's RAPI"):
        run("backend-add", "--clustername", "c.invalid", "--host", "127.0.0.1", "--port", "1", "--user", "u", "--pass", "p")
    with pytest.raises(CommandError, match="port"):
        run("backend-add", "--clustername", "c.invalid", "--port", "0", "--user", "u", "--pass", "p", "--no-check")
    assert not Backend.objects.exists()


@pytest.mark.django_db
def test_modify_and_remove_without_rapi(caplog):
    run("backend-add", "--clustername", "c.example.org", "--user", "u", "--pass", "pw-in-log?", "--no-check")
    backend = Backend.objects.get()
    assert backend.drained is True
    run("backend-modify", str(backend.id), "--drained=False", "--offline=True")
    backend.refresh_from_db()
    assert (backend.drained, backend.offline) == (False, True)
    with pytest.raises(CommandError, match="True or False"):
        run("backend-modify", str(backend.id), "--drained=maybe")
    with pytest.raises(CommandError, match="No backend"):
        run("backend-modify", "999", "--drained=True")
    run("backend-modify", "c.example.org", "--pass", "new-pw-xyz")  # offline: not checked
    assert Backend.objects.get().password == "new-pw-xyz"
    vm = VirtualMachine.objects.create(backend=backend)
    with pytest.raises(CommandError, match="1 active VM"):
        run("backend-remove", str(backend.id))
    vm.deleted = True
    vm.save()
    run("backend-remove", str(backend.id))
    assert not Backend.objects.exists()
    assert "pw-in-log?" not in caplog.text and "new-pw-xyz" not in caplog.text


@pytest.fixture(scope="session")
def ganeti():
    return sandbox_env()


@pytest.mark.django_db
def test_backend_commands_against_real_ganeti(ganeti, caplog):
    common = ["--clustername", ganeti["GANETI_CLUSTER_NAME"], "--host", ganeti["GANETI_RAPI_HOST"],
              "--port", ganeti["GANETI_RAPI_PORT"], "--user", ganeti["GANETI_RAPI_USER"]]
    # Wrong password: 401 from Ganeti, nothing stored.
    with pytest.raises(CommandError, match="401"):
        run("backend-add", *common, "--pass", "wrong", "--ca-file", ganeti["GANETI_RAPI_CA"])
    # TLS verification is on: without the cluster's CA the self-signed certificate is refused.
    with pytest.raises(CommandError, match="TLS"):
        run("backend-add", *common, "--pass", ganeti["GANETI_RAPI_PASSWORD"])
    assert not Backend.objects.exists()
    out = run("backend-add", *common, "--pass", ganeti["GANETI_RAPI_PASSWORD"], "--ca-file", ganeti["GANETI_RAPI_CA"])
    backend = Backend.objects.get()
    assert "drained" in out and backend.drained
    # The sandbox's templates; `ext` once deploy/install-extstorage --sandbox has run.
    assert backend.hypervisor == "fake" and backend.disk_templates in (["file", "diskless"], ["file", "diskless", "ext"])
    assert backend.mtotal > 0 and backend.ctotal > 0 and backend.updated
    listing = run("backend-list", "--output-format", "csv", "-o", "id,clustername,drained,disk_templates")
    assert f"{backend.id},{ganeti['GANETI_CLUSTER_NAME']},True,\"{','.join(backend.disk_templates)}\"" in listing
    run("backend-modify", str(backend.id), "--drained=False")
    # A wrong new password is checked against RAPI and refused; the old one stays.
    with pytest.raises(CommandError, match="nothing changed"):
        run("backend-modify", str(backend.id), "--pass", "wrong")
    backend.refresh_from_db()
    assert backend.drained is False and backend.password == ganeti["GANETI_RAPI_PASSWORD"]
    backend.mfree = 0
    backend.save()
    run("backend-update-status")
    backend.refresh_from_db()
    assert backend.mfree > 0
    run("backend-remove", str(backend.id))
    assert not Backend.objects.exists()
    assert ganeti["GANETI_RAPI_PASSWORD"] + "\n" not in caplog.text


def test_sandbox_down_leaves_nothing_running_and_up_restores(ganeti):
    import glob
    import os
    import subprocess

    from synnefo.cyclades.ganeti.rapi import GanetiConnectionError, GanetiRapiClient
    from tests.ganeti_helpers import SANDBOX

    pidfiles = glob.glob("/var/run/ganeti/ganeti-*.pid") + glob.glob("/run/ganeti-sandbox/relay-*.pid")
    pids = [int(open(f).read().strip()) for f in pidfiles]
    assert len(pids) >= 7  # noded, confd, wconfd, rapi, luxid, mond + two relays
    subprocess.run([str(SANDBOX), "down"], check=True, capture_output=True, timeout=120)
    try:
        for pid in pids:
            assert not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split()[2] == "Z"
        assert not os.path.exists("/run/netns/ganeti")
        assert subprocess.run([str(SANDBOX), "status"], capture_output=True).returncode != 0
        client = GanetiRapiClient("127.0.0.1", int(ganeti["GANETI_RAPI_PORT"]), "synnefo", "synnefo", insecure=True,
                                  retries=0)
        with pytest.raises(GanetiConnectionError):
            client.get_version()
    finally:
        subprocess.run([str(SANDBOX), "up"], check=True, capture_output=True, timeout=600)
    assert subprocess.run([str(SANDBOX), "status"], capture_output=True).returncode == 0
