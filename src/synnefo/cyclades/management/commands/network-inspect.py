from django.core.management.base import BaseCommand

from synnefo.common.management import print_dict, print_rows
from synnefo.cyclades.ganeti.rapi import GanetiApiError
from synnefo.cyclades.logic.pools import IPPool
from synnefo.cyclades.management.commands._networks import get_any_network, network_dict


class Command(BaseCommand):
    help = ("Inspect a network: the database's record, its IP pools (with their maps), and every backend's "
            "side next to what that Ganeti cluster says now (groups, reservations, instances).")

    def add_arguments(self, parser):
        parser.add_argument("network_id")
        parser.add_argument("--no-maps", action="store_true", help="Do not print the IP pool maps")

    def handle(self, *args, **o):
        network = get_any_network(o["network_id"])
        print_dict(self.stdout, network_dict(network))
        for subnet in network.subnets.all():
            self.stdout.write(f"\nSubnet {subnet.id}: {subnet.cidr} gateway {subnet.gateway or '-'} dhcp {subnet.dhcp}")
            for row in subnet.ip_pools.all():
                pool = IPPool(row)
                self.stdout.write(f"  IP pool {row.id}: {pool.index_to_value(0)}-{pool.index_to_value(pool.size - 1)}, "
                                  f"{pool.count_available()} free of {pool.size}, {pool.count_reserved()} reserved externally")
                if not o["no_maps"]:
                    for line in pool.to_map():
                        self.stdout.write(f"  {line}")
        self.stdout.write("\nPorts:")
        print_rows(self.stdout, ["port", "user", "server", "state", "mac", "ips"],
                   [[p.id, p.userid, p.machine_id or "", p.state, p.mac, ",".join(ip.address for ip in p.ips.all())]
                    for p in network.ports.all()])
        for row in network.backend_networks.select_related("backend"):
            self.stdout.write(f"\nBackend {row.backend_id} ({row.backend.clustername}): {row.operstate}, "
                              f"MAC prefix {row.mac_prefix}, last job {row.backendjobid} {row.backendopcode} "
                              f"{row.backendjobstatus}")
            try:
                info = row.backend.get_client().get_network(network.backend_id)
            except GanetiApiError as exc:
                self.stdout.write(f"  Ganeti: {'absent' if getattr(exc, 'code', None) == 404 else exc}")
                continue
            groups = ", ".join(" ".join(str(x) for x in g if x) if isinstance(g, (list, tuple)) else str(g)
                               for g in info.get("group_list") or [])
            self.stdout.write(f"  Ganeti: {info.get('network')} gateway {info.get('gateway')} mac_prefix "
                              f"{info.get('mac_prefix')} tags {','.join(info.get('tags') or [])}")
            self.stdout.write(f"  groups: {groups or '-'}; instances: {', '.join(info.get('inst_list') or []) or '-'}")
            if info.get("external_reservations") is not None:
                self.stdout.write(f"  external reservations: {info.get('external_reservations')}; "
                                  f"free {info.get('free_count')}, reserved {info.get('reserved_count')}")
