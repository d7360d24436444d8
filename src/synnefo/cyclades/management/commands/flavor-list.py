from synnefo.common.management import ListCommand
from synnefo.cyclades.models import Flavor


class Command(ListCommand):
    help = "List flavors."
    FIELDS = {
        "id": (lambda f: f.id, "Flavor id"),
        "name": (lambda f: f.name, "C<cpu>R<ram>D<disk><disk template>"),
        "cpu": (lambda f: f.cpu, "CPUs"),
        "ram": (lambda f: f.ram, "RAM (MiB)"),
        "disk": (lambda f: f.disk, "Disk (GiB)"),
        "volume_type": (lambda f: f.volume_type_id, "Volume type id"),
        "disk_template": (lambda f: f.volume_type.disk_template, "Ganeti disk template"),
        "deleted": (lambda f: f.deleted, "Hidden, unusable for new servers"),
        "allow_create": (lambda f: f.allow_create, "Usable to create servers (else only to resize)"),
        "public": (lambda f: f.public, "Visible to every user"),
    }
    DEFAULT_FIELDS = ("id", "name", "cpu", "ram", "disk", "volume_type", "disk_template", "deleted", "allow_create", "public")
    FILTERS = {"id": "id", "cpu": "cpu", "ram": "ram", "disk": "disk", "volume_type": "volume_type_id",
               "disk_template": "volume_type__disk_template", "deleted": "deleted", "allow_create": "allow_create",
               "public": "public"}

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("-d", "--deleted", action="store_true", help="Include deleted flavors")

    def get_queryset(self, options):
        flavors = Flavor.objects.select_related("volume_type")
        return flavors if options["deleted"] else flavors.filter(deleted=False)
