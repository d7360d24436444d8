from django.core.management.base import BaseCommand, CommandError

from synnefo.astakos.logic import terms


class Command(BaseCommand):
    help = (
        "Add a version of the terms of use from an HTML file (UTF-8). It is in force at once: every "
        "user must accept it at their next web visit. The HTML is stored; the file may change later."
    )

    def add_arguments(self, parser):
        parser.add_argument("html_file", help="The terms as an HTML fragment, e.g. /usr/share/synnefo/terms.html")

    def handle(self, *args, **options):
        try:
            added = terms.add_from_file(options["html_file"])
        except terms.TermsError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Added terms of use version {added.pk} from {added.source}; users must accept them again.")
