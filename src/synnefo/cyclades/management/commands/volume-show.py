from django.core.management.base import BaseCommand, CommandError

from synnefo.common.management import OUTPUT_FORMATS, print_dict
from synnefo.cyclades.logic import lookup
from synnefo.cyclades.models import Volume


class Command(BaseCommand):
    help = "Show a volume (deleted ones too), its metadata and its map in the volume store."

    def add_arguments(self, parser):
        parser.add_argument("volume_id")
        parser.add_argument("--output-format", choices=OUTPUT_FORMATS, default="table")

    def handle(self, *args, **options):
        v = lookup.row(Volume.objects.select_related("volume_type"), options["volume_id"])
        if v is None:
            raise CommandError(f"No volume {options['volume_id']}")
        print_dict(self.stdout, {
            "id": v.id, "name": v.name, "description": v.description, "user": v.userid, "project": v.project,
            "size": v.size, "volume_type": v.volume_type_id, "disk_template": v.volume_type.disk_template,
            "status": v.status, "server": v.machine_id, "index": v.index, "source": v.source, "origin": v.origin,
            "delete_on_termination": v.delete_on_termination, "snapshot_counter": v.snapshot_counter,
            "backendjobid": v.backendjobid, "deleted": v.deleted, "created": v.created, "updated": v.updated,
            "metadata": ", ".join(f"{m.meta_key}={m.meta_value}" for m in v.metadata.order_by("meta_key")),
        }, options["output_format"])
