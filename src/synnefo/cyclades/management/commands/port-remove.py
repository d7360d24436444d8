from django.core.management.base import BaseCommand

from synnefo.cyclades.management.commands._common import add_wait_argument, parse_bool
from synnefo.cyclades.management.commands._ports import get_any_port, remove


class Command(BaseCommand):
    help = ("Delete ports: an unattached one at once (its address back to the pool, a floating IP stays its "
            "owner's); an attached one is disconnected from its server (a NIC remove job) and goes when that "
            "succeeds. Every id is checked first.")

    def add_arguments(self, parser):
        parser.add_argument("port_ids", nargs="+", metavar="port_id")
        add_wait_argument(parser, "each disconnect job ends")

    def handle(self, *args, **o):
        wait = parse_bool(o["wait"])
        found = [get_any_port(ident) for ident in o["port_ids"]]
        for port in found:
            remove(self.stdout.write, port, wait=wait, timeout=o["wait_timeout"])
