"""Floating IPs (SYNNEFO.md 4.2): an address of a public network held by a user, costing one
``cyclades.floating_ip``, that the user's ports (and so servers) on that network use. There is
no NAT: the address is given directly to the NIC. Only networks marked ``floating_ip_pool``
hand them out."""

from __future__ import annotations

from django.db import transaction

from synnefo.common import faults
from synnefo.cyclades.logic import lookup, quotas
from synnefo.cyclades.logic.ports import allocate_ip, release_ip
from synnefo.cyclades.models import IPAddress, Network


def _pool_network(network_id) -> Network:
    try:
        network = Network.objects.select_for_update().get(pk=int(network_id), deleted=False)
    except (ValueError, TypeError, Network.DoesNotExist):
        raise faults.ItemNotFound(f"Network {network_id} not found") from None
    if not network.public or not network.floating_ip_pool:
        raise faults.BadRequest(f"Network {network.id} is not a floating IP pool")
    if network.drained:
        raise faults.Conflict(f"Network {network.id} is drained: it hands out no new addresses")
    return network


@transaction.atomic
def allocate(userid: str, network_id, *, address: str | None = None, project: str | None = None) -> IPAddress:
    if network_id in (None, ""):
        raise faults.BadRequest("Missing 'floating_network_id'")
    network = _pool_network(network_id)
    ip = allocate_ip(network, userid, address=address, floating=True)
    if ip is None:
        raise faults.BadRequest(f"Network {network.id} has no IPv4 subnet")
    if project:
        ip.project = project
        ip.save(update_fields=["project"])
    quotas.issue_for(userid, ip.project or userid, {"cyclades.floating_ip": 1}, f"allocate floating IP {ip.id}", accept=True)
    return ip


def get(userid: str | None, ip_id, *, for_update: bool = False) -> IPAddress:
    owner = {} if userid is None else {"userid": userid}
    ip = lookup.row(IPAddress.objects.select_related("nic", "subnet"), ip_id, for_update=for_update, floating_ip=True, **owner)
    if ip is None:
        raise faults.ItemNotFound(f"Floating IP {ip_id} not found")
    return ip


@transaction.atomic
def release(ip: IPAddress) -> None:
    ip = get(None, ip.id, for_update=True)
    if ip.nic_id is not None:
        raise faults.Conflict(f"Floating IP {ip.address} is in use by port {ip.nic_id}; detach it first")
    userid, project, ident = ip.userid, ip.project, ip.id
    release_ip(ip)
    quotas.issue_for(userid, project or userid, {"cyclades.floating_ip": -1}, f"release floating IP {ident}",
                     accept=True, force=True)


def take_for_port(userid: str, network: Network, address: str | None, port) -> IPAddress:
    """A user's port on a public network: it uses one of the user's free floating IPs there
    (the one asked for, or the first)."""
    found = IPAddress.objects.select_for_update().filter(network=network, userid=userid, floating_ip=True, nic__isnull=True)
    if address is not None:
        found = found.filter(address=address)
    ip = found.order_by("id").first()
    if ip is None:
        raise faults.Forbidden(f"Ports on public network {network.id} need one of your free floating IPs there"
                               + (f" ({address} is not one)" if address else ""))
    ip.nic = port
    ip.save(update_fields=["nic", "updated"])
    return ip
