from django.core.management.base import BaseCommand, CommandError

from synnefo.cyclades.logic.reconciliation import FIXES, KINDS, reconcile
from synnefo.cyclades.management.commands._common import get_backend
from synnefo.cyclades.models import Backend

TITLES = {
    "pending_task": "Pending tasks whose Ganeti job ended",
    "stale": "Stale servers (no Ganeti instance)",
    "build_error": "Failed builds",
    "orphan": "Orphan Ganeti instances",
    "unsynced": "Unsynced states",
    "unsynced_flavor": "Unsynced flavors",
    "unsynced_nics": "Unsynced NICs",
    "unsynced_disks": "Unsynced disks",
    "kept_disk": "Detached disks Ganeti keeps for deleted volumes",
}


class Command(BaseCommand):
    help = ("Compare servers in the database with the Ganeti backends and report the differences; "
            "the --fix-* options repair them through simulated Ganeti events (quotas follow).")

    def add_arguments(self, parser):
        parser.add_argument("--backend-id", help="Only this backend (id or cluster name); default: every online backend")
        parser.add_argument("--fix-all", action="store_true", help="Apply every fix below")
        parser.add_argument("--fix-stale", action="store_true", help="Servers without instance become DELETED")
        parser.add_argument("--fix-orphans", action="store_true", help="Delete Ganeti instances that have no live server")
        parser.add_argument("--fix-unsynced", action="store_true",
                            help="Take Ganeti's state (STARTED/STOPPED; failed builds become ERROR)")
        parser.add_argument("--fix-unsynced-flavors", action="store_true", help="Take the flavor of Ganeti's CPUs and RAM")
        parser.add_argument("--fix-unsynced-nics", action="store_true",
                            help="Ports take Ganeti's NICs (MAC, address, firewall); unknown NICs are adopted")
        parser.add_argument("--fix-unsynced-disks", action="store_true",
                            help="Volumes take Ganeti's disk sizes and positions; volumes whose disk is gone leave "
                                 "the server (or are deleted)")
        parser.add_argument("--fix-kept-disks", action="store_true",
                            help="Remove from Ganeti the detached disks of deleted volumes (through its helper instance)")
        parser.add_argument("--fix-pending-tasks", action="store_true", help="Settle tasks whose Ganeti job has ended")
        parser.add_argument("--parallel", action="store_true", help="Reconcile the backends in parallel (a thread each)")

    def handle(self, *args, **o):
        fix = [name for name in FIXES if o["fix_all"] or o[f"fix_{name}"]]
        if o["backend_id"]:
            backends = [get_backend(o["backend_id"])]
        else:
            backends = list(Backend.objects.filter(offline=False))
        if not backends:
            self.stdout.write("No online backends.")
            return
        reports = reconcile(backends, fix, parallel=o["parallel"])
        errors = 0
        for report in reports:
            self._write(report, bool(fix))
            errors += len(report.errors)
        if errors:
            raise CommandError(f"{errors} error(s); see above")

    def _write(self, report, fixing: bool) -> None:
        self.stdout.write(f"== Backend {report.backend} ({report.clustername})")
        if not report.findings and not report.errors:
            self.stdout.write("   in sync")
        for kind in KINDS:
            findings = report.of(kind)
            if not findings:
                continue
            self.stdout.write(f"   {TITLES[kind]}: {len(findings)}")
            for f in findings:
                server = f"server {f.server} " if f.server else ""
                line = f"     - {server}{f.instance}: {f.detail}"
                if f.fixed:
                    line += f" -> FIXED ({f.outcome})"
                elif f.outcome:
                    line += f" -> {f.outcome}"
                self.stdout.write(line)
        for skipped in report.skipped:
            self.stdout.write(f"   skipped {skipped}")
        for error in report.errors:
            self.stderr.write(f"   ERROR backend {report.backend}: {error}")
        if report.findings and not fixing:
            self.stdout.write("   (report only: --fix-all, or a --fix-* option, repairs)")
