from django.core.management.base import BaseCommand, CommandError

from synnefo.cyclades.logic import networks
from synnefo.cyclades.management.commands._common import refusals
from synnefo.cyclades.management.commands._networks import get_any_subnet


class Command(BaseCommand):
    help = ("Rename a subnet. As in the API, only the name changes: the addresses of a subnet in use are fixed "
            "(change the allocation with network-modify --add/--remove-reserved-ips).")

    def add_arguments(self, parser):
        parser.add_argument("subnet_id")
        parser.add_argument("--name", help="New name")

    def handle(self, *args, **o):
        subnet = get_any_subnet(o["subnet_id"])
        if o["name"] is None:
            raise CommandError("Nothing to do; see --help")
        with refusals():
            subnet.name = networks._check_name(o["name"])
        subnet.save(update_fields=["name", "updated"])
        self.stdout.write(f"Modified subnet {subnet.id}")
