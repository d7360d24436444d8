from django.core.management.base import BaseCommand, CommandError

from synnefo.cyclades.logic.flavors import FlavorError, get_volume_type
from synnefo.cyclades.management.commands._common import parse_bool


class Command(BaseCommand):
    help = "Rename a volume type or mark it deleted (no new flavors or volumes of it)."

    def add_arguments(self, parser):
        parser.add_argument("volume_type_id")
        parser.add_argument("--name")
        parser.add_argument("--deleted", help="True or False")

    def handle(self, *args, **options):
        try:
            volume_type = get_volume_type(options["volume_type_id"])
        except FlavorError as error:
            raise CommandError(str(error)) from None
        if options["name"] is not None:
            if not options["name"].strip() or len(options["name"]) > 255:
                raise CommandError("A volume type needs a name of 1 to 255 characters")
            volume_type.name = options["name"].strip()
        if options["deleted"] is not None:
            volume_type.deleted = parse_bool(options["deleted"])
        volume_type.save()
        self.stdout.write(f"Volume type {volume_type.id}: name {volume_type.name}, deleted {volume_type.deleted}")
