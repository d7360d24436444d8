from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from synnefo.cyclades.logic import network_backends, networks, pools
from synnefo.cyclades.management.commands._common import get_backend, parse_bool, refusals
from synnefo.cyclades.management.commands._networks import get_any_network
from synnefo.cyclades.models import IPAddress, Network


class Command(BaseCommand):
    help = ("Change a network in one transaction: name, drained, floating IP pool, addresses reserved "
            "externally (in its IP pools, and in Ganeti on every backend that has it), and the backends it is on. "
            "On any error nothing changes.")

    def add_arguments(self, parser):
        parser.add_argument("network_id")
        parser.add_argument("--name", help="New name")
        parser.add_argument("--drained", metavar="True|False", help="A drained network takes no new ports or floating IPs")
        parser.add_argument("--floating-ip-pool", metavar="True|False", help="Users may take floating IPs from it (public only)")
        parser.add_argument("--add-reserved-ips", default="", help="Comma-separated addresses to reserve externally")
        parser.add_argument("--remove-reserved-ips", default="", help="Comma-separated addresses to release")
        parser.add_argument("--add-to-backend", action="append", default=[], metavar="BACKEND",
                            help="Create it on this backend too (id or cluster name; repeatable)")
        parser.add_argument("--remove-from-backend", action="append", default=[], metavar="BACKEND",
                            help="Remove it from this backend (disconnect, then remove in Ganeti; refused while "
                                 "servers there use it; repeatable)")

    def handle(self, *args, **o):
        add = [v.strip() for v in o["add_reserved_ips"].split(",") if v.strip()]
        remove = [v.strip() for v in o["remove_reserved_ips"].split(",") if v.strip()]
        backends = [get_backend(b) for b in o["add_to_backend"]]
        leaving = [get_backend(b) for b in o["remove_from_backend"]]
        if {b.id for b in backends} & {b.id for b in leaving}:
            raise CommandError("A backend cannot be in both --add-to-backend and --remove-from-backend")
        if not any([o["name"] is not None, o["drained"], o["floating_ip_pool"], add, remove, backends, leaving]):
            raise CommandError("Nothing to do; see --help")
        found = get_any_network(o["network_id"])
        if found.deleted:
            raise CommandError(f"Network {found.id} is deleted")
        with refusals(), transaction.atomic():
            network = Network.objects.select_for_update().get(pk=found.pk)
            if o["name"] is not None:
                networks.rename(network, o["name"])
            if o["drained"]:
                network.drained = parse_bool(o["drained"])
            if o["floating_ip_pool"]:
                value = parse_bool(o["floating_ip_pool"])
                if value and not network.public:
                    raise CommandError("Only public networks can be floating IP pools")
                network.floating_ip_pool = value
            network.save()
            if add or remove:
                self._reservations(network, add, remove)
                transaction.on_commit(lambda: network_backends.after_commit(
                    lambda network_id: network_backends.reserve_in_ganeti(network_id, add, remove), network.id))
            for backend in leaving:
                network_backends.remove_from_backend(network, backend)
            if backends:
                network_backends.plan(network, backends)
        self.stdout.write(f"Modified network {network.id}")
        for backend in leaving:
            self.stdout.write(f"Removing it from backend {backend.id} ({backend.clustername}): disconnect, then remove")

    @staticmethod
    def _reservations(network, add, remove):
        sub4 = networks.subnet4(network)
        if sub4 is None:
            raise CommandError(f"Network {network.id} has no IPv4 subnet")
        rows = list(sub4.ip_pools.order_by("id"))
        used = set(IPAddress.objects.filter(subnet=sub4, address__in=add).values_list("address", flat=True))
        if used:
            raise CommandError(f"In use, cannot be reserved: {', '.join(sorted(used))}")
        for address, external_put in [(a, False) for a in add] + [(a, True) for a in remove]:
            for row in rows:
                try:
                    with pools.locked("ip", row.id) as pool:
                        if external_put:
                            pool.put(address, external=True)
                        else:
                            pool.reserve(address)
                    break
                except pools.InvalidValue:
                    continue
                except pools.PoolError as error:
                    raise CommandError(str(error)) from None
            else:
                raise CommandError(f"{address} is not in an allocation pool of {sub4.cidr}")
