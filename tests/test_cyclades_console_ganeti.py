"""The console action against real Ganeti (the sandbox, fake hypervisor): Ganeti's own console
information (GET /2/instances/<name>/console, kind "msg") is refused as "no VNC console"."""

import uuid

import pytest

from synnefo.common import faults
from synnefo.cyclades.ganeti.rapi import GanetiApiError
from synnefo.cyclades.logic import console
from synnefo.cyclades.logic.backends import create_backend
from synnefo.cyclades.models import VirtualMachine
from tests.ganeti_helpers import sandbox_env


@pytest.fixture(scope="module")
def ganeti():
    return sandbox_env()


@pytest.mark.django_db
def test_fake_hypervisor_has_no_vnc_console(ganeti, settings):
    settings.CYCLADES_VNCAUTHPROXY_OPTS = [{"server_address": "127.0.0.1", "server_port": 1}]
    backend = create_backend(ganeti["GANETI_CLUSTER_NAME"], int(ganeti["GANETI_RAPI_PORT"]), ganeti["GANETI_RAPI_USER"],
                             ganeti["GANETI_RAPI_PASSWORD"], host=ganeti["GANETI_RAPI_HOST"], ca_file=ganeti["GANETI_RAPI_CA"])
    settings.BACKEND_PREFIX_ID = f"c{uuid.uuid4().hex[:6]}-"
    user = str(uuid.uuid4())
    vm = VirtualMachine.objects.create(backend=backend, name="console", userid=user, operstate="STARTED")
    rapi = backend.get_client()
    name = vm.backend_vm_id
    try:
        job = rapi.create_instance(
            name, "diskless", [], [{"link": ganeti["GANETI_NIC_LINK"], "mode": "bridged"}],
            os_type="snf-image+default", osparams={"img_id": "debian", "img_format": "diskdump", "img_properties": "{}"},
            beparams={"maxmem": 128, "minmem": 128, "vcpus": 1}, hypervisor="fake", pnode=ganeti["GANETI_NODE_NAME"],
            name_check=False, ip_check=False, start=True, tags=["synnefo:test"])
        rapi.wait_for_job(job)
        assert rapi.get_instance_console(name)["kind"] == "msg"  # what real Ganeti says for "fake"
        with pytest.raises(faults.Conflict, match="no VNC console"):
            console.get_console(user, vm.id, "vnc")
    finally:
        try:
            rapi.wait_for_job(rapi.delete_instance(name, shutdown_timeout=0), raise_on_error=False)
        except GanetiApiError:
            pass
