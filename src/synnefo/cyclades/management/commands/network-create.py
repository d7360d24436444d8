from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from synnefo.common.management import print_dict
from synnefo.cyclades.logic import network_backends, networks
from synnefo.cyclades.management.commands._common import get_backend, parse_bool, refusals, user_uuid
from synnefo.cyclades.management.commands._networks import network_dict, parse_allocation_pools, parse_gateway
from synnefo.cyclades.models import Network


class Command(BaseCommand):
    help = ("Create a network with its subnets. A public network (--public) has no owner and is created on the "
            "backend given with --backend-id; a private one belongs to --user and is created on every backend "
            "(or lazily, see CYCLADES_LAZY_PRIVATE_NETWORKS). Everything is checked before anything is created.")

    def add_arguments(self, parser):
        parser.add_argument("--name", default="", help="Name")
        parser.add_argument("--user", help="Owner (id, uuid or email); required for private networks")
        parser.add_argument("--project", help="Project uuid (default: the owner's)")
        parser.add_argument("--flavor", required=True, choices=Network.FLAVORS, help="Network flavor (how traffic is isolated)")
        parser.add_argument("--public", action="store_true", help="A public network (needs --backend-id)")
        parser.add_argument("--subnet", help="IPv4 subnet, e.g. 10.0.0.0/24")
        parser.add_argument("--gateway", help="IPv4 gateway (default: the subnet's first address; 'none' for none)")
        parser.add_argument("--subnet6", help="IPv6 subnet, a /64")
        parser.add_argument("--gateway6", help="IPv6 gateway")
        parser.add_argument("--dhcp", default="True", metavar="True|False", help="Serve addresses by DHCP (default True)")
        parser.add_argument("--allocation-pool", action="append", default=[], metavar="START,END",
                            help="IPv4 allocation range (repeatable; default: the whole subnet)")
        parser.add_argument("--mode", choices=networks.MODES, help="Ganeti NIC mode (default: the flavor's)")
        parser.add_argument("--link", help="Ganeti NIC link (default: the flavor's; not for PHYSICAL_VLAN)")
        parser.add_argument("--mac-prefix", help="MAC prefix, e.g. aa:00:1 (default: the flavor's; not for MAC_FILTERED)")
        parser.add_argument("--tags", help="Comma-separated Ganeti tags instead of the flavor's")
        parser.add_argument("--backend-id", action="append", default=[], metavar="BACKEND",
                            help="Create it on this backend (id or cluster name; repeatable). Required with --public")
        parser.add_argument("--floating-ip-pool", default="False", metavar="True|False",
                            help="Users may take floating IPs from it (public networks)")
        parser.add_argument("--drained", default="False", metavar="True|False", help="Takes no new ports")

    def handle(self, *args, **o):
        public = o["public"]
        if public and not o["backend_id"]:
            raise CommandError("A public network needs --backend-id")
        if not public and not o["user"]:
            raise CommandError("A private network needs --user")
        if not o["subnet"] and (o["gateway"] or o["allocation_pool"]):
            raise CommandError("--gateway and --allocation-pool need --subnet")
        owner = user_uuid(o["user"]) if o["user"] else None
        backends = [get_backend(b) for b in o["backend_id"]] if o["backend_id"] else None
        pools_in = parse_allocation_pools(o["allocation_pool"])
        gateway = parse_gateway(o["gateway"])
        tags = [t.strip() for t in o["tags"].split(",") if t.strip()] if o["tags"] is not None else None
        with refusals(), transaction.atomic():
            network = networks.create_network(
                name=o["name"], userid=owner, flavor=o["flavor"], public=public, project=o["project"], mode=o["mode"],
                link=o["link"], mac_prefix=o["mac_prefix"], tags=tags, floating_ip_pool=parse_bool(o["floating_ip_pool"]),
                drained=parse_bool(o["drained"]), force_quota=True)
            if o["subnet"]:
                networks.create_subnet(network, o["subnet"], ipversion=4, gateway=gateway, dhcp=parse_bool(o["dhcp"]),
                                       allocation_pools=pools_in or None)
            if o["subnet6"]:
                networks.create_subnet(network, o["subnet6"], ipversion=6, gateway=o["gateway6"],
                                       dhcp=parse_bool(o["dhcp"]))
            network_backends.plan(network, backends)
        network.refresh_from_db()
        self.stdout.write(f"Created network {network.id} ({network.backend_id} on Ganeti)")
        print_dict(self.stdout, network_dict(network))
