"""Helpers of the network-* commands."""

from synnefo.cyclades.logic import networks
from synnefo.cyclades.models import Network


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
    from django.core.management.base import CommandError

    try:
        return Network.objects.get(pk=int(ident))
    except (ValueError, Network.DoesNotExist):
        raise CommandError(f"No network with id '{ident}'") from None
