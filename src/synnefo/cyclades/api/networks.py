"""The network API (Neutron v2.0 style, SYNNEFO.md 4.2): networks (plus ``/networks/detail``
for kamaki), subnets and ports. Thin views over ``logic/networks.py`` and ``logic/ports.py``.
Users see their own networks and the public ones, and change only their own."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.http import HttpResponse

from synnefo.common import faults
from synnefo.common.api import action_body, api_method, get_dict, json_body, render
from synnefo.common.components import COMPONENTS
from synnefo.cyclades.logic import floating_ips, network_backends, networks, ports, projects, server_nics
from synnefo.cyclades.models import IPAddress, NetworkInterface, Subnet
from synnefo.plankton.backend import zulu

STATUS = {"ACTIVE": "ACTIVE", "PENDING": "BUILD", "ERROR": "ERROR", "DELETED": "DOWN"}


def api_root(request) -> str:
    return f"{COMPONENTS['cyclades'].base_url(request)}/network/v2.0"


def _links(request, kind: str, ident) -> list[dict]:
    href = f"{api_root(request)}/{kind}/{ident}"
    return [{"rel": "self", "href": href}, {"rel": "bookmark", "href": href}]


def _time(value) -> str:
    return zulu(value.timestamp())


def network_record(request, network) -> dict:
    status = "SNF:DRAINED" if network.drained and network.state == "ACTIVE" else STATUS.get(network.state, "ERROR")
    owner = network.userid  # None for public networks, as upstream
    return {
        "id": str(network.id), "name": network.name, "status": status, "type": network.flavor,
        "router:external": network.external_router, "public": network.public, "shared": network.public,
        "user_id": owner, "tenant_id": owner and (network.project or owner), "project_id": owner and (network.project or owner),
        "shared_to_project": False, "subnets": [str(s.id) for s in network.subnets.all() if not s.deleted],
        "SNF:floating_ip_pool": network.floating_ip_pool, "admin_state_up": True, "deleted": network.deleted,
        "links": _links(request, "networks", network.id), "created": _time(network.created),
        "updated": _time(network.updated),
    }


def subnet_record(request, subnet) -> dict:
    owner = subnet.userid or ""
    return {
        "id": str(subnet.id), "name": subnet.name, "network_id": str(subnet.network_id), "ip_version": subnet.ipversion,
        "cidr": subnet.cidr, "gateway_ip": subnet.gateway, "enable_dhcp": subnet.dhcp,
        "enable_slaac": subnet.ipversion == 6 and subnet.dhcp, "allocation_pools": networks.allocation_ranges(subnet),
        "dns_nameservers": subnet.dns_nameservers, "host_routes": subnet.host_routes, "user_id": owner,
        "tenant_id": subnet.network.project or owner, "project_id": subnet.network.project or owner,
        "links": _links(request, "subnets", subnet.id), "created": _time(subnet.created), "updated": _time(subnet.updated),
    }


def port_record(request, port) -> dict:
    return {
        "id": str(port.id), "name": port.name, "status": port.state, "admin_state_up": True,
        "network_id": str(port.network_id), "user_id": port.userid, "tenant_id": port.network.project or port.userid,
        "project_id": port.network.project or port.userid, "mac_address": port.mac,
        "fixed_ips": [{"subnet": str(ip.subnet_id), "ip_address": ip.address} for ip in port.ips.all()],
        "device_id": str(port.machine_id) if port.machine_id else "", "device_owner": port.device_owner,
        "security_groups": port.security_groups, "links": _links(request, "ports", port.id),
        "created": _time(port.created), "updated": _time(port.updated),
    }


def _boolean(data: dict, key: str, default: bool) -> bool:
    value = data.get(key, default)
    if not isinstance(value, bool):
        raise faults.BadRequest(f"'{key}' must be true or false")
    return value


# --- versions ---------------------------------------------------------------------------------

@api_method(("GET",), token_required=False)
def versions(request):
    return render(request, {"versions": [{"id": "v2.0", "status": "CURRENT",
                                          "links": [{"rel": "self", "href": api_root(request) + "/"}]}]})


@api_method(("GET",), token_required=False)
def version(request):
    return render(request, {"resources": [{"name": n, "collection": f"{n}s", "links": [
        {"rel": "self", "href": f"{api_root(request)}/{n}s"}]} for n in ("network", "subnet", "port")]})


@api_method(("GET",))
def extensions(request):
    return render(request, {"extensions": []})


# --- networks -------------------------------------------------------------------------------

@api_method(("GET", "POST"))
def networks_view(request, detail=None):
    user = request.api_user.uuid
    if request.method == "POST":
        if detail:
            raise faults.BadRequest("Create networks at .../networks")
        body = get_dict(json_body(request), "network")
        kind = body.get("type") or settings.API_ENABLED_NETWORK_FLAVORS[0]
        if kind not in settings.API_ENABLED_NETWORK_FLAVORS:
            raise faults.BadRequest(f"Network type '{kind}' is not available; types: "
                                    f"{', '.join(settings.API_ENABLED_NETWORK_FLAVORS)}")
        project = body.get("project")
        if project is not None and project != user:
            raise faults.Forbidden("Networks can only be created in your own project for now")
        with transaction.atomic():
            network = networks.create_network(name=body.get("name") or "", userid=user, flavor=kind)
            network_backends.plan(network)
        return render(request, {"network": network_record(request, network)}, status=201)
    found = networks.visible_networks(user)
    return render(request, {"networks": [network_record(request, n) for n in found]})


def _reassign_action(request, reassign, ident):
    """``POST .../<id>/action`` with ``{"reassign": {"project": uuid}}`` (Synnefo's extension)."""
    action, args = action_body(request)
    if action != "reassign":
        raise faults.BadRequest(f"Unknown action '{action}'; the only one is 'reassign'")
    reassign(request.api_user.uuid, ident, projects.check_target(args))
    return HttpResponse(status=200)


@api_method(("POST",))
def network_action(request, network_id):
    return _reassign_action(request, projects.reassign_network, network_id)


@api_method(("GET", "PUT", "DELETE"))
def network_view(request, network_id):
    user = request.api_user.uuid
    if request.method == "GET":
        return render(request, {"network": network_record(request, networks.get_network(user, network_id))})
    if request.method == "PUT":
        body = get_dict(json_body(request), "network")
        unknown = set(body) - {"name", "admin_state_up", "shared"}
        if unknown:
            raise faults.BadRequest(f"Only the name of a network can change, not {', '.join(sorted(unknown))}")
        with transaction.atomic():
            network = networks.get_network(user, network_id, for_update=True, writable=True)
            if "name" in body:
                networks.rename(network, body["name"])
        return render(request, {"network": network_record(request, network)})
    network = networks.get_network(user, network_id, writable=True)
    networks.delete_network(network)
    return render(request, None, status=204)


# --- subnets --------------------------------------------------------------------------------

def _visible_subnet(user: str, subnet_id) -> Subnet:
    try:
        subnet = Subnet.objects.select_related("network").get(pk=int(subnet_id), deleted=False, network__deleted=False)
    except (ValueError, TypeError, Subnet.DoesNotExist):
        raise faults.ItemNotFound(f"Subnet {subnet_id} not found") from None
    if subnet.network.userid != user and not subnet.network.public:
        raise faults.ItemNotFound(f"Subnet {subnet_id} not found")
    return subnet


@api_method(("GET", "POST"))
def subnets_view(request):
    user = request.api_user.uuid
    if request.method == "POST":
        body = get_dict(json_body(request), "subnet")
        for key in ("network_id", "cidr"):
            if body.get(key) in (None, ""):
                raise faults.BadRequest(f"Missing '{key}'")
        version = body.get("ip_version", 4)
        if version not in (4, 6, "4", "6"):
            raise faults.BadRequest("'ip_version' must be 4 or 6")
        with transaction.atomic():
            network = networks.get_network(user, body["network_id"], for_update=True, writable=True)
            subnet = networks.create_subnet(
                network, body["cidr"], userid=user, name=body.get("name") or "", ipversion=int(version),
                gateway=body.get("gateway_ip", "auto"), dhcp=_boolean(body, "enable_dhcp", True),
                allocation_pools=body.get("allocation_pools"), dns_nameservers=body.get("dns_nameservers"),
                host_routes=body.get("host_routes"))
            network_id = network.id
            transaction.on_commit(lambda: network_backends.after_commit(network_backends.subnet_added, network_id))
        return render(request, {"subnet": subnet_record(request, subnet)}, status=201)
    visible = networks.visible_networks(user)
    found = Subnet.objects.filter(network__in=visible, deleted=False).select_related("network").prefetch_related("ip_pools")
    return render(request, {"subnets": [subnet_record(request, s) for s in found]})


@api_method(("GET", "PUT", "DELETE"))
def subnet_view(request, subnet_id):
    user = request.api_user.uuid
    subnet = _visible_subnet(user, subnet_id)
    if request.method == "DELETE":
        raise faults.BadRequest("Subnets cannot be deleted; delete their network")
    if request.method == "PUT":
        body = get_dict(json_body(request), "subnet")
        if set(body) - {"name"}:
            raise faults.BadRequest("Only the name of a subnet can change")
        if subnet.network.userid != user:
            raise faults.Forbidden(f"Subnet {subnet_id} belongs to a public network")
        subnet.name = networks._check_name(body.get("name"))
        subnet.save(update_fields=["name", "updated"])
    return render(request, {"subnet": subnet_record(request, subnet)})


# --- ports ----------------------------------------------------------------------------------

@api_method(("GET", "POST"))
def ports_view(request):
    user = request.api_user.uuid
    if request.method == "POST":
        body = get_dict(json_body(request), "port")
        if body.get("network_id") in (None, ""):
            raise faults.BadRequest("Missing 'network_id'")
        network = networks.get_network(user, body["network_id"])
        options = {"name": body.get("name") or "", "fixed_ips": body.get("fixed_ips"),
                   "security_groups": body.get("security_groups")}
        if body.get("device_id"):
            port = server_nics.connect(user, network, body["device_id"], **options)
        else:
            port = ports.create_port(user, network, **options)
        return render(request, {"port": port_record(request, port)}, status=201)
    found = NetworkInterface.objects.filter(userid=user).select_related("network").prefetch_related("ips")
    return render(request, {"ports": [port_record(request, p) for p in found]})


@api_method(("GET", "PUT", "DELETE"))
def port_view(request, port_id):
    user = request.api_user.uuid
    if request.method == "DELETE":
        port = ports.get_port(user, port_id)
        if port.machine_id is not None:
            server_nics.disconnect(user, port)  # the port goes when Ganeti's NIC removal succeeds
        else:
            ports.delete_port(port)
        return render(request, None, status=204)
    if request.method == "PUT":
        body = get_dict(json_body(request), "port")
        if set(body) - {"name", "security_groups"}:
            raise faults.BadRequest("Only the name and security groups of a port can change")
        with transaction.atomic():
            port = ports.get_port(user, port_id, for_update=True)
            if "name" in body:
                port.name = networks._check_name(body["name"])
            if "security_groups" in body:
                if not isinstance(body["security_groups"], list):
                    raise faults.BadRequest("'security_groups' must be a list")
                port.security_groups = body["security_groups"]
            port.save()
        return render(request, {"port": port_record(request, port)})
    return render(request, {"port": port_record(request, ports.get_port(user, port_id))})


# --- floating IPs ---------------------------------------------------------------------------

def floating_ip_record(request, ip) -> dict:
    port = ip.nic
    return {
        "id": str(ip.id), "floating_network_id": str(ip.network_id), "floating_ip_address": ip.address,
        "fixed_ip_address": None, "port_id": str(port.id) if port else None,
        "instance_id": str(port.machine_id) if port and port.machine_id else None, "user_id": ip.userid,
        "tenant_id": ip.project or ip.userid, "project_id": ip.project or ip.userid, "router_id": None,
        "status": "ACTIVE" if port else "DOWN", "deleted": False, "links": _links(request, "floatingips", ip.id),
        "created": _time(ip.created), "updated": _time(ip.updated),
    }


@api_method(("GET", "POST"))
def floating_ips_view(request):
    user = request.api_user.uuid
    if request.method == "POST":
        body = get_dict(json_body(request), "floatingip")
        project = body.get("project")
        if project is not None and project != user:
            raise faults.Forbidden("Floating IPs can only be allocated in your own project for now")
        address = body.get("floating_ip_address")
        if address is not None and not isinstance(address, str):
            raise faults.BadRequest("'floating_ip_address' must be a string")
        ip = floating_ips.allocate(user, body.get("floating_network_id"), address=address)
        return render(request, {"floatingip": floating_ip_record(request, ip)}, status=201)
    found = IPAddress.objects.filter(userid=user, floating_ip=True).select_related("nic")
    return render(request, {"floatingips": [floating_ip_record(request, ip) for ip in found]})


@api_method(("GET", "DELETE"))
def floating_ip_view(request, ip_id):
    ip = floating_ips.get(request.api_user.uuid, ip_id)
    if request.method == "DELETE":
        floating_ips.release(ip)
        return render(request, None, status=204)
    return render(request, {"floatingip": floating_ip_record(request, ip)})


@api_method(("POST",))
def floating_ip_action(request, ip_id):
    return _reassign_action(request, projects.reassign_floating_ip, ip_id)


@api_method(("GET", "POST", "PUT", "DELETE", "PATCH"))
def unknown(request, rest=""):
    raise faults.BadRequest(f"Not a network API URL: {request.path}")
