from django.core.management.base import BaseCommand, CommandError

from synnefo.cyclades.logic import server_admin, servers
from synnefo.cyclades.management.commands._common import (add_wait_argument, get_server, parse_bool, refusals,
                                                          refuse_simulated_elsewhere)


class Command(BaseCommand):
    help = "Delete servers, as their owners would (the Ganeti instance is removed, the quota returns when it is)."

    def add_arguments(self, parser):
        parser.add_argument("server_ids", nargs="+", metavar="server_id")
        add_wait_argument(parser, "each removal job ends")

    def handle(self, *args, **o):
        wait = parse_bool(o["wait"])
        found = [get_server(ident) for ident in o["server_ids"]]  # every id checked before anything is removed
        for vm in found:
            refuse_simulated_elsewhere(vm.backend)
            with refusals():
                servers.validate_action(vm, "DESTROY")
        failed = 0
        for vm in found:
            try:
                with refusals():
                    vm = server_admin.remove(vm)
            except CommandError as exc:
                failed += 1
                self.stderr.write(f"Server {vm.id}: {exc}")
                continue
            if vm.deleted:
                self.stdout.write(f"Server {vm.id}: deleted (it had no Ganeti instance)")
                continue
            self.stdout.write(f"Server {vm.id}: removal job {vm.task_job_id}")
            if wait:
                with refusals():
                    vm = server_admin.wait(vm, vm.task_job_id, self.stdout.write, timeout=o["wait_timeout"])
        if failed:
            raise CommandError(f"{failed} server(s) could not be removed")
