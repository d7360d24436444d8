from django.core.management.base import BaseCommand

from synnefo.common.management import OUTPUT_FORMATS, print_dict, print_rows
from synnefo.cyclades.management.commands._ports import get_any_port, port_dict


class Command(BaseCommand):
    help = "Show a port: its fields, its addresses, and the Ganeti NIC name of an attached port."

    def add_arguments(self, parser):
        parser.add_argument("port_id")
        parser.add_argument("--output-format", choices=OUTPUT_FORMATS, default="table")

    def handle(self, *args, **o):
        port = get_any_port(o["port_id"])
        print_dict(self.stdout, port_dict(port), o["output_format"])
        self.stdout.write("\nAddresses:")
        print_rows(self.stdout, ["id", "address", "version", "subnet", "floating"],
                   [[ip.id, ip.address, ip.ipversion, ip.subnet_id, ip.floating_ip] for ip in port.ips.all()],
                   o["output_format"])
