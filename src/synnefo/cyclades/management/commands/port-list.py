from synnefo.common.management import ListCommand
from synnefo.cyclades.management.commands._common import user_uuid
from synnefo.cyclades.models import NetworkInterface


def _ips(port, floating=None):
    return ",".join(ip.address for ip in port.ips.all() if floating is None or ip.floating_ip == floating)


class Command(ListCommand):
    help = "List ports (NICs on networks)."
    FIELDS = {
        "id": (lambda p: p.id, "Port id"),
        "name": (lambda p: p.name, "Name"),
        "user": (lambda p: p.userid, "Owner's uuid"),
        "network": (lambda p: p.network_id, "Network id"),
        "server": (lambda p: p.machine_id or "", "Server id (empty: not attached)"),
        "state": (lambda p: p.state, "State (BUILD, ACTIVE, DOWN)"),
        "mac": (lambda p: p.mac, "MAC address"),
        "ips": (_ips, "Addresses"),
        "floating_ips": (lambda p: _ips(p, True), "Floating IP addresses"),
        "device_owner": (lambda p: p.device_owner, "Device owner"),
        "created": (lambda p: p.created.isoformat(timespec="seconds"), "Created at"),
    }
    DEFAULT_FIELDS = ("id", "name", "user", "network", "server", "state", "mac", "ips")
    FILTERS = {"id": "id", "name": "name", "user": "userid", "network": "network_id", "server": "machine_id",
               "state": "state", "mac": "mac"}

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("-u", "--user", help="Only this user's ports (id, uuid or email)")
        parser.add_argument("--network", help="Only ports of this network id")
        parser.add_argument("--server", help="Only ports of this server id")

    def get_queryset(self, options):
        found = NetworkInterface.objects.prefetch_related("ips").order_by("id")
        if options["user"]:
            found = found.filter(userid=user_uuid(options["user"]))
        for key, lookup in (("network", "network_id"), ("server", "machine_id")):
            if options[key]:
                found = found.filter(**{lookup: _id(options[key], key)})
        return found


def _id(value, what):
    from django.core.management.base import CommandError

    try:
        return int(value)
    except ValueError:
        raise CommandError(f"--{what} takes a numeric id, not '{value}'") from None
