"""Networks and subnets (docs/networks.md): flavors, ownership, quota, pools.

A network's flavor fills its Ganeti ``mode``/``link``/``mac_prefix``/``tags`` (SYNNEFO.md 4.3);
``pool`` values are taken from the bridge or MAC-prefix pool in the creating transaction and put
back when the network is deleted. Private networks cost one ``cyclades.network.private``.
Everything here runs in the caller's transaction, raises ``faults`` for bad input, and changes
nothing when it raises. Ganeti comes in through ``logic/network_backends.py``, after commit.
"""

from __future__ import annotations

import ipaddress
import re

from django.conf import settings
from django.db import transaction

from synnefo.common import faults
from synnefo.cyclades.logic import pools, quotas
from synnefo.cyclades.models import IPAddress, Network, NetworkInterface, Subnet

MODES = ("bridged", "routed", "openvswitch")
POOL = "pool"
LINK_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,15}$")  # a Linux interface name
TAG_RE = re.compile(r"^[A-Za-z0-9_.:+-]{1,100}$")


def flavor_defaults(flavor: str) -> dict:
    """The flavor's mode, link, MAC prefix and tag (``pool``: from the pool)."""
    table = {
        "CUSTOM": ("bridged", settings.DEFAULT_BRIDGE, settings.DEFAULT_MAC_PREFIX, ""),
        "IP_LESS_ROUTED": ("routed", None, settings.DEFAULT_MAC_PREFIX, "ip-less-routed"),
        "MAC_FILTERED": ("bridged", settings.DEFAULT_MAC_FILTERED_BRIDGE, POOL, "private-filtered"),
        "PHYSICAL_VLAN": ("bridged", POOL, settings.DEFAULT_MAC_PREFIX, "physical-vlan"),
    }
    if flavor not in table:
        raise faults.BadRequest(f"Unknown network flavor '{flavor}'; flavors: {', '.join(Network.FLAVORS)}")
    mode, link, mac_prefix, tag = table[flavor]
    return {"mode": mode, "link": link, "mac_prefix": mac_prefix, "tags": tag}


def _check_name(name) -> str:
    if name is None:
        return ""
    if not isinstance(name, str) or len(name) > settings.CYCLADES_NETWORK_MAX_NAME_LENGTH:
        raise faults.BadRequest(f"A name must be a string of at most {settings.CYCLADES_NETWORK_MAX_NAME_LENGTH} characters")
    return name


def _from_pool(kind: str, what: str) -> str:
    try:
        with pools.locked(kind) as pool:
            return pool.get()
    except pools.PoolExhausted:
        raise faults.Conflict(f"No {what} is free for a new network; ask an administrator to extend the {kind} pool") from None
    except pools.PoolError as error:
        raise faults.ServiceUnavailable(f"Networks of this type cannot be created: {error}") from None


def _release(kind: str, value: str) -> None:
    try:
        with pools.locked(kind) as pool:
            pool.put(value)
    except pools.PoolError:
        pass  # the pool was changed (removed, shrunk) by an administrator meanwhile


def _overrides(flavor: str, mode, link, mac_prefix, tags) -> dict:
    if flavor == "MAC_FILTERED" and mac_prefix:
        raise faults.BadRequest("The MAC prefix of a MAC_FILTERED network comes from the MAC-prefix pool")
    if flavor == "PHYSICAL_VLAN" and link:
        raise faults.BadRequest("The link of a PHYSICAL_VLAN network comes from the bridge pool")
    if mode is not None and mode not in MODES:
        raise faults.BadRequest(f"Invalid mode '{mode}'; modes: {', '.join(MODES)}")
    if link is not None and not LINK_RE.match(link):
        raise faults.BadRequest(f"Invalid link '{link}' (an interface name of at most 15 characters)")
    if mac_prefix is not None:
        try:
            digits = pools.mac_prefix_digits(mac_prefix)
        except pools.PoolError as error:
            raise faults.BadRequest(str(error)) from None
        if len(digits) != 5 or int(digits[:2], 16) & 0b11 != 0b10:
            raise faults.BadRequest(f"Invalid MAC prefix '{mac_prefix}': five hex digits (e.g. aa:00:0) of a "
                                    "unicast, locally administered address")
    if tags is not None:
        for tag in tags:
            if not TAG_RE.match(tag):
                raise faults.BadRequest(f"Invalid tag '{tag}'")
    return {k: v for k, v in (("mode", mode), ("link", link), ("mac_prefix", mac_prefix)) if v is not None}


@transaction.atomic
def create_network(*, name: str = "", userid: str | None, flavor: str, public: bool = False, project: str | None = None,
                   mode: str | None = None, link: str | None = None, mac_prefix: str | None = None,
                   tags: list[str] | None = None, floating_ip_pool: bool = False, drained: bool = False,
                   force_quota: bool = False) -> Network:
    """A new network row (state PENDING, not yet on any backend). ``force_quota``: charge the
    owner's quota even beyond its limit (an administrator's create)."""
    name = _check_name(name)
    values = flavor_defaults(flavor)
    values.update(_overrides(flavor, mode, link, mac_prefix, tags))
    if tags is not None:
        values["tags"] = ",".join(tags)
    if not public and not userid:
        raise faults.BadRequest("A private network needs an owner")
    if link and flavor == "IP_LESS_ROUTED" and Network.objects.filter(deleted=False, mode=values["mode"], link=link).exists():
        raise faults.Conflict(f"Link '{link}' is already used by another {values['mode']} network")
    network = Network(name=name, userid=None if public else userid, project=None if public else (project or userid),
                      flavor=flavor, public=public, floating_ip_pool=floating_ip_pool, drained=drained,
                      mode=values["mode"], tags=values["tags"], action="CREATE", state="PENDING")
    network.save()
    if not public:
        quotas.issue_for(userid, network.project, {"cyclades.network.private": 1}, f"create network {network.id}", accept=True,
                         force=force_quota)
    if values["link"] == POOL:
        network.link, network.link_from_pool = _from_pool("bridge", "bridge"), True
    else:
        network.link = values["link"]
    if values["mac_prefix"] == POOL:
        network.mac_prefix, network.mac_prefix_from_pool = _from_pool("mac-prefix", "MAC prefix"), True
    else:
        network.mac_prefix = values["mac_prefix"]
    network.save()
    return network


# --- subnets -------------------------------------------------------------------------------

def _ip(value, what: str):
    try:
        return ipaddress.ip_address(str(value))
    except ValueError:
        raise faults.BadRequest(f"Invalid {what} '{value}'") from None


def _ranges(cidr, pools_in, gateway) -> list[tuple]:
    """The allocation ranges, checked (inside the subnet, not overlapping), as address pairs."""
    if pools_in is None:
        hosts_first = cidr.network_address + 1
        hosts_last = cidr.broadcast_address - 1
        if gateway == hosts_first:
            hosts_first += 1
        if hosts_first > hosts_last:
            return []
        return [(hosts_first, hosts_last)]
    if not isinstance(pools_in, list) or len(pools_in) > 16:
        raise faults.BadRequest("'allocation_pools' must be a list of at most 16 {start, end} objects")
    ranges = []
    for item in pools_in:
        if not isinstance(item, dict) or "start" not in item or "end" not in item:
            raise faults.BadRequest("Each allocation pool must be an object with 'start' and 'end'")
        start, end = _ip(item["start"], "allocation pool start"), _ip(item["end"], "allocation pool end")
        if start not in cidr or end not in cidr or end < start:
            raise faults.BadRequest(f"Allocation pool {start}-{end} is not a range inside {cidr}")
        if start == cidr.network_address or end == cidr.broadcast_address:
            raise faults.BadRequest(f"Allocation pool {start}-{end} includes the network or broadcast address")
        ranges.append((start, end))
    ranges.sort()
    for (_, end), (start, _) in zip(ranges, ranges[1:]):
        if start <= end:
            raise faults.BadRequest("Allocation pools overlap")
    return ranges


@transaction.atomic
def create_subnet(network: Network, cidr: str, *, userid: str | None = None, name: str = "", ipversion: int | None = None,
                  gateway="auto", dhcp: bool = True, allocation_pools=None, dns_nameservers=None,
                  host_routes=None) -> Subnet:
    """A subnet of ``network`` with its IP pools (IPv4). ``gateway``: "auto" for the first
    address, None for none."""
    name = _check_name(name)
    try:
        net = ipaddress.ip_network(str(cidr), strict=True)
    except ValueError:
        raise faults.BadRequest(f"Invalid CIDR '{cidr}' (give the network address, e.g. 10.0.0.0/24)") from None
    if ipversion is not None and ipversion != net.version:
        raise faults.BadRequest(f"CIDR {cidr} is not IPv{ipversion}")
    if network.subnets.filter(ipversion=net.version, deleted=False).exists():
        raise faults.BadRequest(f"Network {network.id} already has an IPv{net.version} subnet")
    if net.version == 4 and network.backend_networks.exclude(operstate="DELETED").filter(backendjobid__isnull=False).exists():
        raise faults.Conflict(f"Network {network.id} is already on Ganeti as an IPv6-only network, whose IPv4 range "
                              "Ganeti cannot change; create a new network for IPv4")
    if net.version == 4 and not settings.MAX_CIDR_BLOCK <= net.prefixlen <= 29:
        raise faults.RequestEntityTooLarge(f"Unsupported network size: IPv4 subnets must be /{settings.MAX_CIDR_BLOCK} to /29")
    if net.version == 6 and net.prefixlen != 64:
        raise faults.BadRequest("IPv6 subnets must be /64 (addresses are EUI-64, from the MAC)")
    if gateway == "auto":
        gateway_ip = net.network_address + 1
    elif gateway is None:
        gateway_ip = None
    else:
        gateway_ip = _ip(gateway, "gateway")
        if gateway_ip not in net or gateway_ip in (net.network_address, net.broadcast_address) and net.version == 4:
            raise faults.BadRequest(f"Gateway {gateway_ip} is not a host address of {net}")
    if network.public and net.version == 4:
        for other in Subnet.objects.filter(public=True, deleted=False, ipversion=4).exclude(network=network):
            if ipaddress.ip_network(other.cidr).overlaps(net):
                raise faults.BadRequest(f"Subnet {net} overlaps {other.cidr} of public network {other.network_id}")
    for values, what in ((dns_nameservers, "dns_nameservers"), (host_routes, "host_routes")):
        if values is not None and (not isinstance(values, list) or len(values) > 16):
            raise faults.BadRequest(f"'{what}' must be a list of at most 16 entries")
    for server in dns_nameservers or []:
        _ip(server, "DNS server")
    ranges = _ranges(net, allocation_pools, gateway_ip) if net.version == 4 else []
    subnet = Subnet.objects.create(
        network=network, userid=userid if userid is not None else network.userid, name=name, ipversion=net.version,
        cidr=str(net), gateway=str(gateway_ip) if gateway_ip is not None else None, dhcp=bool(dhcp),
        dns_nameservers=[str(s) for s in dns_nameservers or []], host_routes=host_routes or [], public=network.public)
    for start, end in ranges:
        try:
            pools.create_ip_pool(str(net), str(start), str(end), gateway=str(gateway_ip) if gateway_ip else None, subnet=subnet)
        except pools.PoolError as error:
            raise faults.BadRequest(str(error)) from None
    return subnet


def allocation_ranges(subnet: Subnet) -> list[dict]:
    out = []
    for row in subnet.ip_pools.all():
        pool = pools.IPPool(row)
        out.append({"start": pool.index_to_value(0), "end": pool.index_to_value(pool.size - 1)})
    return out


def subnet4(network: Network) -> Subnet | None:
    return next((s for s in network.subnets.all() if s.ipversion == 4 and not s.deleted), None)


def subnet6(network: Network) -> Subnet | None:
    return next((s for s in network.subnets.all() if s.ipversion == 6 and not s.deleted), None)


# --- lookups and changes ---------------------------------------------------------------------

def visible_networks(userid: str):
    """The user's own live networks and the public ones."""
    from django.db.models import Q

    return Network.objects.filter(Q(userid=userid) | Q(public=True), deleted=False).prefetch_related("subnets")


def get_network(userid: str | None, network_id, *, for_update: bool = False, writable: bool = False) -> Network:
    """A live network the user may see (``writable``: may change), else 404 / 403.
    ``userid`` None: any network (administrators)."""
    objects = Network.objects.select_for_update() if for_update else Network.objects
    try:
        network = objects.get(pk=int(network_id), deleted=False)
    except (ValueError, TypeError, Network.DoesNotExist):
        raise faults.ItemNotFound(f"Network {network_id} not found") from None
    if userid is not None and network.userid != userid:
        if not network.public:
            raise faults.ItemNotFound(f"Network {network_id} not found")
        if writable:
            raise faults.Forbidden(f"Network {network_id} is public: only administrators change it")
    return network


def rename(network: Network, name) -> Network:
    network.name = _check_name(name)
    network.save(update_fields=["name", "updated"])
    return network


@transaction.atomic
def delete_network(network: Network) -> Network:
    """Mark a network deleted, give back its pooled values and quota, and (after commit)
    remove it from its backends. Refused with 421 while ports or floating IPs use it."""
    network = Network.objects.select_for_update().get(pk=network.pk)
    if network.deleted:
        raise faults.ItemNotFound(f"Network {network.id} not found")
    in_use = NetworkInterface.objects.filter(network=network).count()
    floating = IPAddress.objects.filter(network=network, nic__isnull=True).count()
    if in_use or floating:
        raise faults.NetworkInUse(f"Network {network.id} is in use ({in_use} ports, {floating} floating IPs)")
    if network.link_from_pool:
        _release("bridge", network.link)
    if network.mac_prefix_from_pool:
        _release("mac-prefix", network.mac_prefix)
    if not network.public and network.userid:
        quotas.issue_for(network.userid, network.project, {"cyclades.network.private": -1},
                         f"delete network {network.id}", accept=True, force=True)
    network.deleted, network.action = True, "DESTROY"
    if not network.backend_networks.exclude(operstate="DELETED").exists():
        network.state = "DELETED"
    network.save()
    from synnefo.cyclades.logic import network_backends

    transaction.on_commit(lambda: network_backends.after_commit(network_backends.remove_everywhere, network.id))
    return network
