from django.core.management.base import BaseCommand, CommandError

from synnefo.cyclades.logic.flavors import FlavorError, create_volume_type


class Command(BaseCommand):
    help = "Create a volume type: a name and the Ganeti disk template of its disks (e.g. drbd, ext_archipelago)."

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True, help="Name users see")
        parser.add_argument("--disk-template", required=True, help="Ganeti disk template (ext_<provider> for ExtStorage)")

    def handle(self, *args, **options):
        try:
            volume_type = create_volume_type(options["name"], options["disk_template"])
        except FlavorError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(f"Created volume type {volume_type.id} ({volume_type.name}, {volume_type.disk_template})")
