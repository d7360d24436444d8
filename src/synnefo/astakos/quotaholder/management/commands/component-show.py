from django.core.management.base import BaseCommand

from synnefo.astakos.quotaholder.management.commands._common import get_component
from synnefo.astakos.quotaholder.models import Resource
from synnefo.common.management import OUTPUT_FORMATS, print_dict


class Command(BaseCommand):
    help = "Show a component (never its token: only its digest is stored)."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--output-format", choices=OUTPUT_FORMATS, default="table")

    def handle(self, *args, **options):
        c = get_component(options["name"])
        print_dict(self.stdout, {
            "id": c.pk,
            "name": c.name,
            "url": c.url,
            "token created": c.token_created,
            "token expires": c.token_expires or "never",
            "resources": ", ".join(Resource.objects.filter(service_origin=c.name).values_list("name", flat=True)),
        }, options["output_format"])
