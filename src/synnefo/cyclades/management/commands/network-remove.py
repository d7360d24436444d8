from django.core.management.base import BaseCommand, CommandError

from synnefo.cyclades.logic import networks
from synnefo.cyclades.management.commands._common import refusals
from synnefo.cyclades.management.commands._networks import get_any_network


class Command(BaseCommand):
    help = ("Delete networks: their pooled link / MAC prefix and quota return at once, and they are removed from "
            "every backend (disconnect, then remove). Refused while ports or floating IPs use one; every id is "
            "checked first.")

    def add_arguments(self, parser):
        parser.add_argument("network_ids", nargs="+")

    def handle(self, *args, **o):
        found = [get_any_network(i) for i in o["network_ids"]]
        for network in found:
            if network.deleted:
                raise CommandError(f"Network {network.id} is already deleted")
            if network.ports.exists():
                raise CommandError(f"Network {network.id} is in use by {network.ports.count()} ports")
        for network in found:
            with refusals():
                networks.delete_network(network)
            self.stdout.write(f"Deleted network {network.id}")
