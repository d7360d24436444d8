from synnefo.common.management import ListCommand
from synnefo.cyclades.logic.servers import api_status
from synnefo.cyclades.management.commands._common import emails_of, get_backend, user_uuid
from synnefo.cyclades.models import VirtualMachine


class Command(ListCommand):
    help = "List servers (not deleted ones unless -d)."
    FIELDS = {
        "id": (lambda vm: vm.id, "Server id"),
        "name": (lambda vm: vm.name, "Name"),
        "user": (lambda vm: vm.userid, "Owner's uuid (email with --display-mails)"),
        "flavor": (lambda vm: vm.flavor.name if vm.flavor else "", "Flavor name"),
        "image": (lambda vm: vm.imageid, "Image id"),
        "backend": (lambda vm: vm.backend_id, "Backend id"),
        "state": (api_status, "API status (ACTIVE, STOPPED, BUILD, ERROR, DELETED, ...)"),
        "operstate": (lambda vm: vm.operstate, "State as the update path last set it"),
        "task": (lambda vm: vm.task or "", "Pending action"),
        "suspended": (lambda vm: vm.suspended, "Suspended by an administrator"),
        "deleted": (lambda vm: vm.deleted, "Deleted"),
        "created": (lambda vm: vm.created.isoformat(timespec="seconds"), "Created at"),
        "updated": (lambda vm: vm.updated.isoformat(timespec="seconds"), "Last changed at"),
        "project": (lambda vm: vm.project, "Project"),
        "jobid": (lambda vm: vm.backendjobid, "Last Ganeti job"),
    }
    DEFAULT_FIELDS = ("id", "name", "user", "flavor", "image", "backend", "state", "operstate", "task", "suspended",
                      "deleted", "created", "updated")
    FILTERS = {"id": "id", "name": "name", "user": "userid", "operstate": "operstate", "backend": "backend_id",
               "flavor": "flavor_id", "image": "imageid", "task": "task", "suspended": "suspended", "deleted": "deleted",
               "project": "project"}

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("-u", "--user", help="Only this user's servers (id, uuid or email)")
        parser.add_argument("-p", "--project", help="Only servers of this project (uuid)")
        parser.add_argument("-d", "--deleted", action="store_true", help="Include deleted servers")
        parser.add_argument("--display-mails", action="store_true", help="Show owners' emails instead of uuids")
        parser.add_argument("--suspended", action="store_true", help="Only suspended servers")
        parser.add_argument("--backend-id", help="Only servers of this backend (id or cluster name)")
        parser.add_argument("--build", action="store_true", help="Only servers in BUILD")
        parser.add_argument("--image-name", help="Only servers of images with this name")

    def handle(self, *args, **options):
        self.FIELDS = dict(self.FIELDS)
        if options["display_mails"]:
            self.FIELDS["user"] = (lambda vm: self.emails.get(vm.userid, vm.userid), self.FIELDS["user"][1])
        return super().handle(*args, **options)

    def get_queryset(self, options):
        found = VirtualMachine.objects.select_related("flavor__volume_type")
        if not options["deleted"]:
            found = found.filter(deleted=False)
        if options["user"]:
            found = found.filter(userid=user_uuid(options["user"]))
        if options["project"]:
            found = found.filter(project=options["project"])
        if options["suspended"]:
            found = found.filter(suspended=True)
        if options["backend_id"]:
            found = found.filter(backend=get_backend(options["backend_id"]))
        if options["build"]:
            found = found.filter(operstate="BUILD")
        if options["image_name"]:
            from synnefo.plankton.backend import list_all_images

            found = found.filter(imageid__in=[i.id for i in list_all_images() if i.name == options["image_name"]])
        if options["display_mails"]:
            self.emails = emails_of(found.values_list("userid", flat=True).distinct())
        return found
