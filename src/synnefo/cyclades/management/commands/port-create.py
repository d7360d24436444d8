from django.core.management.base import BaseCommand, CommandError

from synnefo.cyclades.logic import networks, ports
from synnefo.cyclades.management.commands._common import add_wait_argument, get_server, parse_bool, refusals, user_uuid
from synnefo.cyclades.management.commands._networks import get_any_network
from synnefo.cyclades.management.commands._ports import connect, get_any_floating_ip, port_dict
from synnefo.common.management import print_dict


class Command(BaseCommand):
    help = ("Create a port (a NIC) on a network for a user, as that user would through the API: on their own "
            "private network, or on a public one with one of their floating IPs there. With --server the port is "
            "connected to that server of theirs (a NIC add job).")

    def add_arguments(self, parser):
        parser.add_argument("--network", help="Network id (default: the floating IP's network)")
        parser.add_argument("--user", help="Owner (id, uuid or email; default: the server's owner)")
        parser.add_argument("--server", help="Connect the port to this server")
        parser.add_argument("--name", default="", help="Port name")
        parser.add_argument("--floating-ip", help="Id of the user's floating IP the port uses (public networks)")
        parser.add_argument("--ipv4-address", help="The address asked for on a private network")
        parser.add_argument("--security-groups", help="Comma-separated security group names")
        add_wait_argument(parser, "the connect job ends (with --server)")

    def handle(self, *args, **o):
        wait = parse_bool(o["wait"])
        vm = get_server(o["server"]) if o["server"] else None
        if o["user"]:
            user = user_uuid(o["user"])
        elif vm is not None:
            user = vm.userid
        else:
            raise CommandError("Give --user (or --server, whose owner gets the port)")
        address = o["ipv4_address"]
        network = get_any_network(o["network"]) if o["network"] else None
        if o["floating_ip"]:
            if address:
                raise CommandError("Give --floating-ip or --ipv4-address, not both")
            ip = get_any_floating_ip(o["floating_ip"])
            if ip.userid != user:
                raise CommandError(f"Floating IP {ip.id} belongs to {ip.userid}, not to {user}")
            if network is not None and network.id != ip.network_id:
                raise CommandError(f"Floating IP {ip.id} is on network {ip.network_id}, not {network.id}")
            network, address = ip.network, ip.address
        if network is None:
            raise CommandError("Give --network (or --floating-ip)")
        groups = [g for g in (o["security_groups"] or "").split(",") if g]
        options = {"name": o["name"], "fixed_ips": [{"ip_address": address}] if address else None,
                   "security_groups": groups or None}
        if vm is not None:
            port = connect(self.stdout.write, user, network, vm.id, wait=wait, timeout=o["wait_timeout"], **options)
        else:
            with refusals():  # the rules of POST /ports
                port = ports.create_port(user, networks.get_network(user, network.id), **options)
            self.stdout.write(f"Created port {port.id} on network {network.id}")
        port.refresh_from_db()
        print_dict(self.stdout, port_dict(port))
