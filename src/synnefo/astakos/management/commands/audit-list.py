from django.db.models import Q

from synnefo.astakos.logic.audit import describe
from synnefo.astakos.management.commands._common import get_user
from synnefo.astakos.models import AuditEntry
from synnefo.common.management import ListCommand


class Command(ListCommand):
    help = "List the audit trail of administrative actions, newest first (see docs/admin.md)."

    FIELDS = {
        "id": (lambda e: e.pk, "Entry id"),
        "at": (lambda e: e.at.strftime("%Y-%m-%d %H:%M:%S"), "When (UTC)"),
        "actor": (lambda e: e.actor_email, "The administrator's email, or snf-manage"),
        "os_user": (lambda e: (e.detail or {}).get("os_user", ""), "Operating-system user (snf-manage entries)"),
        "action": (lambda e: e.action, "What was done, e.g. user.reject"),
        "target": (lambda e: e.target_repr, "Email of the user acted on"),
        "target_id": (lambda e: e.target_id, "Id of the user acted on (empty once deleted)"),
        "detail": (describe, "Reason, old and new values"),
    }
    DEFAULT_FIELDS = ("at", "actor", "action", "target", "detail")
    FILTERS = {"id": "pk", "action": "action", "actor": "actor_email__iexact", "target": "target_repr__iexact"}

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--user", help="Only entries about this user (id, uuid or email)")
        parser.add_argument("--actor", help="Only entries by this actor (email, or snf-manage)")
        parser.add_argument("--action", help="Only this action (user.reject), or a prefix up to a dot (user, quota)")

    def get_queryset(self, options):
        entries = AuditEntry.objects.order_by("-at", "-id")
        if options["user"]:
            entries = entries.filter(target=get_user(options["user"]))
        if options["actor"]:
            entries = entries.filter(actor_email__iexact=options["actor"])
        if options["action"]:
            action = options["action"]
            entries = entries.filter(Q(action=action) | Q(action__startswith=action.rstrip(".") + "."))
        return entries
