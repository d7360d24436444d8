from django.core.management.base import BaseCommand

from synnefo.common.management import print_dict
from synnefo.cyclades.logic import floating_ips
from synnefo.cyclades.management.commands._common import refusals, user_uuid
from synnefo.cyclades.management.commands._ports import floating_ip_dict


class Command(BaseCommand):
    help = ("Allocate a floating IP for a user from a public network marked as a floating IP pool, charging "
            "one cyclades.floating_ip (as POST /floatingips does).")

    def add_arguments(self, parser):
        parser.add_argument("--network", required=True, help="Id of the floating IP pool network")
        parser.add_argument("--user", required=True, help="Owner (id, uuid or email)")
        parser.add_argument("--address", help="The address wanted (default: the first free one)")
        parser.add_argument("--project", help="Project charged (default: the user's own)")

    def handle(self, *args, **o):
        user = user_uuid(o["user"])
        with refusals():
            ip = floating_ips.allocate(user, o["network"], address=o["address"], project=o["project"])
        self.stdout.write(f"Allocated floating IP {ip.id}: {ip.address}")
        print_dict(self.stdout, floating_ip_dict(ip))
