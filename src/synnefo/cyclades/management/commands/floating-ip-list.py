from synnefo.common.management import ListCommand
from synnefo.cyclades.management.commands._common import user_uuid
from synnefo.cyclades.models import IPAddress


class Command(ListCommand):
    help = "List floating IPs."
    FIELDS = {
        "id": (lambda ip: ip.id, "Floating IP id"),
        "address": (lambda ip: ip.address, "Address"),
        "network": (lambda ip: ip.network_id, "Network id"),
        "user": (lambda ip: ip.userid, "Owner's uuid"),
        "project": (lambda ip: ip.project or "", "Project charged"),
        "port": (lambda ip: ip.nic_id or "", "Port using it (empty: free)"),
        "server": (lambda ip: (ip.nic.machine_id or "") if ip.nic else "", "Server using it"),
        "created": (lambda ip: ip.created.isoformat(timespec="seconds"), "Allocated at"),
    }
    DEFAULT_FIELDS = ("id", "address", "network", "user", "project", "port", "server")
    FILTERS = {"id": "id", "address": "address", "network": "network_id", "user": "userid", "project": "project",
               "port": "nic_id"}

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("-u", "--user", help="Only this user's floating IPs (id, uuid or email)")

    def get_queryset(self, options):
        found = IPAddress.objects.filter(floating_ip=True).select_related("nic").order_by("id")
        if options["user"]:
            found = found.filter(userid=user_uuid(options["user"]))
        return found
