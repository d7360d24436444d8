from django.core.management.base import BaseCommand

from synnefo.common.management import OUTPUT_FORMATS, print_dict, print_rows
from synnefo.cyclades.logic.pools import IPPool
from synnefo.cyclades.management.commands._networks import get_any_subnet, subnet_dict


class Command(BaseCommand):
    help = "Show a subnet: its fields, its IP pools (range, free, reserved externally) and the addresses in use."

    def add_arguments(self, parser):
        parser.add_argument("subnet_id")
        parser.add_argument("--output-format", choices=OUTPUT_FORMATS, default="table")

    def handle(self, *args, **o):
        subnet = get_any_subnet(o["subnet_id"])
        fmt = o["output_format"]
        print_dict(self.stdout, subnet_dict(subnet), fmt)
        self.stdout.write("\nIP pools:")
        rows = []
        for row in subnet.ip_pools.order_by("id"):
            pool = IPPool(row)
            rows.append([row.id, pool.index_to_value(0), pool.index_to_value(pool.size - 1), pool.size,
                         pool.count_available(), pool.count_reserved()])
        print_rows(self.stdout, ["pool", "first", "last", "size", "free", "reserved"], rows, fmt)
        self.stdout.write("\nAddresses in use:")
        print_rows(self.stdout, ["address", "port", "server", "user", "floating"],
                   [[ip.address, ip.nic_id or "", (ip.nic.machine_id or "") if ip.nic else "", ip.userid, ip.floating_ip]
                    for ip in subnet.ips.select_related("nic").order_by("id")], fmt)
