from django.core.management.base import BaseCommand, CommandError

from synnefo.cyclades.management.commands._common import add_wait_argument, parse_bool
from synnefo.cyclades.management.commands._ports import connect, get_any_floating_ip


class Command(BaseCommand):
    help = ("Attach a free floating IP to a server of its owner: a new port on the floating IP's network with "
            "that address, connected by a NIC add job.")

    def add_arguments(self, parser):
        parser.add_argument("floating_ip_id")
        parser.add_argument("--server", required=True, help="Server id (the floating IP's owner's)")
        add_wait_argument(parser, "the connect job ends")

    def handle(self, *args, **o):
        ip = get_any_floating_ip(o["floating_ip_id"])
        if ip.nic_id is not None:
            raise CommandError(f"Floating IP {ip.id} is already attached to port {ip.nic_id}")
        connect(self.stdout.write, ip.userid, ip.network, o["server"], wait=parse_bool(o["wait"]),
                timeout=o["wait_timeout"], fixed_ips=[{"ip_address": ip.address}])
