from django.core.management.base import BaseCommand, CommandError
from django.db import IntegrityError

from synnefo.common.management import print_dict
from synnefo.cyclades.ganeti.rapi import GanetiApiError
from synnefo.cyclades.ganeti.simulated import SIMULATED_HOST
from synnefo.cyclades.logic.backends import create_backend
from synnefo.cyclades.models import Backend


class Command(BaseCommand):
    help = "Add a Ganeti cluster as a backend. Its RAPI is checked first; the backend starts drained."

    def add_arguments(self, parser):
        parser.add_argument("--clustername", help="Ganeti cluster name (also the RAPI host unless --host); required "
                            "unless --simulated (then SIMULATED_GANETI_CLUSTER_NAME)")
        parser.add_argument("--port", type=int, help="RAPI port (default 5080; with --simulated SIMULATED_GANETI_PORT)")
        parser.add_argument("--user", help="RAPI user with write access (required unless --simulated)")
        parser.add_argument("--pass", dest="password", help="RAPI password, stored encrypted (required unless --simulated)")
        parser.add_argument("--host", default="", help="RAPI address, when it is not the cluster name")
        parser.add_argument("--ca-file", default="", help="CA or self-signed certificate to verify RAPI's TLS")
        parser.add_argument("--insecure", action="store_true", help="Do not verify RAPI's TLS certificate")
        parser.add_argument("--hypervisor", choices=[h for h, _ in Backend.HYPERVISORS], help="Default: the cluster's")
        parser.add_argument("--no-check", action="store_true", help="Do not contact RAPI now")
        parser.add_argument("--private", action="store_true", help="Only for projects assigned to it")
        simulated = parser.add_mutually_exclusive_group()
        simulated.add_argument("--simulated", action="store_true",
                               help="This node's SIMULATED cluster, the snf-ganeti-simulated service (no Ganeti; "
                                    "`synnefo up` runs it): address, user, password and CA are read from its files")
        simulated.add_argument("--simulated-in-process", action="store_true",
                               help="A SIMULATED cluster living in each process that uses it (unit tests and "
                                    "benchmarks only: other processes do not see its instances)")

    def handle(self, *args, **o):
        if o["simulated"]:
            self._simulated_service(o)
        if o["port"] is None:
            o["port"] = 5080
        if not 0 < o["port"] < 65536:
            raise CommandError("--port must be 1-65535")
        if not o["clustername"]:
            raise CommandError("--clustername is required (unless --simulated)")
        if o["simulated_in_process"]:
            o["host"] = SIMULATED_HOST
        elif not o["user"] or o["password"] is None:
            raise CommandError("--user and --pass are required (or --simulated)")
        if Backend.objects.filter(clustername=o["clustername"]).exists():
            raise CommandError(f"A backend for cluster '{o['clustername']}' already exists")
        try:
            backend = create_backend(
                o["clustername"], o["port"], o["user"], o["password"], host=o["host"], ca_file=o["ca_file"],
                insecure=o["insecure"], hypervisor=o["hypervisor"], public=not o["private"], check=not o["no_check"],
            )
        except GanetiApiError as exc:
            raise CommandError(f"Cannot use the cluster's RAPI: {exc}") from None
        except IntegrityError:
            raise CommandError(f"A backend for cluster '{o['clustername']}' already exists") from None
        self.stdout.write(f"Added backend {backend.id} (drained; undrain with: snf-manage backend-modify {backend.id} --drained=False)")
        print_dict(self.stdout, _show(backend))


    @staticmethod
    def _simulated_service(o):
        from django.conf import settings

        from synnefo.cyclades.ganeti.simulated_rapi import backend_fields, files_from_settings

        name = settings.SIMULATED_GANETI_CLUSTER_NAME
        if o["clustername"] and o["clustername"] != name:
            raise CommandError(f"The simulated cluster is named '{name}' (SIMULATED_GANETI_CLUSTER_NAME), "
                               f"not '{o['clustername']}'")
        if any(o[k] for k in ("user", "password", "host", "ca_file", "insecure")):
            raise CommandError("--simulated reads the address, user, password and CA itself; do not give them")
        files = files_from_settings()
        if not files.exist():
            raise CommandError(f"No simulated cluster service here ({files.directory} has no certificate or "
                               "password): start it with `synnefo up` or snf-ganeti-simulated")
        fields = backend_fields(files, o["port"])
        o.update(clustername=name, host=fields["host"], port=fields["port"], user=fields["username"],
                 password=fields["password"], ca_file=fields["ca_file"])


def _show(b):
    return {"id": b.id, "clustername": b.clustername, "host": b.rapi_host, "port": b.port, "username": b.username,
            "drained": b.drained, "offline": b.offline, "public": b.public, "hypervisor": b.hypervisor,
            "disk_templates": ",".join(b.disk_templates), "mfree": b.mfree, "mtotal": b.mtotal, "dfree": b.dfree,
            "dtotal": b.dtotal, "pinst_cnt": b.pinst_cnt, "ctotal": b.ctotal, "updated": b.updated}
