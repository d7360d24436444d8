from django.core.management.base import BaseCommand

from synnefo.common.management import print_dict
from synnefo.cyclades.logic import pools
from synnefo.cyclades.management.commands._pools import add_type_argument, pool_errors


class Command(BaseCommand):
    help = ("Show a pool: its figures and its maps, one character per value ('.' free, 'X' taken), "
            "64 per line after the first index: the allocation map, the external-reservation map and both combined.")

    def add_arguments(self, parser):
        parser.add_argument("pool_id")
        add_type_argument(parser)
        parser.add_argument("--no-maps", action="store_true", help="Only the figures, not the maps")

    def handle(self, *args, **options):
        with pool_errors():
            pool = pools.load(options["pool_type"], options["pool_id"])
        print_dict(self.stdout, {
            "id": pool.row.id, "type": pool.kind, "base": pool.row.base, "offset": pool.row.offset, "size": pool.size,
            "first": pool.index_to_value(0), "last": pool.index_to_value(pool.size - 1),
            "free": pool.count_available(), "allocated": pool.size - pool.available.bit_count(),
            "reserved externally": pool.count_reserved(),
        })
        if options["no_maps"]:
            return
        for title, bits in (("Allocation map", pool.available), ("External-reservation map", pool.reserved),
                            ("Combined map", pool.available & pool.reserved)):
            self.stdout.write(f"\n{title}:")
            for line in pool.to_map(bits):
                self.stdout.write(line)
