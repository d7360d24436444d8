from django.core.management.base import BaseCommand, CommandError

from synnefo.cyclades.logic.backends import BackendInUse, remove_backend
from synnefo.cyclades.management.commands._common import get_backend


class Command(BaseCommand):
    help = ("Remove a backend. Refused while it hosts active (not deleted) VMs. The networks it has are "
            "disconnected and removed from its Ganeti first (jobs waited for), unless the backend is offline; "
            "if Ganeti fails, the backend is kept.")

    def add_arguments(self, parser):
        parser.add_argument("backend", help="Backend id or cluster name")

    def handle(self, *args, **o):
        backend = get_backend(o["backend"])
        try:
            for line in remove_backend(backend):
                self.stdout.write(line)
        except BackendInUse as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Removed backend {o['backend']} ({backend.clustername})")
