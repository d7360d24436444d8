from django.core.management.base import BaseCommand

from synnefo.common.management import OUTPUT_FORMATS, print_dict
from synnefo.cyclades.management.commands._ports import floating_ip_dict, get_any_floating_ip


class Command(BaseCommand):
    help = "Show a floating IP: address, network, owner, and the port and server using it."

    def add_arguments(self, parser):
        parser.add_argument("floating_ip_id")
        parser.add_argument("--output-format", choices=OUTPUT_FORMATS, default="table")

    def handle(self, *args, **o):
        print_dict(self.stdout, floating_ip_dict(get_any_floating_ip(o["floating_ip_id"])), o["output_format"])
