from django.core.management.base import BaseCommand

from synnefo.common.management import OUTPUT_FORMATS, print_dict, print_rows
from synnefo.cyclades.logic.pools import IPPool
from synnefo.cyclades.management.commands._networks import get_any_network, network_dict


class Command(BaseCommand):
    help = "Show a network: its fields, its subnets with their IP pools, its ports, and its state on each backend."

    def add_arguments(self, parser):
        parser.add_argument("network_id")
        parser.add_argument("--output-format", choices=OUTPUT_FORMATS, default="table")

    def handle(self, *args, **o):
        network = get_any_network(o["network_id"])
        fmt = o["output_format"]
        print_dict(self.stdout, network_dict(network), fmt)
        rows = []
        for subnet in network.subnets.all():
            for row in subnet.ip_pools.all():
                pool = IPPool(row)
                rows.append([subnet.id, subnet.cidr, f"{pool.index_to_value(0)}-{pool.index_to_value(pool.size - 1)}",
                             row.id, pool.count_available(), pool.size])
            if not subnet.ip_pools.exists():
                rows.append([subnet.id, subnet.cidr, "", "", "", ""])
        self.stdout.write("\nSubnets:")
        print_rows(self.stdout, ["subnet", "cidr", "range", "pool", "free", "size"], rows, fmt)
        self.stdout.write("\nPorts:")
        print_rows(self.stdout, ["port", "user", "server", "mac", "ips"],
                   [[p.id, p.userid, p.machine_id or "", p.mac, ",".join(ip.address for ip in p.ips.all())]
                    for p in network.ports.all()], fmt)
        self.stdout.write("\nBackends:")
        print_rows(self.stdout, ["backend", "operstate", "mac_prefix", "job", "opcode", "status", "message"],
                   [[b.backend_id, b.operstate, b.mac_prefix, b.backendjobid, b.backendopcode, b.backendjobstatus,
                     (b.backendlogmsg or "")[:80]] for b in network.backend_networks.all()], fmt)
