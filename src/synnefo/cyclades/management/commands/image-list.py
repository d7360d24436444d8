from synnefo.common.management import ListCommand
from synnefo.plankton.backend import iso, list_all_images


class Command(ListCommand):
    help = "List the registered images (Plankton) of every user, or of one (--user)."
    FIELDS = {
        "id": (lambda i: i.id, "Image id (the Pithos object's uuid)"),
        "name": (lambda i: i.name, "Name"),
        "owner": (lambda i: i.owner, "Owner's uuid"),
        "status": (lambda i: i.status, "QUEUED, SAVING, AVAILABLE or ERROR"),
        "public": (lambda i: i.is_public, "Readable by everybody"),
        "snapshot": (lambda i: i.is_snapshot, "A snapshot of a volume"),
        "disk_format": (lambda i: i.disk_format, "Disk format"),
        "size": (lambda i: i.size, "Bytes"),
        "location": (lambda i: i.location, "pithos://<owner>/<container>/<path>"),
        "created": (lambda i: iso(i.created_at), "Registered at"),
        "osfamily": (lambda i: i.properties.get("osfamily", ""), "OSFAMILY property"),
    }
    DEFAULT_FIELDS = ("id", "name", "owner", "status", "public", "disk_format", "size", "location")
    FILTERS = {}

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("-u", "--user", help="Only this user's images (id, uuid or email)")
        parser.add_argument("--public", action="store_true", help="Only public images")

    def get_queryset(self, options):
        owner = None
        if options["user"]:
            from synnefo.astakos.management.commands._common import get_user

            owner = str(get_user(options["user"]).uuid)
        # A plain list: images take no --filter-by (FILTERS is empty, so any filter is refused).
        return [i for i in list_all_images(owner) if i.is_public or not options["public"]]
