"""Ports (NICs on a network) and their addresses (docs/networks.md).

A port takes one IPv4 address from its network's subnet pools (pools in id order, first free
address; or the ``fixed_ips`` address asked for), an IPv6 address (EUI-64 of its MAC) when the
network has an IPv6 subnet, and a MAC address of the network's prefix. Users create ports on
their own private networks, and on public networks with one of their floating IPs there
(logic/floating_ips.py; public networks without IPv4 subnet need none).
"""

from __future__ import annotations

import ipaddress
import secrets

from django.conf import settings
from django.db import IntegrityError, transaction

from synnefo.common import faults
from synnefo.cyclades.logic import lookup, networks, pools
from synnefo.cyclades.models import IPAddress, IPAddressHistory, Network, NetworkInterface


def random_mac(prefix: str) -> str:
    """``prefix`` (five hex digits, e.g. aa:00:0) followed by seven random ones."""
    digits = pools.mac_prefix_digits(prefix) + secrets.token_hex(4)[:12 - len(pools.mac_prefix_digits(prefix))]
    return ":".join(digits[i:i + 2] for i in range(0, 12, 2))


def allocate_ip(network: Network, userid: str, *, address: str | None = None, nic=None,
                floating: bool = False) -> IPAddress | None:
    """An address of the network's IPv4 subnet (None if it has none), taken from its pools in
    the caller's transaction. 409 when the pools are exhausted or the address is taken."""
    subnet = networks.subnet4(network)
    if subnet is None:
        if address is not None:
            raise faults.BadRequest(f"Network {network.id} has no IPv4 subnet")
        return None
    rows = list(subnet.ip_pools.order_by("id").values_list("id", flat=True))
    if address is not None:
        try:
            wanted = ipaddress.ip_address(str(address))
        except ValueError:
            raise faults.BadRequest(f"Invalid IP address '{address}'") from None
        if wanted not in ipaddress.ip_network(subnet.cidr):
            raise faults.BadRequest(f"{wanted} is not an address of subnet {subnet.cidr}")
    value = None
    for row_id in rows:
        try:
            with pools.locked("ip", row_id) as pool:
                value = pool.get(str(wanted)) if address is not None else pool.get()
            break
        except pools.InvalidValue:
            continue  # not in this range
        except pools.ValueNotAvailable:
            raise faults.Conflict(f"IP address {address} is already in use") from None
        except pools.PoolExhausted:
            continue
    if value is None:
        if address is not None:
            raise faults.BadRequest(f"{address} is not in an allocation pool of subnet {subnet.cidr}")
        raise faults.Conflict(f"No more IP addresses available on network {network.id}")
    return IPAddress.objects.create(network=network, subnet=subnet, nic=nic, userid=userid, project=network.project,
                                    address=value, ipversion=4, floating_ip=floating)


def eui64(cidr: str, mac: str) -> str:
    """The SLAAC address of a MAC in an IPv6 /64: the prefix, then the MAC's EUI-64 (the
    universal/local bit flipped, ``ff:fe`` in the middle)."""
    octets = bytes.fromhex(mac.replace(":", ""))
    if len(octets) != 6:
        raise ValueError(f"Invalid MAC address '{mac}'")
    interface = bytes([octets[0] ^ 0x02]) + octets[1:3] + b"\xff\xfe" + octets[3:]
    net = ipaddress.ip_network(cidr)
    return str(net.network_address + int.from_bytes(interface, "big"))


def ipv6_address(network: Network, port: NetworkInterface) -> IPAddress | None:
    """The port's IPv6 address (EUI-64 of its MAC, not pooled) when the network has an IPv6 subnet."""
    subnet = networks.subnet6(network)
    if subnet is None:
        return None
    return IPAddress.objects.create(network=network, subnet=subnet, nic=port, userid=port.userid, project=network.project,
                                    address=eui64(subnet.cidr, port.mac), ipversion=6)


def record_use(ips, server_id: int, action: str, reason: str) -> None:
    """The address history: these addresses started (``IPAddressHistory.ASSOCIATE``) or
    stopped (``DISASSOCIATE``) being used by the server, for ``reason``."""
    IPAddressHistory.objects.bulk_create(
        IPAddressHistory(address=ip.address, server_id=server_id, network_id=ip.network_id, user_id=ip.userid,
                         action=action, action_reason=reason[:255]) for ip in ips)


def release_ip(ip: IPAddress) -> None:
    for row in ip.subnet.ip_pools.order_by("id"):
        try:
            with pools.locked("ip", row.id) as pool:
                pool.put(ip.address)
            break
        except pools.PoolError:
            continue
    ip.delete()


def _fixed_address(fixed_ips) -> str | None:
    if fixed_ips is None:
        return None
    if not isinstance(fixed_ips, list) or len(fixed_ips) > 1:
        raise faults.BadRequest("'fixed_ips' must be a list of at most one {\"ip_address\": ...} object")
    if not fixed_ips:
        return None
    item = fixed_ips[0]
    if not isinstance(item, dict) or not isinstance(item.get("ip_address", ""), str):
        raise faults.BadRequest("Each fixed IP must be an object with 'ip_address'")
    return item.get("ip_address")


@transaction.atomic
def create_port(userid: str, network: Network, *, name: str = "", fixed_ips=None, security_groups=None,
                admin: bool = False) -> NetworkInterface:
    network = Network.objects.select_for_update().get(pk=network.pk)
    if network.deleted:
        raise faults.ItemNotFound(f"Network {network.id} not found")
    if network.userid != userid and not network.public and not admin:
        raise faults.ItemNotFound(f"Network {network.id} not found")
    if network.drained:
        raise faults.Conflict(f"Network {network.id} is drained: it takes no new ports")
    if security_groups is not None and (not isinstance(security_groups, list) or len(security_groups) > 16):
        raise faults.BadRequest("'security_groups' must be a list")
    name = networks._check_name(name)
    address = _fixed_address(fixed_ips)
    for _ in range(settings.CYCLADES_MAC_ATTEMPTS):
        mac = random_mac(network.mac_prefix)
        if not NetworkInterface.objects.filter(network=network, mac=mac).exists():
            break
    else:
        raise faults.Conflict(f"No free MAC address in prefix {network.mac_prefix}")
    try:
        with transaction.atomic():
            port = NetworkInterface.objects.create(name=name, userid=userid, network=network, mac=mac, state="DOWN",
                                                   security_groups=security_groups or [])
    except IntegrityError:
        raise faults.Conflict("MAC address collision; try again") from None
    ipv6_only = networks.subnet4(network) is None and networks.subnet6(network) is not None
    if network.public and not admin and not ipv6_only:
        from synnefo.cyclades.logic import floating_ips

        floating_ips.take_for_port(userid, network, address, port)
    else:
        allocate_ip(network, userid, address=address, nic=port)
    ipv6_address(network, port)
    return port


def get_port(userid: str | None, port_id, *, for_update: bool = False) -> NetworkInterface:
    owner = {} if userid is None else {"userid": userid}
    port = lookup.row(NetworkInterface.objects.select_related("network"), port_id, for_update=for_update, **owner)
    if port is None:
        raise faults.ItemNotFound(f"Port {port_id} not found")
    return port


@transaction.atomic
def delete_port(port: NetworkInterface) -> None:
    port = NetworkInterface.objects.select_for_update().get(pk=port.pk)
    if port.machine_id is not None:
        raise faults.Conflict(f"Port {port.id} is attached to server {port.machine_id}; delete the server or detach it first")
    for ip in list(port.ips.select_related("subnet")):
        if ip.floating_ip:
            ip.nic = None
            ip.save(update_fields=["nic", "updated"])
        else:
            release_ip(ip)
    port.delete()
