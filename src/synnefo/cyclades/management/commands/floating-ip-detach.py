from django.core.management.base import BaseCommand, CommandError

from synnefo.cyclades.management.commands._common import add_wait_argument, parse_bool
from synnefo.cyclades.management.commands._ports import get_any_floating_ip, remove


class Command(BaseCommand):
    help = ("Detach a floating IP: the port using it is deleted (disconnected from its server first, by a NIC "
            "remove job); the floating IP stays its owner's.")

    def add_arguments(self, parser):
        parser.add_argument("floating_ip_id")
        add_wait_argument(parser, "the disconnect job ends")

    def handle(self, *args, **o):
        ip = get_any_floating_ip(o["floating_ip_id"])
        if ip.nic is None:
            raise CommandError(f"Floating IP {ip.id} is not attached")
        remove(self.stdout.write, ip.nic, wait=parse_bool(o["wait"]), timeout=o["wait_timeout"])
