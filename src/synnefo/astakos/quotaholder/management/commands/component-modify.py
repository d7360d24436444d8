from django.core.management.base import BaseCommand, CommandError

from synnefo.astakos.quotaholder.management.commands._common import get_component
from synnefo.astakos.quotaholder.service_tokens import renew_token


class Command(BaseCommand):
    help = "Change a component's URL or renew its service token (the old one stops working)."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--url", help="New base/UI URL")
        parser.add_argument("--renew-token", action="store_true", help="Issue a new token and print it")
        parser.add_argument("--expires-days", type=int, help="With --renew-token: lifetime in days (default never)")

    def handle(self, *args, **options):
        component = get_component(options["name"])
        if options["url"] is None and not options["renew_token"]:
            raise CommandError("Nothing to do: give --url and/or --renew-token")
        if options["url"] is not None:
            component.url = options["url"]
            component.save(update_fields=["url"])
            self.stdout.write(f"url: {component.url}")
        if options["renew_token"]:
            self.stdout.write(f"token: {renew_token(component, options['expires_days'])}")
