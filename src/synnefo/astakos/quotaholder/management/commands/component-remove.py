from django.core.management.base import BaseCommand

from synnefo.astakos.quotaholder.management.commands._common import get_component


class Command(BaseCommand):
    help = "Remove a component: its service token stops working at once (resources stay)."

    def add_arguments(self, parser):
        parser.add_argument("name")

    def handle(self, *args, **options):
        component = get_component(options["name"])
        component.delete()
        self.stdout.write(f"Removed component {options['name']}")
