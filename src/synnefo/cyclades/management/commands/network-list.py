from synnefo.common.management import ListCommand
from synnefo.cyclades.logic import networks
from synnefo.cyclades.management.commands._common import user_uuid
from synnefo.cyclades.models import Network


def _cidr(getter):
    return lambda n: (getter(n).cidr if getter(n) else "")


class Command(ListCommand):
    help = "List networks (not deleted ones unless -d)."
    FIELDS = {
        "id": (lambda n: n.id, "Network id"),
        "name": (lambda n: n.name, "Name"),
        "user": (lambda n: n.userid or "", "Owner's uuid (empty: public)"),
        "flavor": (lambda n: n.flavor, "Flavor"),
        "public": (lambda n: n.public, "Public"),
        "state": (lambda n: n.state, "State (PENDING, ACTIVE, ERROR, DELETED)"),
        "mode": (lambda n: n.mode, "Ganeti NIC mode"),
        "link": (lambda n: n.link or "", "Ganeti NIC link"),
        "mac_prefix": (lambda n: n.mac_prefix, "MAC prefix"),
        "subnet": (_cidr(networks.subnet4), "IPv4 subnet"),
        "subnet6": (_cidr(networks.subnet6), "IPv6 subnet"),
        "drained": (lambda n: n.drained, "Takes no new ports"),
        "deleted": (lambda n: n.deleted, "Deleted"),
        "backends": (lambda n: ",".join(str(b.backend_id) for b in n.backend_networks.all()), "Backend ids"),
        "created": (lambda n: n.created.isoformat(timespec="seconds"), "Created at"),
    }
    DEFAULT_FIELDS = ("id", "name", "user", "flavor", "public", "state", "mode", "link", "mac_prefix", "subnet", "subnet6")
    FILTERS = {"id": "id", "name": "name", "user": "userid", "flavor": "flavor", "public": "public", "state": "state",
               "mode": "mode", "link": "link", "mac_prefix": "mac_prefix", "deleted": "deleted", "drained": "drained"}

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("-u", "--user", help="Only this user's networks (id, uuid or email)")
        parser.add_argument("-d", "--deleted", action="store_true", help="Include deleted networks")
        parser.add_argument("--public", action="store_true", help="Only public networks")

    def get_queryset(self, options):
        found = Network.objects.prefetch_related("subnets", "backend_networks").order_by("id")
        if not options["deleted"]:
            found = found.filter(deleted=False)
        if options["user"]:
            found = found.filter(userid=user_uuid(options["user"]))
        if options["public"]:
            found = found.filter(public=True)
        return found
