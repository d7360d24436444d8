from django.core.management.base import BaseCommand, CommandError

from synnefo.cyclades.logic import floating_ips
from synnefo.cyclades.management.commands._common import refusals
from synnefo.cyclades.management.commands._ports import get_any_floating_ip


class Command(BaseCommand):
    help = ("Release floating IPs: the address goes back to the pool and the owner's cyclades.floating_ip "
            "quota back. Refused while attached (floating-ip-detach first); every id is checked first.")

    def add_arguments(self, parser):
        parser.add_argument("floating_ip_ids", nargs="+", metavar="floating_ip_id")

    def handle(self, *args, **o):
        found = [get_any_floating_ip(ident) for ident in o["floating_ip_ids"]]
        for ip in found:
            if ip.nic_id is not None:
                raise CommandError(f"Floating IP {ip.id} is attached to port {ip.nic_id}; floating-ip-detach it first")
        for ip in found:
            with refusals():
                floating_ips.release(ip)
            self.stdout.write(f"Released floating IP {ip.id} ({ip.address})")
