import logging

from django.core.management.base import BaseCommand, CommandError

from synnefo.cyclades.ganeti.rapi import GanetiApiError
from synnefo.cyclades.logic.backends import read_status
from synnefo.cyclades.management.commands._common import get_backend, parse_bool
from synnefo.cyclades.models import Backend

log = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Modify a backend: drain/undrain, offline, public, RAPI connection and credentials."

    def add_arguments(self, parser):
        parser.add_argument("backend", help="Backend id or cluster name")
        parser.add_argument("--drained", help="True|False: allocate no new VMs here")
        parser.add_argument("--offline", help="True|False: make no RAPI calls to it")
        parser.add_argument("--public", help="True|False: open to every project")
        parser.add_argument("--clustername")
        parser.add_argument("--host", help="RAPI address ('' = the cluster name)")
        parser.add_argument("--port", type=int)
        parser.add_argument("--user")
        parser.add_argument("--pass", dest="password")
        parser.add_argument("--ca-file")
        parser.add_argument("--insecure", help="True|False: verify RAPI's TLS certificate or not")
        parser.add_argument("--hypervisor", choices=[h for h, _ in Backend.HYPERVISORS])
        parser.add_argument("--no-check", action="store_true", help="Do not check new RAPI settings")

    def handle(self, *args, **o):
        backend = get_backend(o["backend"])
        changed = []
        for flag in ("drained", "offline", "public", "insecure"):
            if o[flag] is not None:
                setattr(backend, flag, parse_bool(o[flag]))
                changed.append(flag)
        if o["port"] is not None:
            if not 0 < o["port"] < 65536:
                raise CommandError("--port must be 1-65535")
            backend.port = o["port"]
            changed.append("port")
        for opt, field in (("clustername", "clustername"), ("host", "host"), ("user", "username"),
                           ("ca_file", "ca_file"), ("hypervisor", "hypervisor")):
            if o[opt] is not None:
                setattr(backend, field, o[opt])
                changed.append(field)
        if o["clustername"] is not None and Backend.objects.filter(clustername=o["clustername"]).exclude(pk=backend.pk).exists():
            raise CommandError(f"A backend for cluster '{o['clustername']}' already exists")
        if o["password"] is not None:
            backend.password = o["password"]
            changed.append("password_encrypted")
        if not changed:
            raise CommandError("Nothing to change")
        connection = {"host", "port", "username", "password_encrypted", "ca_file", "insecure", "clustername"}
        if connection & set(changed) and not o["no_check"] and not backend.offline:
            try:
                read_status(backend.get_client())
            except GanetiApiError as exc:
                raise CommandError(f"The new RAPI settings do not work ({exc}); nothing changed") from None
        backend.save(update_fields=changed)
        shown = ["password" if c == "password_encrypted" else c for c in changed]
        log.info("backend %s modified: %s", backend.id, ", ".join(shown))
        self.stdout.write(f"Backend {backend.id}: changed {', '.join(shown)}")
