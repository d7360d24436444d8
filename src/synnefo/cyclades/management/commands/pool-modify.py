from django.core.management.base import BaseCommand, CommandError

from synnefo.cyclades.logic import pools
from synnefo.cyclades.management.commands._pools import add_type_argument, pool_errors


class Command(BaseCommand):
    help = ("Change a pool in one transaction: reserve values externally (--add-reserved), release external "
            "reservations (--remove-reserved), grow or shrink it (--size; shrinking refuses while any dropped "
            "value is allocated). On any error nothing changes.")

    def add_arguments(self, parser):
        parser.add_argument("pool_id")
        add_type_argument(parser)
        parser.add_argument("--add-reserved", default="", help="Comma-separated values to reserve externally")
        parser.add_argument("--remove-reserved", default="", help="Comma-separated values to release from external reservation")
        parser.add_argument("--size", type=int, help="New size")

    def handle(self, *args, **options):
        add = [v.strip() for v in options["add_reserved"].split(",") if v.strip()]
        remove = [v.strip() for v in options["remove_reserved"].split(",") if v.strip()]
        if not (add or remove or options["size"] is not None):
            raise CommandError("Nothing to do: give --add-reserved, --remove-reserved or --size")
        with pool_errors(), pools.locked(options["pool_type"], options["pool_id"]) as pool:
            for value in add:
                pool.reserve(value)
            for value in remove:
                pool.put(value, external=True)
            if options["size"] is not None:
                pool.resize(options["size"])
        self.stdout.write(f"{pool.kind} pool {pool.row.id}: size {pool.size}, {pool.count_available()} free, "
                          f"{pool.count_reserved()} reserved externally")
