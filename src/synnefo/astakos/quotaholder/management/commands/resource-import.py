import sys

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from synnefo.astakos.quotaholder.models import Resource
from synnefo.astakos.quotaholder.resources import BUILTIN, ResourceError, load_definitions, register


class Command(BaseCommand):
    help = (
        "Register resources of a service from a JSON file ({name: {service_origin, unit, "
        "description, uplimit, ...}} or a list of such objects with 'name'); '-' reads stdin. "
        "New resources are created; existing ones get their descriptive fields updated but keep "
        "their limits. --builtin re-registers the bundled services' resources."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", nargs="?", help="JSON file, or - for stdin")
        parser.add_argument("--builtin", action="store_true", help="Register the bundled services' resources")

    def handle(self, *args, **options):
        if options["builtin"]:
            definitions = BUILTIN
        elif options["file"]:
            try:
                text = sys.stdin.read() if options["file"] == "-" else open(options["file"]).read()
            except OSError as exc:
                raise CommandError(f"Cannot read {options['file']}: {exc}") from None
            try:
                definitions = load_definitions(text)
            except ResourceError as exc:
                raise CommandError(str(exc)) from None
        else:
            raise CommandError("Give a JSON file (or -) or --builtin")
        try:
            with transaction.atomic():  # all or nothing
                created, updated = register(Resource, definitions)
        except ResourceError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"created: {', '.join(created) or '-'}")
        self.stdout.write(f"updated: {', '.join(updated) or '-'}")
