from django.core.management.base import BaseCommand, CommandError

from synnefo.common import faults
from synnefo.common.management import OUTPUT_FORMATS, print_dict
from synnefo.plankton.backend import any_image, iso


class Command(BaseCommand):
    help = "Show a registered image (Plankton): its metadata, properties, file and who may read it."

    def add_arguments(self, parser):
        parser.add_argument("image_id")
        parser.add_argument("--output-format", choices=OUTPUT_FORMATS, default="table")

    def handle(self, *args, **options):
        try:
            image = any_image(options["image_id"])
        except faults.Fault as fault:
            raise CommandError(fault.message) from None
        data = {
            "id": image.id, "name": image.name, "owner": image.owner, "status": image.status,
            "disk_format": image.disk_format, "container_format": image.container_format,
            "size": image.size, "checksum": image.checksum, "location": image.location,
            "public": image.is_public, "members": ",".join(image.members), "snapshot": image.is_snapshot,
            "description": image.description, "created": iso(image.created_at), "updated": iso(image.updated_at),
        }
        data.update({f"property:{k}": v for k, v in sorted(image.properties.items())})
        print_dict(self.stdout, data, options["output_format"])
