from django.core.management.base import BaseCommand, CommandError

from synnefo.cyclades.logic.flavors import FlavorError, get_flavor
from synnefo.cyclades.management.commands._common import parse_bool


class Command(BaseCommand):
    help = "Change whether a flavor is deleted, usable to create servers, or public."

    def add_arguments(self, parser):
        parser.add_argument("flavor_id")
        parser.add_argument("--deleted", help="True or False")
        parser.add_argument("--allow-create", dest="allow_create", help="True or False")
        parser.add_argument("--public", help="True or False")

    def handle(self, *args, **options):
        try:
            flavor = get_flavor(options["flavor_id"])
        except FlavorError as error:
            raise CommandError(str(error)) from None
        changes = {k: parse_bool(options[k]) for k in ("deleted", "allow_create", "public") if options[k] is not None}
        if not changes:
            raise CommandError("Nothing to change: give --deleted, --allow-create or --public")
        for field, value in changes.items():
            setattr(flavor, field, value)
        flavor.save(update_fields=list(changes))
        self.stdout.write(f"Flavor {flavor.id} {flavor.name}: " + ", ".join(f"{k} {v}" for k, v in changes.items()))
