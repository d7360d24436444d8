from django.core.management.base import BaseCommand

from synnefo.common.components import COMPONENTS
from synnefo.common.management import OUTPUT_FORMATS, print_rows


class Command(BaseCommand):
    help = "List the services of the catalog, with their public URLs."

    def add_arguments(self, parser):
        parser.add_argument("--output-format", choices=OUTPUT_FORMATS, default="table")
        parser.add_argument("--no-headers", action="store_true")

    def handle(self, *args, **options):
        rows = []
        for component in COMPONENTS.values():
            base = component.base_url(None)
            for service in component.services:
                rows.append([component.name, service.name, service.type, service.version, f"{base}/{service.path}"])
        headers = ["component", "name", "type", "version", "url"]
        print_rows(self.stdout, headers, rows, options["output_format"], options["no_headers"])
