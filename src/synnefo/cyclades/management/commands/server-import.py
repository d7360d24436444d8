from django.core.management.base import BaseCommand

from synnefo.cyclades.logic import server_admin
from synnefo.cyclades.management.commands._common import get_backend, refusals, refuse_simulated_elsewhere, user_uuid


class Command(BaseCommand):
    help = ("Adopt a stopped Ganeti instance created outside Synnefo: it becomes a STOPPED server of the user "
            "(renamed to <BACKEND_PREFIX_ID><id> in Ganeti), its quota charged.")

    def add_arguments(self, parser):
        parser.add_argument("instance_name", help="The Ganeti instance's name")
        parser.add_argument("--backend-id", required=True, help="Backend id or cluster name")
        parser.add_argument("--user", required=True, help="New owner (id, uuid or email)")
        parser.add_argument("--image", required=True, help="Image id to record (one the owner may use)")
        parser.add_argument("--flavor", required=True, help="Flavor id: its CPUs, RAM and disk template must match")

    def handle(self, *args, **o):
        backend = get_backend(o["backend_id"])
        refuse_simulated_elsewhere(backend)
        user = user_uuid(o["user"])
        with refusals():
            vm = server_admin.import_instance(o["instance_name"], backend, user, o["image"], o["flavor"])
        self.stdout.write(f"Imported {o['instance_name']} as server {vm.id} of {user} (instance {vm.backend_vm_id}, "
                          f"{vm.operstate}); start it with: snf-manage server-modify {vm.id} --action start")
