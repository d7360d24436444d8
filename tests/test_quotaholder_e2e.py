"""The quotaholder through a real node (`synnefo up`, gunicorn): the HTTP client a remote
service uses, snf-manage on the node, kamaki's `quota list` request, and reconcile-commissions
on a service node that reaches the quotaholder over HTTP."""

import os
import subprocess
import sys

import pytest
import requests

from synnefo.astakos.quotaholder.client import HttpClient, QuotaholderUnavailable
from synnefo.astakos.quotaholder.logic import InvalidDataError
from tests.live import free_port
from tests.test_quotaholder_client import exercise




def manage(node, *args, env=None) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "synnefo.manage", *args], env=env or node.env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def service(node):
    token = manage(node, "component-add", "cyclades").split("token: ")[1].split()[0]
    return HttpClient("cyclades", f"{node.url}/astakos/account/v1.0", token)


def test_http_client_against_a_node(node, service):
    uuid = node.credentials["uuid"]
    manage(node, "quota-modify", uuid, "--resource", "cyclades.vm", "--limit", "2")
    exercise(service, uuid)
    assert "cyclades.vm" in manage(node, "quota-list", "--user", uuid)
    with pytest.raises(InvalidDataError):
        service.service_quotas("not-a-uuid")


def test_kamaki_quota_list_request(node, service):
    """kamaki `quota list`: GET /account/v1.0/quotas with the user's token."""
    r = requests.get(f"{node.url}/astakos/account/v1.0/quotas", headers={"X-Auth-Token": node.credentials["token"]}, timeout=10)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/json")
    projects = r.json()
    for resources in projects.values():
        for values in resources.values():
            assert {"limit", "usage", "pending"} <= set(values)
    r = requests.get(f"{node.url}/astakos/account/v1.0/resources", timeout=10)
    assert "pithos.diskspace" in r.json()


def test_wrong_token_and_unreachable_quotaholder(node):
    with pytest.raises(QuotaholderUnavailable):
        HttpClient("cyclades", f"{node.url}/astakos/account/v1.0", "wrong").get_pending_commissions()
    nobody = HttpClient("cyclades", f"http://127.0.0.1:{free_port()}/astakos/account/v1.0", "t", timeout=2)
    with pytest.raises(QuotaholderUnavailable, match="unreachable"):
        nobody.get_pending_commissions()


def test_reconcile_over_http_rejects_commissions_no_transaction_committed(node, service, tmp_path):
    uuid = node.credentials["uuid"]
    orphan = service.issue_one_commission(uuid, {"cyclades.cpu": 1})
    # A service node: same settings, but the quotaholder is remote.
    settings_dir = tmp_path / "etc"
    settings_dir.mkdir()
    for conf in node.settings_dir.glob("*.conf"):
        (settings_dir / conf.name).write_text(conf.read_text())
    token = service.session.headers["X-Auth-Token"]
    (settings_dir / "70-quotaholder.conf").write_text(
        f"ASTAKOS_QUOTAHOLDER_URL = {service.url!r}\nASTAKOS_QUOTAHOLDER_TOKENS = {{'cyclades': {token!r}}}\n"
    )
    env = dict(node.env, SYNNEFO_SETTINGS_DIR=str(settings_dir))
    out = manage(node, "reconcile-commissions", "--grace", "0", env=env)
    assert f"never committed by the service: {orphan}" in out
    assert orphan in service.get_pending_commissions()
    manage(node, "reconcile-commissions", "--grace", "0", "--fix", env=env)
    assert orphan not in service.get_pending_commissions()
