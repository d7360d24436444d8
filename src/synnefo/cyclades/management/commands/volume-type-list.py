from synnefo.common.management import ListCommand
from synnefo.cyclades.models import VolumeType


class Command(ListCommand):
    help = "List volume types."
    FIELDS = {
        "id": (lambda v: v.id, "Volume type id"),
        "name": (lambda v: v.name, "Name"),
        "disk_template": (lambda v: v.disk_template, "Ganeti disk template"),
        "deleted": (lambda v: v.deleted, "No new flavors or volumes use it"),
        "flavors": (lambda v: v.flavors.count(), "Flavors of this type"),
    }
    DEFAULT_FIELDS = ("id", "name", "disk_template", "deleted")
    FILTERS = {"id": "id", "name": "name", "disk_template": "disk_template", "deleted": "deleted"}

    def get_queryset(self, options):
        return VolumeType.objects.all()
