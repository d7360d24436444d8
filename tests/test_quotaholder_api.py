"""The quota endpoints of the account API over HTTP: shapes, service tokens, every error."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from synnefo.astakos.quotaholder import logic, service_tokens
from synnefo.astakos.quotaholder.models import Component, Resource
from tests.helpers import ACCOUNT, post_json

pytestmark = pytest.mark.django_db


@pytest.fixture
def cyclades():
    token, _ = service_tokens.add_component("cyclades", "https://example.org/cyclades")
    return token


@pytest.fixture
def pithos():
    token, _ = service_tokens.add_component("pithos")
    return token


def provisions(user, quantity, resource="cyclades.vm"):
    u = str(user.uuid)
    return [
        {"holder": f"user:{u}", "source": f"project:{u}", "resource": resource, "quantity": quantity},
        {"holder": f"project:{u}", "source": None, "resource": resource, "quantity": quantity},
    ]


def issue(client, token, body):
    return post_json(client, f"{ACCOUNT}/commissions", body, HTTP_X_AUTH_TOKEN=token)


def test_resources_need_no_token_and_list_visible_resources(client):
    r = client.get(f"{ACCOUNT}/resources")
    assert r.status_code == 200
    data = r.json()
    assert data["cyclades.vm"]["service"] == "cyclades" and data["cyclades.vm"]["unit"] == ""
    assert data["pithos.diskspace"]["unit"] == "bytes"
    assert {"unit", "description", "service", "allow_in_projects"} <= set(data["cyclades.ram"])
    assert "astakos.pending_app" not in data


def test_quotas_in_the_shape_kamaki_reads(client, alice):
    user, _, token = alice
    assert client.get(f"{ACCOUNT}/quotas").status_code == 401
    r = client.get(f"{ACCOUNT}/quotas", HTTP_X_AUTH_TOKEN=token)
    assert r.status_code == 200
    data = r.json()
    assert list(data) == [str(user.uuid)]  # the base project
    vm = data[str(user.uuid)]["cyclades.vm"]
    default = Resource.objects.get(name="cyclades.vm").uplimit
    assert vm == {"limit": default, "usage": 0, "pending": 0, "project_limit": default, "project_usage": 0, "project_pending": 0}
    assert all(isinstance(v, int) for res in data[str(user.uuid)].values() for v in res.values())
    logic.issue_commission("cyclades", provisions(user, 1))
    vm = client.get(f"{ACCOUNT}/quotas/", HTTP_X_AUTH_TOKEN=token).json()[str(user.uuid)]["cyclades.vm"]
    assert (vm["usage"], vm["pending"], vm["project_usage"]) == (1, 1, 1)


def test_service_endpoints_refuse_user_tokens_and_no_token(client, alice, cyclades):
    user_token = alice[2]
    for method, path in [
        ("get", "service_quotas"), ("get", "service_project_quotas"), ("get", "commissions"),
        ("post", "commissions"), ("get", "commissions/1"), ("post", "commissions/1/action"),
        ("post", "commissions/action"),
    ]:
        for headers in ({}, {"HTTP_X_AUTH_TOKEN": user_token}, {"HTTP_X_AUTH_TOKEN": "nonsense"}):
            call = client.get if method == "get" else (lambda p, **h: post_json(client, p, {}, **h))
            r = call(f"{ACCOUNT}/{path}", **headers)
            assert r.status_code == 401, (path, headers, r.content)
            assert r.json()["unauthorized"]["code"] == 401
    # And a service token is not a user token.
    assert client.get(f"{ACCOUNT}/quotas", HTTP_X_AUTH_TOKEN=cyclades).status_code == 401


def test_expired_and_renewed_service_tokens_stop_working(client, cyclades):
    assert client.get(f"{ACCOUNT}/commissions", HTTP_X_AUTH_TOKEN=cyclades).status_code == 200
    component = Component.objects.get(name="cyclades")
    new = service_tokens.renew_token(component)
    assert client.get(f"{ACCOUNT}/commissions", HTTP_X_AUTH_TOKEN=cyclades).status_code == 401
    assert client.get(f"{ACCOUNT}/commissions", HTTP_X_AUTH_TOKEN=new).status_code == 200
    Component.objects.filter(pk=component.pk).update(token_expires=timezone.now() - timedelta(seconds=1))
    assert client.get(f"{ACCOUNT}/commissions", HTTP_X_AUTH_TOKEN=new).status_code == 401


def test_issue_list_show_accept(client, alice, cyclades):
    user = alice[0]
    r = issue(client, cyclades, {"force": False, "auto_accept": False, "name": "create vm", "provisions": provisions(user, 1)})
    assert r.status_code == 201, r.content
    serial = r.json()["serial"]
    assert isinstance(serial, int)
    assert client.get(f"{ACCOUNT}/commissions", HTTP_X_AUTH_TOKEN=cyclades).json() == [serial]
    detail = client.get(f"{ACCOUNT}/commissions/{serial}", HTTP_X_AUTH_TOKEN=cyclades).json()
    assert detail["serial"] == serial and detail["name"] == "create vm" and detail["issue_time"]
    assert detail["provisions"] == provisions(user, 1)
    r = post_json(client, f"{ACCOUNT}/commissions/{serial}/action", {"accept": ""}, HTTP_X_AUTH_TOKEN=cyclades)
    assert r.status_code == 200
    assert client.get(f"{ACCOUNT}/commissions", HTTP_X_AUTH_TOKEN=cyclades).json() == []
    r = post_json(client, f"{ACCOUNT}/commissions/{serial}/action", {"reject": ""}, HTTP_X_AUTH_TOKEN=cyclades)
    assert r.status_code == 404 and r.json()["itemNotFound"]["code"] == 404
    vm = logic.user_quotas([user.uuid])[str(user.uuid)][str(user.uuid)]["cyclades.vm"]
    assert (vm["usage"], vm["pending"]) == (1, 0)


def test_auto_accept(client, alice, cyclades):
    user = alice[0]
    r = issue(client, cyclades, {"auto_accept": True, "provisions": provisions(user, 2)})
    assert r.status_code == 201
    assert client.get(f"{ACCOUNT}/commissions", HTTP_X_AUTH_TOKEN=cyclades).json() == []
    vm = logic.user_quotas([user.uuid])[str(user.uuid)][str(user.uuid)]["cyclades.vm"]
    assert (vm["usage"], vm["pending"]) == (2, 0)


def test_over_limit_is_413_with_upstream_data(client, alice, cyclades):
    user = alice[0]
    logic.set_base_limit(str(user.uuid), Resource.objects.get(name="cyclades.vm"), 1)
    r = issue(client, cyclades, {"provisions": provisions(user, 2)})
    assert r.status_code == 413
    fault = r.json()["overLimit"]
    assert fault["code"] == 413 and fault["message"]
    assert fault["data"] == {"provision": provisions(user, 2)[0], "name": "NoCapacityError", "limit": 1, "usage": 0}
    r = issue(client, cyclades, {"provisions": provisions(user, -1)})
    assert r.status_code == 413 and r.json()["overLimit"]["data"]["name"] == "NoQuantityError"
    r = issue(client, cyclades, {"force": True, "auto_accept": True, "provisions": provisions(user, 2)})
    assert r.status_code == 201
    assert client.get(f"{ACCOUNT}/commissions", HTTP_X_AUTH_TOKEN=cyclades).json() == []


def test_missing_holding_is_404(client, alice, cyclades):
    user = alice[0]
    r = issue(client, cyclades, {"provisions": provisions(user, 1, "cyclades.nosuch")})
    assert r.status_code == 404 and "itemNotFound" in r.json()
    other = [{"holder": "user:someone", "source": "project:else", "resource": "cyclades.vm", "quantity": 1}]
    assert issue(client, cyclades, {"provisions": other}).status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "[1]",
        {},
        {"provisions": []},
        {"provisions": "x"},
        {"provisions": [{"holder": "user:x"}]},
        {"provisions": [{"holder": "user:x", "source": None, "resource": "cyclades.vm", "quantity": 1.5}]},
        {"force": "yes", "provisions": [{"holder": "user:x", "source": None, "resource": "cyclades.vm", "quantity": 1}]},
        {"auto_accept": 1, "provisions": [{"holder": "user:x", "source": None, "resource": "cyclades.vm", "quantity": 1}]},
        {"name": 5, "provisions": [{"holder": "user:x", "source": None, "resource": "cyclades.vm", "quantity": 1}]},
    ],
)
def test_bad_commissions_are_400_and_change_nothing(client, cyclades, body):
    r = issue(client, cyclades, body)
    assert r.status_code == 400, r.content
    assert r.json()["badRequest"]["code"] == 400
    assert client.get(f"{ACCOUNT}/commissions", HTTP_X_AUTH_TOKEN=cyclades).json() == []


def test_wrong_media_type_is_415(client, cyclades):
    r = post_json(client, f"{ACCOUNT}/commissions", "{}", content_type="text/plain", HTTP_X_AUTH_TOKEN=cyclades)
    assert r.status_code == 415


def test_bad_actions_are_400_or_404(client, alice, cyclades):
    serial = logic.issue_commission("cyclades", provisions(alice[0], 1))
    url = f"{ACCOUNT}/commissions/{serial}/action"
    for body in ({}, {"accept": "", "reject": ""}, {"delete": ""}, {"accept": "", "x": 1}):
        assert post_json(client, url, body, HTTP_X_AUTH_TOKEN=cyclades).status_code == 400
    assert post_json(client, f"{ACCOUNT}/commissions/abc/action", {"accept": ""}, HTTP_X_AUTH_TOKEN=cyclades).status_code == 400
    assert post_json(client, f"{ACCOUNT}/commissions/0/action", {"accept": ""}, HTTP_X_AUTH_TOKEN=cyclades).status_code == 404
    assert client.get(f"{ACCOUNT}/commissions/abc", HTTP_X_AUTH_TOKEN=cyclades).status_code == 400
    assert client.get(f"{ACCOUNT}/commissions/99999999", HTTP_X_AUTH_TOKEN=cyclades).status_code == 404
    assert client.get(f"{ACCOUNT}/commissions/{10**30}", HTTP_X_AUTH_TOKEN=cyclades).status_code == 404
    assert client.delete(url, HTTP_X_AUTH_TOKEN=cyclades).status_code == 405
    assert logic.pending_serials("cyclades") == [serial]


def test_a_service_sees_and_resolves_only_its_own_commissions(client, alice, cyclades, pithos):
    serial = logic.issue_commission("cyclades", provisions(alice[0], 1))
    assert client.get(f"{ACCOUNT}/commissions", HTTP_X_AUTH_TOKEN=pithos).json() == []
    assert client.get(f"{ACCOUNT}/commissions/{serial}", HTTP_X_AUTH_TOKEN=pithos).status_code == 404
    r = post_json(client, f"{ACCOUNT}/commissions/{serial}/action", {"accept": ""}, HTTP_X_AUTH_TOKEN=pithos)
    assert r.status_code == 404
    assert logic.pending_serials("cyclades") == [serial]


def test_bulk_action(client, alice, cyclades):
    user = alice[0]
    a = logic.issue_commission("cyclades", provisions(user, 1))
    b = logic.issue_commission("cyclades", provisions(user, 1))
    r = post_json(client, f"{ACCOUNT}/commissions/action", {"accept": [a, 424242], "reject": [b]}, HTTP_X_AUTH_TOKEN=cyclades)
    assert r.status_code == 200
    data = r.json()
    assert data["accepted"] == [a] and data["rejected"] == [b]
    assert data["failed"] == [[424242, {"itemNotFound": {"code": 404, "message": "No pending commission 424242", "details": ""}}]]
    for body in ({"accept": "x"}, {"accept": [True]}, {"reject": [1], "other": []}, "[]"):
        r = post_json(client, f"{ACCOUNT}/commissions/action", body, HTTP_X_AUTH_TOKEN=cyclades)
        assert r.status_code == 400, body
    vm = logic.user_quotas([user.uuid])[str(user.uuid)][str(user.uuid)]["cyclades.vm"]
    assert (vm["usage"], vm["pending"]) == (1, 0)


def test_service_quotas_show_only_the_services_resources(client, make_user, cyclades, pithos):
    a = make_user()[0]
    b = make_user()[0]
    data = client.get(f"{ACCOUNT}/service_quotas", HTTP_X_AUTH_TOKEN=pithos).json()
    assert set(data) == {str(a.uuid), str(b.uuid)}
    assert list(data[str(a.uuid)][str(a.uuid)]) == ["pithos.diskspace"]
    one = client.get(f"{ACCOUNT}/service_quotas?user={b.uuid}", HTTP_X_AUTH_TOKEN=cyclades).json()
    assert list(one) == [str(b.uuid)]
    assert "cyclades.vm" in one[str(b.uuid)][str(b.uuid)] and "pithos.diskspace" not in one[str(b.uuid)][str(b.uuid)]
    assert client.get(f"{ACCOUNT}/service_quotas?user=00000000-0000-0000-0000-000000000000", HTTP_X_AUTH_TOKEN=cyclades).json() == {}
    assert client.get(f"{ACCOUNT}/service_quotas?user=bad", HTTP_X_AUTH_TOKEN=cyclades).status_code == 400
    projects = client.get(f"{ACCOUNT}/service_project_quotas?project={a.uuid}", HTTP_X_AUTH_TOKEN=cyclades).json()
    assert set(projects[str(a.uuid)]["cyclades.vm"]) == {"project_limit", "project_usage", "project_pending"}
    assert client.get(f"{ACCOUNT}/service_project_quotas?project=x", HTTP_X_AUTH_TOKEN=cyclades).status_code == 400
    assert json.loads(client.get(f"{ACCOUNT}/resources").content)  # still fine


# --- property: no body makes the commission endpoints fail ------------------------------------

from hypothesis import HealthCheck, given, settings as hsettings, strategies as st  # noqa: E402

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=3),
    max_leaves=10,
)
provision_like = st.fixed_dictionaries(
    {},
    optional={
        "holder": st.one_of(json_values, st.just("user:x")),
        "source": json_values,
        "resource": st.one_of(json_values, st.sampled_from(["cyclades.vm", "pithos.diskspace"])),
        "quantity": json_values,
    },
)
commission_like = st.fixed_dictionaries(
    {},
    optional={"provisions": st.one_of(json_values, st.lists(provision_like, max_size=3)), "force": json_values,
              "auto_accept": json_values, "name": json_values},
)


@hsettings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.one_of(json_values, commission_like), action=st.one_of(json_values, st.dictionaries(st.sampled_from(["accept", "reject", "x"]), json_values, max_size=2)))
def test_no_body_makes_the_commission_endpoints_fail(client, cyclades, body, action):
    r = issue(client, cyclades, body)
    assert r.status_code in (201, 400, 404, 413), (body, r.content)
    for path in ("commissions/action", "commissions/1/action"):
        r = post_json(client, f"{ACCOUNT}/{path}", action, HTTP_X_AUTH_TOKEN=cyclades)
        assert r.status_code in (200, 400, 404), (path, action, r.content)
