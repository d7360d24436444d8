from django.core.management.base import BaseCommand, CommandError

from synnefo.common.management import OUTPUT_FORMATS, print_dict
from synnefo.cyclades.logic.flavors import FlavorError, get_volume_type


class Command(BaseCommand):
    help = "Show a volume type."

    def add_arguments(self, parser):
        parser.add_argument("volume_type_id")
        parser.add_argument("--output-format", choices=OUTPUT_FORMATS, default="table")

    def handle(self, *args, **options):
        try:
            v = get_volume_type(options["volume_type_id"])
        except FlavorError as error:
            raise CommandError(str(error)) from None
        print_dict(self.stdout, {
            "id": v.id, "name": v.name, "disk_template": v.disk_template, "template": v.template,
            "provider": v.provider, "deleted": v.deleted, "created": v.created,
            "flavors": ",".join(str(f.id) for f in v.flavors.all()),
        }, options["output_format"])
