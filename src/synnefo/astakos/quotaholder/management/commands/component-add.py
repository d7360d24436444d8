from django.core.management.base import BaseCommand, CommandError

from synnefo.astakos.quotaholder.service_tokens import ComponentError, add_component


class Command(BaseCommand):
    help = "Register a component (service) and print its service token (shown only once)."

    def add_arguments(self, parser):
        parser.add_argument("name", help="Component name, e.g. cyclades or pithos (the origin of its resources)")
        parser.add_argument("--url", default="", help="The component's base/UI URL (informational)")
        parser.add_argument("--expires-days", type=int, help="Token lifetime in days (default: never expires)")

    def handle(self, *args, **options):
        try:
            token, component = add_component(options["name"], options["url"], options["expires_days"])
        except ComponentError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"component: {component.name}")
        self.stdout.write(f"token: {token}")
