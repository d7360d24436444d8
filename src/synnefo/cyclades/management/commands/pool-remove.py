from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from synnefo.cyclades.logic import pools
from synnefo.cyclades.management.commands._pools import add_type_argument, pool_errors


class Command(BaseCommand):
    help = "Remove the bridge or MAC-prefix pool; refused while any of its values is allocated (IP pools go with their subnet)."

    def add_arguments(self, parser):
        parser.add_argument("pool_id")
        add_type_argument(parser, ("bridge", "mac-prefix"))

    def handle(self, *args, **options):
        with pool_errors(), transaction.atomic():
            row = pools.get_row(options["pool_type"], options["pool_id"], lock=True)
            pool = pools.pool_class(options["pool_type"])[1](row)
            allocated = pool.size - pool.available.bit_count()
            if allocated:
                raise CommandError(f"{pool.kind} pool {row.id} has {allocated} values in use: {', '.join(pool.values(pool.available, 5))}...")
            row.delete()
        self.stdout.write(f"Removed {options['pool_type']} pool {options['pool_id']}")
