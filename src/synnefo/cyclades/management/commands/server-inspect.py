from django.core.management.base import BaseCommand, CommandError

from synnefo.common.management import print_dict, print_rows
from synnefo.cyclades.ganeti.rapi import GanetiApiError
from synnefo.cyclades.management.commands._common import get_server, refuse_simulated_elsewhere
from synnefo.cyclades.management.commands._servers import instance_jobs, server_details, side_by_side


class Command(BaseCommand):
    help = "Inspect a server in the database and its instance in Ganeti (RAPI), side by side."

    def add_arguments(self, parser):
        parser.add_argument("server_id")
        parser.add_argument("--jobs", action="store_true", help="Also list the instance's jobs in Ganeti's queue")
        parser.add_argument("--display-mails", action="store_true", help="Show the owner's email, not the uuid")

    def handle(self, *args, **o):
        vm = get_server(o["server_id"])
        details = server_details(vm)
        if o["display_mails"]:
            details["user"] = details.pop("user email") or details["user"]
        else:
            details.pop("user email")
        self.stdout.write("== Database")
        print_dict(self.stdout, details)
        if vm.backend is None:
            raise CommandError(f"Server {vm.id} has no backend: nothing to inspect in Ganeti")
        refuse_simulated_elsewhere(vm.backend)
        name = vm.backend_vm_id
        self.stdout.write(f"== Ganeti: instance {name} on backend {vm.backend_id} ({vm.backend.clustername})")
        try:
            client = vm.backend.get_client()
            try:
                instance = client.get_instance(name)
            except GanetiApiError as exc:
                if exc.code != 404:
                    raise
                instance = None
                self.stdout.write(f"No instance {name} in Ganeti" + (" (as expected: the server is deleted)" if vm.deleted else
                                                                     " (reconcile-servers reports it as stale)"))
            if instance is not None:
                print_rows(self.stdout, ["item", "database", "ganeti", "in sync"], side_by_side(vm, instance))
            if o["jobs"]:
                self.stdout.write(f"== Ganeti jobs of {name}")
                print_rows(self.stdout, ["id", "status", "summary", "received", "ended"], instance_jobs(client, name))
        except GanetiApiError as exc:
            raise CommandError(f"Cannot read backend {vm.backend_id}: {exc}") from None
