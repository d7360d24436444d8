from django.core.management.base import BaseCommand, CommandError

from synnefo.cyclades.logic.network_reconciliation import KINDS, reconcile
from synnefo.cyclades.management.commands._common import get_backend
from synnefo.cyclades.models import Backend

TITLES = {
    "orphan": "Orphan Ganeti networks",
    "parted": "Ganeti networks without a database row",
    "missing": "Networks missing from Ganeti",
    "hanging": "Networks not connected to every node group",
    "unsynced": "Unsynced states",
    "reservations": "Ganeti reservations missing from the IP pools",
}

OPTION = {"orphan": "orphans", "parted": "parted", "missing": "missing", "hanging": "hanging", "unsynced": "unsynced",
          "reservations": "reservations"}


class Command(BaseCommand):
    help = ("Compare networks in the database with the Ganeti backends and report the differences; "
            "--fix-all (or a --fix-* option) repairs them (docs/networks.md).")

    def add_arguments(self, parser):
        parser.add_argument("--backend-id", help="Only this backend (id or cluster name); default: every online backend")
        parser.add_argument("--fix-all", action="store_true", help="Apply every fix below")
        for kind in KINDS:
            parser.add_argument(f"--fix-{OPTION[kind]}", dest=f"fix_{kind}", action="store_true",
                                help=f"Repair: {TITLES[kind].lower()}")

    def handle(self, *args, **o):
        fix = [k for k in KINDS if o["fix_all"] or o[f"fix_{k}"]]
        backends = [get_backend(o["backend_id"])] if o["backend_id"] else list(Backend.objects.filter(offline=False))
        if not backends:
            self.stdout.write("No online backends.")
            return
        errors = 0
        for report in reconcile(backends, fix):
            self.stdout.write(f"== Backend {report.backend} ({report.clustername})")
            if not report.findings and not report.errors:
                self.stdout.write("   in sync")
            for kind in KINDS:
                findings = report.of(kind)
                if findings:
                    self.stdout.write(f"   {TITLES[kind]}: {len(findings)}")
                for f in findings:
                    line = f"     - {f.network}: {f.detail}"
                    if f.outcome:
                        line += f" -> {'FIXED (' + f.outcome + ')' if f.fixed else f.outcome}"
                    self.stdout.write(line)
            for error in report.errors:
                self.stderr.write(f"   ERROR backend {report.backend}: {error}")
            errors += len(report.errors)
            if report.findings and not fix:
                self.stdout.write("   (report only: --fix-all, or a --fix-* option, repairs)")
        if errors:
            raise CommandError(f"{errors} error(s); see above")
