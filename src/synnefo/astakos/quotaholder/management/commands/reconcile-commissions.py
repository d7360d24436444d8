from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from synnefo.astakos.quotaholder import commissions
from synnefo.astakos.quotaholder.logic import QuotaError
from synnefo.astakos.quotaholder.models import Commission, Component, ServiceSerial


def _components() -> list[str]:
    if settings.ASTAKOS_QUOTAHOLDER_URL:
        return sorted(settings.ASTAKOS_QUOTAHOLDER_TOKENS)
    names = set(Component.objects.values_list("name", flat=True))
    names |= set(ServiceSerial.objects.filter(resolved=False).values_list("component", flat=True))
    names |= set(Commission.objects.values_list("clientkey", flat=True))
    return sorted(names)


class Command(BaseCommand):
    help = (
        "Compare the quotaholder's pending commissions with the services' records and, with "
        "--fix, resolve them: accept/reject as the service decided; reject those no service "
        "transaction committed (older than ASTAKOS_QUOTAHOLDER_RECONCILE_GRACE seconds)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--component", action="append", help="Only this component (repeatable)")
        parser.add_argument("--fix", action="store_true", help="Resolve what is found (default: report only)")
        parser.add_argument("--grace", type=int, help="Override ASTAKOS_QUOTAHOLDER_RECONCILE_GRACE (seconds)")

    def handle(self, *args, **options):
        names = options["component"] or _components()
        if options["grace"] is not None and options["grace"] < 0:
            raise CommandError("--grace must not be negative")
        failures = 0
        for name in names:
            try:
                report = commissions.reconcile(name, fix=options["fix"], grace=options["grace"])
            except QuotaError as exc:
                self.stderr.write(f"{name}: {exc.message}")
                failures += 1
                continue
            verb = "" if options["fix"] else " (to do; --fix does it)"
            self.stdout.write(f"{name}:")
            for key, label in (
                ("accept", "accept"), ("reject", "reject"), ("orphan", "reject, never committed by the service"),
                ("young", "pending, too young to judge"), ("undecided", "pending, service has not decided"),
                ("already_resolved", "resolved already, marked so"),
            ):
                serials = report[key]
                suffix = verb if key in ("accept", "reject", "orphan", "already_resolved") else ""
                self.stdout.write(f"  {label}: {' '.join(map(str, serials)) or '-'}{suffix if serials else ''}")
            for serial, message in report.get("failed", []):
                self.stderr.write(f"  failed {serial}: {message}")
                failures += 1
        if failures:
            raise CommandError(f"{failures} failure(s)")
