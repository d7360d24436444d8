from django.core.management.base import BaseCommand

from synnefo.cyclades.logic.network_reconciliation import reconcile_pools


class Command(BaseCommand):
    help = ("Check the bridge, MAC-prefix and IP pools against what the networks and addresses use: links of "
            "PHYSICAL_VLAN and MAC prefixes of MAC_FILTERED networks must be unique, and each pool's allocation "
            "map must hold exactly the values in use. --fix rewrites the allocation maps (external reservations "
            "are kept).")

    def add_arguments(self, parser):
        parser.add_argument("--fix", action="store_true", help="Rewrite the allocation maps from the values in use")

    def handle(self, *args, **o):
        findings = reconcile_pools(o["fix"])
        for line in findings:
            self.stdout.write(line)
        if not findings:
            self.stdout.write("Pools are in sync")
        elif not o["fix"]:
            self.stdout.write("(report only: --fix rewrites the allocation maps)")
