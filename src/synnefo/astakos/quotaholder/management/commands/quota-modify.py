from django.core.management.base import BaseCommand
from django.db import transaction

from synnefo.astakos.logic import audit
from synnefo.astakos.logic.admin import change_base_limit
from synnefo.astakos.management.commands._common import get_user
from synnefo.astakos.quotaholder.management.commands._common import get_resource, quantity
from synnefo.astakos.quotaholder.resources import show_quantity


class Command(BaseCommand):
    help = ("Set a user's limit of a resource (in the user's base project), or return it to the system default. "
            "Recorded in the audit trail.")

    def add_arguments(self, parser):
        parser.add_argument("user", help="id, uuid or email")
        parser.add_argument("--resource", required=True)
        group = parser.add_mutually_exclusive_group(required=True)
        group.add_argument("--limit", help="New limit, e.g. 4, 10G, inf")
        group.add_argument("--default", action="store_true", help="Follow the resource's system default again")

    @transaction.atomic
    def handle(self, *args, **options):
        user = get_user(options["user"])
        resource = get_resource(options["resource"])
        limit = None if options["default"] else quantity(options["limit"])
        change_base_limit(audit.COMMAND_ACTOR, user, resource, limit, os_user=audit.os_user())
        shown = "system default" if limit is None else show_quantity(limit, resource.unit)
        self.stdout.write(f"{user.email} {resource.name}: limit {shown}")
