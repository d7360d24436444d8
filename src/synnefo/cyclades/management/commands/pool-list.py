from django.core.management.base import BaseCommand

from synnefo.common.management import OUTPUT_FORMATS, print_rows
from synnefo.cyclades.logic import pools
from synnefo.cyclades.management.commands._pools import TYPES, add_type_argument


class Command(BaseCommand):
    help = "List the pools (bridge, mac-prefix and the IP pools of subnets) with their use."

    def add_arguments(self, parser):
        add_type_argument(parser, TYPES, required=False)
        parser.add_argument("--output-format", choices=OUTPUT_FORMATS, default="table")
        parser.add_argument("--no-headers", action="store_true")

    def handle(self, *args, **options):
        rows = []
        for kind in [options["pool_type"]] if options["pool_type"] else TYPES:
            table, cls = pools.pool_class(kind)
            for row in table.objects.order_by("id"):
                pool = cls(row)
                subnet = getattr(row, "subnet_id", None)
                rows.append([row.id, kind, row.base, row.offset, pool.size, pool.count_available(),
                             pool.count_reserved(), subnet])
        print_rows(self.stdout, ["id", "type", "base", "offset", "size", "free", "reserved", "subnet"], rows,
                   options["output_format"], options["no_headers"])
