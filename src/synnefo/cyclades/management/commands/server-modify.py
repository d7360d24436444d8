from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from synnefo.cyclades.logic import server_admin
from synnefo.cyclades.logic.flavors import FlavorError, get_flavor
from synnefo.cyclades.management.commands._common import (add_wait_argument, get_server, parse_bool, refusals,
                                                          refuse_simulated_elsewhere, user_uuid)


class Command(BaseCommand):
    help = ("Modify a server: rename, give to another user (its quota moves), suspend, resize (--flavor, when "
            "STOPPED) or act on it (--action). All in one go: a refused change leaves the server as it was.")

    def add_arguments(self, parser):
        parser.add_argument("server_id")
        parser.add_argument("--name", help="New name")
        parser.add_argument("--user", help="New owner (id, uuid or email)")
        parser.add_argument("--suspended", metavar="True|False", help="Suspend (owner can only delete it) or unsuspend")
        parser.add_argument("--flavor", help="Resize to this flavor (the server must be STOPPED)")
        parser.add_argument("--action", choices=server_admin.ACTIONS, help="Start, stop or reboot it")
        add_wait_argument(parser, "the resize or action job ends")

    def handle(self, *args, **o):
        vm = get_server(o["server_id"])
        wait = parse_bool(o["wait"])
        suspended = parse_bool(o["suspended"]) if o["suspended"] is not None else None
        new_user = user_uuid(o["user"]) if o["user"] else None
        if o["flavor"] is not None:
            try:
                get_flavor(o["flavor"], include_deleted=False)
            except FlavorError as exc:
                raise CommandError(str(exc)) from None
            if o["action"]:
                raise CommandError("--flavor and --action are two Ganeti jobs: run them one after the other")
        if all(o[k] is None for k in ("name", "user", "suspended", "flavor", "action")):
            raise CommandError("Nothing to change")
        if o["flavor"] is not None or o["action"]:
            refuse_simulated_elsewhere(vm.backend)
        done = []
        with refusals(), transaction.atomic():
            # Unsuspend before the action, suspend after it: a suspended server refuses actions.
            if o["name"] is not None:
                vm = server_admin.rename(vm.id, o["name"])
                done.append(f"renamed to {vm.name!r}")
            if suspended is False:
                vm = server_admin.set_suspended(vm.id, False)
                done.append("unsuspended")
            if new_user is not None:
                vm = server_admin.reassign(vm.id, new_user)
                done.append(f"now owned by {new_user}")
            if o["flavor"] is not None:
                vm = server_admin.resize(vm, o["flavor"])
                done.append(f"resizing to flavor {o['flavor']} (job {vm.task_job_id})")
            if o["action"]:
                vm = server_admin.act(vm, o["action"])
                done.append(f"{o['action']} (job {vm.task_job_id})")
            if suspended is True:
                vm = server_admin.set_suspended(vm.id, True)
                done.append("suspended")
        self.stdout.write(f"Server {vm.id}: {', '.join(done)}")
        if wait and vm.task_job_id:
            with refusals():
                vm = server_admin.wait(vm, vm.task_job_id, self.stdout.write, timeout=o["wait_timeout"])
