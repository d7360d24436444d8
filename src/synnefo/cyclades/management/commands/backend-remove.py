from django.core.management.base import BaseCommand, CommandError

from synnefo.cyclades.logic.backends import BackendInUse, remove_backend
from synnefo.cyclades.management.commands._common import get_backend


class Command(BaseCommand):
    help = "Remove a backend. Refused while it hosts active (not deleted) VMs."

    def add_arguments(self, parser):
        parser.add_argument("backend", help="Backend id or cluster name")

    def handle(self, *args, **o):
        backend = get_backend(o["backend"])
        try:
            remove_backend(backend)
        except BackendInUse as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Removed backend {o['backend']} ({backend.clustername})")
