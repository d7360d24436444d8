from django.core.management.base import BaseCommand

from synnefo.astakos.management.commands._common import get_user, user_details
from synnefo.common.management import OUTPUT_FORMATS, print_dict


class Command(BaseCommand):
    help = "Show a user's details. USER is a numeric id, a uuid or an email."

    def add_arguments(self, parser):
        parser.add_argument("user")
        parser.add_argument("--output-format", choices=OUTPUT_FORMATS, default="table")

    def handle(self, *args, **options):
        print_dict(self.stdout, user_details(get_user(options["user"])), options["output_format"])
