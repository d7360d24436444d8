import json

from django.core.management.base import BaseCommand, CommandError

from synnefo.astakos.quotaholder import logic
from synnefo.astakos.quotaholder.models import Commission
from synnefo.common.management import print_rows


class Command(BaseCommand):
    help = "Show a pending commission and its provisions."

    def add_arguments(self, parser):
        parser.add_argument("serial", type=int)
        parser.add_argument("--output-format", choices=["table", "json"], default="table")

    def handle(self, *args, **options):
        try:
            info = logic.commission_info(None, options["serial"])
        except logic.QuotaError as exc:
            raise CommandError(exc.message) from None
        info["issuer"] = Commission.objects.get(serial=info["serial"]).clientkey
        if options["output_format"] == "json":
            self.stdout.write(json.dumps(info, indent=2))
            return
        self.stdout.write(f"serial: {info['serial']}")
        self.stdout.write(f"issuer: {info['issuer']}")
        self.stdout.write(f"name: {info['name']}")
        self.stdout.write(f"issue time: {info['issue_time']}")
        rows = [[p["holder"], p["source"] or "", p["resource"], p["quantity"]] for p in info["provisions"]]
        print_rows(self.stdout, ["holder", "source", "resource", "quantity"], rows)
