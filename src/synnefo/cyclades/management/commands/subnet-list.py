from synnefo.common.management import ListCommand
from synnefo.cyclades.management.commands._common import user_uuid
from synnefo.cyclades.management.commands._networks import subnet_dict
from synnefo.cyclades.models import Subnet


def _field(name):
    return lambda s: subnet_dict(s)[name]


class Command(ListCommand):
    help = "List subnets (of live networks unless -d)."
    FIELDS = {
        "id": (lambda s: s.id, "Subnet id"),
        "name": (lambda s: s.name, "Name"),
        "network": (lambda s: s.network_id, "Network id"),
        "user": (lambda s: s.userid or "", "Owner's uuid (empty: public)"),
        "ip_version": (lambda s: s.ipversion, "4 or 6"),
        "cidr": (lambda s: s.cidr, "CIDR"),
        "gateway": (lambda s: s.gateway or "", "Gateway"),
        "dhcp": (lambda s: s.dhcp, "DHCP (IPv4) or SLAAC (IPv6)"),
        "public": (lambda s: s.public, "Of a public network"),
        "allocation_pools": (_field("allocation_pools"), "IPv4 allocation ranges"),
        "dns_nameservers": (_field("dns_nameservers"), "DNS servers"),
        "host_routes": (_field("host_routes"), "Host routes"),
        "created": (lambda s: s.created.isoformat(timespec="seconds"), "Created at"),
    }
    DEFAULT_FIELDS = ("id", "name", "network", "user", "ip_version", "cidr", "gateway", "dhcp", "allocation_pools")
    FILTERS = {"id": "id", "name": "name", "network": "network_id", "user": "userid", "ip_version": "ipversion",
               "cidr": "cidr", "gateway": "gateway", "dhcp": "dhcp", "public": "public"}

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("-u", "--user", help="Only this user's subnets (id, uuid or email)")
        parser.add_argument("--network", type=int, help="Only the subnets of this network id")
        parser.add_argument("-d", "--deleted", action="store_true", help="Include subnets of deleted networks")

    def get_queryset(self, options):
        found = Subnet.objects.prefetch_related("ip_pools").order_by("id")
        if not options["deleted"]:
            found = found.filter(deleted=False, network__deleted=False)
        if options["user"]:
            found = found.filter(userid=user_uuid(options["user"]))
        if options["network"] is not None:
            found = found.filter(network_id=options["network"])
        return found
