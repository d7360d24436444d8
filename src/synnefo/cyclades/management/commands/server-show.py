from django.core.management.base import BaseCommand

from synnefo.common.management import OUTPUT_FORMATS, print_dict
from synnefo.cyclades.management.commands._common import get_server
from synnefo.cyclades.management.commands._servers import server_details


class Command(BaseCommand):
    help = "Show a server as the database has it: state, task, owner, flavor, image, metadata, diagnostics."

    def add_arguments(self, parser):
        parser.add_argument("server_id")
        parser.add_argument("--output-format", choices=OUTPUT_FORMATS, default="table")

    def handle(self, *args, **o):
        print_dict(self.stdout, server_details(get_server(o["server_id"])), o["output_format"])
