"""Helpers of the network-* commands."""

from django.core.management.base import CommandError

from synnefo.cyclades.logic import networks
from synnefo.cyclades.models import Network, Subnet


def network_dict(network: Network) -> dict:
    sub4, sub6 = networks.subnet4(network), networks.subnet6(network)
    return {
        "id": network.id, "name": network.name, "flavor": network.flavor, "user": network.userid or "",
        "project": network.project or "", "public": network.public, "state": network.state,
        "deleted": network.deleted, "mode": network.mode, "link": network.link or "", "mac_prefix": network.mac_prefix,
        "tags": network.tags, "subnet": sub4.cidr if sub4 else "", "gateway": (sub4.gateway or "") if sub4 else "",
        "dhcp": sub4.dhcp if sub4 else "", "subnet6": sub6.cidr if sub6 else "",
        "gateway6": (sub6.gateway or "") if sub6 else "", "floating_ip_pool": network.floating_ip_pool,
        "drained": network.drained, "ganeti_name": network.backend_id,
        "created": network.created.isoformat(timespec="seconds"),
    }


def get_any_network(ident):
    try:
        return Network.objects.get(pk=int(ident))
    except (ValueError, Network.DoesNotExist):
        raise CommandError(f"No network with id '{ident}'") from None


def get_any_subnet(ident) -> Subnet:
    try:
        return Subnet.objects.select_related("network").get(pk=int(ident), deleted=False)
    except (ValueError, Subnet.DoesNotExist):
        raise CommandError(f"No subnet with id '{ident}'") from None


def subnet_dict(subnet: Subnet) -> dict:
    ranges = networks.allocation_ranges(subnet)
    return {
        "id": subnet.id, "name": subnet.name, "network": subnet.network_id, "user": subnet.userid or "",
        "ip_version": subnet.ipversion, "cidr": subnet.cidr, "gateway": subnet.gateway or "", "dhcp": subnet.dhcp,
        "slaac": subnet.ipversion == 6 and subnet.dhcp, "public": subnet.public,
        "allocation_pools": ",".join(f"{r['start']}-{r['end']}" for r in ranges),
        "dns_nameservers": ",".join(subnet.dns_nameservers),
        "host_routes": ",".join(f"{r.get('destination')}={r.get('nexthop')}" for r in subnet.host_routes),
        "created": subnet.created.isoformat(timespec="seconds"),
    }


def parse_allocation_pools(items) -> list[dict]:
    """``--allocation-pool START,END`` options as the API's ``allocation_pools``."""
    out = []
    for item in items:
        start, sep, end = item.partition(",")
        if not sep:
            raise CommandError(f"--allocation-pool takes START,END, not '{item}'")
        out.append({"start": start.strip(), "end": end.strip()})
    return out


def parse_gateway(value):
    """``--gateway``: absent = the first address ("auto"), ``none`` = no gateway."""
    if value is None:
        return "auto"
    return None if value.lower() == "none" else value
