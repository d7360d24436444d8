from django.core.management.base import BaseCommand, CommandError

from synnefo.common.management import OUTPUT_FORMATS, print_dict
from synnefo.cyclades.logic.flavors import FlavorError, get_flavor


class Command(BaseCommand):
    help = "Show a flavor."

    def add_arguments(self, parser):
        parser.add_argument("flavor_id")
        parser.add_argument("--output-format", choices=OUTPUT_FORMATS, default="table")

    def handle(self, *args, **options):
        try:
            f = get_flavor(options["flavor_id"])
        except FlavorError as error:
            raise CommandError(str(error)) from None
        print_dict(self.stdout, {
            "id": f.id, "name": f.name, "cpu": f.cpu, "ram": f.ram, "disk": f.disk,
            "volume_type": f.volume_type_id, "volume_type_name": f.volume_type.name,
            "disk_template": f.volume_type.disk_template, "deleted": f.deleted,
            "allow_create": f.allow_create, "public": f.public, "created": f.created,
        }, options["output_format"])
