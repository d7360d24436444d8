from django.core.management.base import BaseCommand

from synnefo.cyclades.logic import pools
from synnefo.cyclades.management.commands._pools import add_type_argument, pool_errors


class Command(BaseCommand):
    help = ("Create the bridge pool (PHYSICAL_VLAN links: --base=prv --size=20 gives prv1..prv20) or the "
            "MAC-prefix pool (MAC_FILTERED networks: --base=aa:00:0 --size=65536). There is one of each; "
            "IP pools come with subnets.")

    def add_arguments(self, parser):
        add_type_argument(parser, ("bridge", "mac-prefix"))
        parser.add_argument("--base", required=True, help="Bridge name prefix (e.g. prv) or first MAC prefix (e.g. aa:00:0)")
        parser.add_argument("--size", type=int, required=True, help="Number of values")
        parser.add_argument("--offset", type=int, default=0, help="Stored with the pool (kept for upstream's option; default 0)")

    def handle(self, *args, **options):
        with pool_errors():
            pool = pools.create_pool(options["pool_type"], options["base"], options["size"], options["offset"])
        self.stdout.write(f"Created {pool.kind} pool {pool.row.id}: {pool.index_to_value(0)}..{pool.index_to_value(pool.size - 1)}, "
                          f"{pool.count_available()} of {pool.size} free")
