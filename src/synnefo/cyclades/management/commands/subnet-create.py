from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from synnefo.common.management import print_dict
from synnefo.cyclades.logic import network_backends, networks
from synnefo.cyclades.management.commands._common import parse_bool, refusals
from synnefo.cyclades.management.commands._networks import (get_any_network, parse_allocation_pools, parse_gateway,
                                                            subnet_dict)


class Command(BaseCommand):
    help = ("Add a subnet to a network, as POST /subnets does (one IPv4 and one IPv6 subnet at most per network). "
            "A network waiting for its IPv4 subnet is then created on its backends.")

    def add_arguments(self, parser):
        parser.add_argument("--network", required=True, help="Network id")
        parser.add_argument("--cidr", required=True, help="The subnet, e.g. 10.0.0.0/24 or 2001:db8:1::/64")
        parser.add_argument("--ip-version", type=int, choices=(4, 6), help="4 or 6 (default: the CIDR's)")
        parser.add_argument("--name", default="", help="Name")
        parser.add_argument("--gateway", help="Gateway (default: the first address; 'none' for none)")
        parser.add_argument("--dhcp", default="True", metavar="True|False",
                            help="DHCP (IPv4) or SLAAC (IPv6) served by nfdhcpd (default True)")
        parser.add_argument("--allocation-pool", action="append", default=[], metavar="START,END",
                            help="IPv4 allocation range (repeatable; default: the whole subnet)")
        parser.add_argument("--dns", default="", help="Comma-separated DNS servers")
        parser.add_argument("--host-routes", default="", metavar="DEST=NEXTHOP,...",
                            help="Comma-separated routes, e.g. 192.168.0.0/16=10.0.0.254")

    def handle(self, *args, **o):
        found = get_any_network(o["network"])
        if found.deleted:
            raise CommandError(f"Network {found.id} is deleted")
        dns = [v.strip() for v in o["dns"].split(",") if v.strip()]
        routes = []
        for item in filter(None, (v.strip() for v in o["host_routes"].split(","))):
            destination, sep, nexthop = item.partition("=")
            if not sep or not destination or not nexthop:
                raise CommandError(f"--host-routes takes DEST=NEXTHOP, not '{item}'")
            routes.append({"destination": destination.strip(), "nexthop": nexthop.strip()})
        with refusals(), transaction.atomic():
            network = networks.get_network(None, found.id, for_update=True)
            subnet = networks.create_subnet(
                network, o["cidr"], name=o["name"], ipversion=o["ip_version"], gateway=parse_gateway(o["gateway"]),
                dhcp=parse_bool(o["dhcp"]), allocation_pools=parse_allocation_pools(o["allocation_pool"]) or None,
                dns_nameservers=dns or None, host_routes=routes or None)
            transaction.on_commit(lambda: network_backends.after_commit(network_backends.subnet_added, network.id))
        self.stdout.write(f"Created subnet {subnet.id} of network {network.id}")
        print_dict(self.stdout, subnet_dict(subnet))
