from django.core.management import CommandError

from synnefo.common.management import ListCommand
from synnefo.cyclades.management.commands._common import user_uuid
from synnefo.cyclades.models import IPAddress, IPAddressHistory


def _server(ip):
    return (ip.nic.machine_id or "") if ip.nic else ""


HISTORY_FIELDS = {
    "id": (lambda h: h.id, "History entry id"),
    "address": (lambda h: h.address, "Address"),
    "server": (lambda h: h.server_id, "Server id"),
    "network": (lambda h: h.network_id, "Network id"),
    "user": (lambda h: h.user_id, "Owner's uuid"),
    "action": (lambda h: h.action, "associate (the server took it) or disassociate (it gave it up)"),
    "date": (lambda h: h.action_date.isoformat(timespec="seconds"), "When"),
    "reason": (lambda h: h.action_reason, "Why"),
}
HISTORY_FILTERS = {"id": "id", "address": "address", "server": "server_id", "network": "network_id", "user": "user_id",
                   "action": "action"}


class Command(ListCommand):
    help = ("List the IP addresses in use: by ports (servers) and held as floating IPs; with --history, "
            "when each address was taken and given up by which server.")
    FIELDS = {
        "id": (lambda ip: ip.id, "Address id (a floating IP's id)"),
        "address": (lambda ip: ip.address, "Address"),
        "ip_version": (lambda ip: ip.ipversion, "4 or 6"),
        "network": (lambda ip: ip.network_id, "Network id"),
        "subnet": (lambda ip: ip.subnet_id, "Subnet id"),
        "port": (lambda ip: ip.nic_id or "", "Port using it (empty: none)"),
        "server": (_server, "Server of that port"),
        "user": (lambda ip: ip.userid, "Owner's uuid"),
        "project": (lambda ip: ip.project or "", "Project"),
        "floating": (lambda ip: ip.floating_ip, "A floating IP"),
        "created": (lambda ip: ip.created.isoformat(timespec="seconds"), "Allocated at"),
    }
    DEFAULT_FIELDS = ("id", "address", "network", "subnet", "port", "server", "user", "floating")
    FILTERS = {"id": "id", "address": "address", "ip_version": "ipversion", "network": "network_id",
               "subnet": "subnet_id", "port": "nic_id", "server": "nic__machine_id", "user": "userid",
               "project": "project", "floating": "floating_ip"}

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--address", help="Only this address")
        parser.add_argument("--server", type=int, help="Only the addresses of this server id")
        parser.add_argument("--network", type=int, help="Only the addresses of this network id")
        parser.add_argument("-u", "--user", help="Only this user's addresses (id, uuid or email)")
        parser.add_argument("--floating", action="store_true", help="Only floating IPs")
        parser.add_argument("--history", action="store_true",
                            help="The address history (associate / disassociate with servers), oldest first")

    def handle(self, *args, **options):
        if options["history"] and options["floating"]:
            raise CommandError("--floating selects current addresses; the history has no such mark")
        if options["history"]:
            self.FIELDS, self.FILTERS = HISTORY_FIELDS, HISTORY_FILTERS
            self.DEFAULT_FIELDS = tuple(HISTORY_FIELDS)
        return super().handle(*args, **options)

    def get_queryset(self, options):
        if options["history"]:
            return self._history(options)
        found = IPAddress.objects.select_related("nic").order_by("id")
        if options["address"]:
            found = found.filter(address=options["address"])
        if options["server"] is not None:
            found = found.filter(nic__machine_id=options["server"])
        if options["network"] is not None:
            found = found.filter(network_id=options["network"])
        if options["user"]:
            found = found.filter(userid=user_uuid(options["user"]))
        if options["floating"]:
            found = found.filter(floating_ip=True)
        return found

    def _history(self, options):
        found = IPAddressHistory.objects.all()
        for key, lookup in (("address", "address"), ("server", "server_id"), ("network", "network_id")):
            if options[key] is not None:
                found = found.filter(**{lookup: options[key]})
        if options["user"]:
            found = found.filter(user_id=user_uuid(options["user"]))
        return found
