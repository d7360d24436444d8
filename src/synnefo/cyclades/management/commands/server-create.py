from django.core.management.base import BaseCommand

from synnefo.cyclades.logic import server_admin, servers
from synnefo.cyclades.management.commands._common import (add_wait_argument, get_backend, parse_bool, refusals,
                                                          refuse_simulated_elsewhere, user_uuid)


class Command(BaseCommand):
    help = ("Create a server for a user, as the compute API would (quota, image access, flavor checks), "
            "optionally on a chosen backend (even a drained one).")

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True)
        parser.add_argument("--user", required=True, help="Owner (id, uuid or email)")
        parser.add_argument("--image", required=True, help="Image id (one the owner may use)")
        parser.add_argument("--flavor", required=True, help="Flavor id")
        parser.add_argument("--backend-id", help="Backend id or cluster name (default: the allocator picks)")
        parser.add_argument("--password", help="Root password (default: generated and printed)")
        add_wait_argument(parser, "the server leaves BUILD, printing its progress")

    def handle(self, *args, **o):
        wait = parse_bool(o["wait"])
        user = user_uuid(o["user"])
        backend = get_backend(o["backend_id"]) if o["backend_id"] else None
        refuse_simulated_elsewhere(backend)
        with refusals():
            vm, password = servers.create(user, o["name"], o["image"], o["flavor"], password=o["password"], backend=backend)
        self.stdout.write(f"Server {vm.id} ({vm.name}) of {user}: flavor {vm.flavor_id}, image {vm.imageid}, "
                          f"backend {vm.backend_id}, instance {vm.backend_vm_id}, job {vm.task_job_id}")
        self.stdout.write(f"Password: {password}")
        if wait:
            with refusals():
                vm = server_admin.wait(vm, vm.task_job_id, self.stdout.write, timeout=o["wait_timeout"])
            self.stdout.write(f"Server {vm.id}: {servers.api_status(vm)}")
