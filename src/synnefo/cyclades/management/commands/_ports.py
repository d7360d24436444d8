"""Helpers of the port-* and floating-ip-* commands: lookups, records, and connecting or
disconnecting a server, all over logic/ports.py, logic/floating_ips.py and logic/server_nics.py."""

from django.core.management.base import CommandError

from synnefo.common import faults
from synnefo.cyclades.logic import floating_ips, ports, server_nics
from synnefo.cyclades.management.commands._common import get_server, refusals, refuse_simulated_elsewhere
from synnefo.cyclades.models import IPAddress, NetworkInterface


def get_any_port(ident) -> NetworkInterface:
    try:
        return ports.get_port(None, ident)
    except faults.ItemNotFound:
        raise CommandError(f"No port with id '{ident}'") from None


def get_any_floating_ip(ident) -> IPAddress:
    try:
        return floating_ips.get(None, ident)
    except faults.ItemNotFound:
        raise CommandError(f"No floating IP with id '{ident}'") from None


def port_dict(port: NetworkInterface) -> dict:
    return {
        "id": port.id, "name": port.name, "user": port.userid, "network": port.network_id,
        "server": port.machine_id or "", "state": port.state, "mac": port.mac,
        "ipv4": ",".join(ip.address for ip in port.ips.all() if ip.ipversion == 4),
        "floating_ip": ",".join(str(ip.id) for ip in port.ips.all() if ip.floating_ip),
        "device_owner": port.device_owner, "security_groups": ",".join(map(str, port.security_groups)),
        "ganeti_nic": server_nics.nic_name(port) if port.machine_id else "",
        "created": port.created.isoformat(timespec="seconds"),
    }


def floating_ip_dict(ip: IPAddress) -> dict:
    port = ip.nic
    return {
        "id": ip.id, "address": ip.address, "network": ip.network_id, "user": ip.userid, "project": ip.project or "",
        "port": port.id if port else "", "server": (port.machine_id or "") if port else "",
        "created": ip.created.isoformat(timespec="seconds"),
    }


def connect(write, user: str, network, server_ident, *, wait: bool, timeout: float, **options) -> NetworkInterface:
    """A new port of ``network`` on the server (a NIC add job), as its owner would make it."""
    from synnefo.cyclades.logic import server_admin

    vm = get_server(server_ident)
    if vm.userid != user:
        raise CommandError(f"Server {vm.id} belongs to {vm.userid}, not to {user}")
    refuse_simulated_elsewhere(vm.backend)
    with refusals():
        port = server_nics.connect(user, network, vm.id, **options)
    vm.refresh_from_db()
    write(f"Created port {port.id} on network {network.id}, connecting server {vm.id}: job {vm.task_job_id}")
    if wait:
        with refusals():
            server_admin.wait(vm, vm.task_job_id, write, timeout=timeout)
    return port


def remove(write, port: NetworkInterface, *, wait: bool, timeout: float) -> None:
    """Delete a port; an attached one is disconnected first (a NIC remove job; it goes with it)."""
    from synnefo.cyclades.logic import server_admin

    if port.machine_id is None:
        with refusals():
            ports.delete_port(port)
        write(f"Deleted port {port.id}")
        return
    vm = get_server(port.machine_id)
    refuse_simulated_elsewhere(vm.backend)
    with refusals():
        server_nics.disconnect(port.userid, port)
    vm.refresh_from_db()
    write(f"Port {port.id}: disconnecting from server {vm.id}: job {vm.task_job_id}")
    if wait:
        with refusals():
            server_admin.wait(vm, vm.task_job_id, write, timeout=timeout)
