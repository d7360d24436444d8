from django.core.management.base import BaseCommand, CommandError

from synnefo.cyclades.ganeti.rapi import GanetiApiError
from synnefo.cyclades.logic.backends import update_status
from synnefo.cyclades.management.commands._common import get_backend
from synnefo.cyclades.models import Backend


class Command(BaseCommand):
    help = "Refresh backends' resource statistics and disk templates from RAPI (run from cron)."

    def add_arguments(self, parser):
        parser.add_argument("backend", nargs="?", help="Backend id or cluster name (default: every online backend)")

    def handle(self, *args, **o):
        backends = [get_backend(o["backend"])] if o["backend"] else list(Backend.objects.filter(offline=False))
        failed = 0
        for backend in backends:
            try:
                update_status(backend)
            except GanetiApiError as exc:
                failed += 1
                self.stderr.write(f"Backend {backend.id} ({backend.clustername}): {exc}")
                continue
            self.stdout.write(f"Backend {backend.id} ({backend.clustername}): mfree={backend.mfree} mtotal={backend.mtotal} "
                              f"dfree={backend.dfree} dtotal={backend.dtotal} pinst_cnt={backend.pinst_cnt} ctotal={backend.ctotal} "
                              f"disk_templates={','.join(backend.disk_templates)}")
        if failed:
            raise CommandError(f"{failed} backend(s) could not be updated")
