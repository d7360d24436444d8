"""Networks on REAL Ganeti (the sandbox cluster) with the real update path: the API creates a
private network, snf-ganeti-eventd publishes the add's events, the dispatcher connects it to
the node group and makes it ACTIVE; deleting it disconnects and removes it from Ganeti."""

import json
import uuid

import pytest
from django.core.management import call_command
from django.test import override_settings

from synnefo.cyclades.ganeti.rapi import GanetiApiError
from synnefo.cyclades.logic.backends import create_backend
from synnefo.cyclades.models import BackendNetwork, Network
from tests.test_cyclades_ganeti_e2e import dispatch_until, eventd, ganeti  # noqa: F401

N = "/cyclades/network/v2.0"


@pytest.mark.django_db(transaction=True)
def test_private_network_on_real_ganeti(ganeti, eventd, client, make_user):  # noqa: F811
    _, log_file = eventd
    _, _, token = make_user("net-user@example.org")
    call_command("pool-create", "--type=mac-prefix", "--base=aa:00:0", "--size=65536", stdout=None)
    backend = create_backend(ganeti["GANETI_CLUSTER_NAME"], int(ganeti["GANETI_RAPI_PORT"]), ganeti["GANETI_RAPI_USER"],
                             ganeti["GANETI_RAPI_PASSWORD"], host=ganeti["GANETI_RAPI_HOST"], ca_file=ganeti["GANETI_RAPI_CA"])
    rapi = backend.get_client()

    def call(method, path, body=None):
        r = client.generic(method, N + path, data=json.dumps(body) if body is not None else b"",
                           content_type="application/json", HTTP_X_AUTH_TOKEN=token)
        return r.status_code, (r.json() if r.content else None)

    def row():
        return BackendNetwork.objects.get(network_id=net_id, backend=backend)

    # The sandbox has one bridge: MAC_FILTERED networks share it.
    with override_settings(DEFAULT_MAC_FILTERED_BRIDGE=ganeti.get("GANETI_BRIDGE", "gntbr0")):
        status, body = call("POST", "/networks", {"network": {"type": "MAC_FILTERED", "name": "real"}})
    assert status == 201, body
    net_id = body["network"]["id"]
    name = Network.objects.get(pk=net_id).backend_id
    cidr = f"10.{uuid.uuid4().int % 200 + 20}.{uuid.uuid4().int % 250}.0/24"
    try:
        status, body = call("POST", "/subnets", {"subnet": {"network_id": net_id, "cidr": cidr}})
        assert status == 201, body
        dispatch_until(lambda: row().operstate in ("ACTIVE", "ERROR"), 90)
        assert row().operstate == "ACTIVE", (row().backendlogmsg, log_file.read_text()[-3000:])
        info = rapi.get_network(name)
        assert info["network"] == cidr and info["mac_prefix"] == row().mac_prefix
        assert [g[0] for g in info["group_list"]] == ["default"]
        assert "private" in info["tags"] and "private-filtered" in info["tags"]
        assert call("GET", f"/networks/{net_id}")[1]["network"]["status"] == "ACTIVE"
        assert call("DELETE", f"/networks/{net_id}")[0] == 204
        dispatch_until(lambda: row().operstate in ("DELETED", "ERROR"), 90)
        assert row().operstate == "DELETED", (row().backendlogmsg, log_file.read_text()[-3000:])
        assert Network.objects.get(pk=net_id).state == "DELETED"
        with pytest.raises(GanetiApiError):
            rapi.get_network(name)
    finally:
        try:
            info = rapi.get_network(name)
        except GanetiApiError:
            info = None
        if info is not None:  # leave the sandbox clean whatever failed
            for group in info.get("group_list") or []:
                rapi.wait_for_job(rapi.disconnect_network(name, group[0]), timeout=60)
            rapi.wait_for_job(rapi.delete_network(name), timeout=60)
