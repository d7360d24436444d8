from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from synnefo.pithos.backend.gc import collect


class Command(BaseCommand):
    help = (
        "Delete blocks of the file store that no object version (or other map) references and "
        "that nobody used during the grace period. Safe while the service runs; resumable."
    )

    def add_arguments(self, parser):
        parser.add_argument("--grace", type=float, help="Seconds a block must be unused (default PITHOS_GC_GRACE_PERIOD)")
        parser.add_argument("--resume", action="store_true", help="Continue an interrupted collection")
        parser.add_argument("--dry-run", action="store_true", help="Count what would be deleted; delete nothing")

    def handle(self, *args, **options):
        try:
            report = collect(
                grace=options["grace"],
                resume=options["resume"],
                dry_run=options["dry_run"],
                progress=lambda message: self.stdout.write(message),
            )
        except ImproperlyConfigured as exc:  # e.g. the volume store's maps cannot be read
            raise CommandError(str(exc)) from None
        verb = "would delete" if options["dry_run"] else "deleted"
        self.stdout.write(
            f"{report.scanned} blocks scanned, {report.referenced} referenced, {verb} {report.deleted}, "
            f"kept {report.kept_recent} recent unreferenced, removed {report.temporaries} stale temporary files"
        )
