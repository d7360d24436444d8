from synnefo.common.management import ListCommand
from synnefo.cyclades.models import Volume


class Command(ListCommand):
    help = "List volumes (of every user)."
    FIELDS = {
        "id": (lambda v: v.id, "Volume id"),
        "name": (lambda v: v.name, "Name the user gave"),
        "user": (lambda v: v.userid, "Owner (user uuid)"),
        "size": (lambda v: v.size, "Size (GiB)"),
        "volume_type": (lambda v: v.volume_type_id, "Volume type id"),
        "disk_template": (lambda v: v.volume_type.disk_template, "Ganeti disk template"),
        "status": (lambda v: v.status, "CREATING, AVAILABLE, IN_USE, ..."),
        "server": (lambda v: v.machine_id, "Server it is attached to"),
        "index": (lambda v: v.index, "Disk index on the server (0: root)"),
        "source": (lambda v: v.source, "image:<id>, snapshot:<id> or blank"),
        "origin": (lambda v: v.origin, "Map in the volume store"),
        "deleted": (lambda v: v.deleted, "Deleted"),
    }
    DEFAULT_FIELDS = ("id", "name", "user", "size", "disk_template", "status", "server", "index", "source")
    FILTERS = {"id": "id", "user": "userid", "status": "status", "server": "machine_id", "size": "size",
               "volume_type": "volume_type_id", "disk_template": "volume_type__disk_template", "deleted": "deleted"}

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("-d", "--deleted", action="store_true", help="Include deleted volumes")

    def get_queryset(self, options):
        volumes = Volume.objects.select_related("volume_type")
        return volumes if options["deleted"] else volumes.filter(deleted=False)
