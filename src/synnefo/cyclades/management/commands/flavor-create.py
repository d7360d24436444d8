from django.core.management.base import BaseCommand, CommandError

from synnefo.cyclades.logic.flavors import FlavorError, create_flavors


class Command(BaseCommand):
    help = ("Create flavors: every combination of the comma-separated CPU counts, RAM sizes (MiB), "
            "disk sizes (GiB) and volume type ids, e.g. `flavor-create 1,2 1024,2048 20 1`.")

    def add_arguments(self, parser):
        parser.add_argument("cpus", help="CPU counts, e.g. 1,2,4")
        parser.add_argument("ram", help="RAM sizes in MiB, e.g. 1024,2048")
        parser.add_argument("disk", help="Disk sizes in GiB, e.g. 20,40")
        parser.add_argument("volume_type_ids", help="Volume type ids (see volume-type-list), e.g. 1,2")

    def handle(self, *args, **options):
        try:
            created, existing = create_flavors(options["cpus"], options["ram"], options["disk"], options["volume_type_ids"])
        except FlavorError as error:
            raise CommandError(str(error)) from None
        for flavor in created:
            self.stdout.write(f"Created flavor {flavor.id} {flavor.name}")
        for flavor in existing:
            deleted = " (deleted)" if flavor.deleted else ""
            self.stdout.write(f"Flavor {flavor.id} {flavor.name} already exists{deleted}")
