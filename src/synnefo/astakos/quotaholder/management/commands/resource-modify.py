from django.core.management.base import BaseCommand, CommandError

from synnefo.astakos.quotaholder.management.commands._common import flag, get_resource, quantity
from synnefo.astakos.quotaholder.resources import show_quantity


class Command(BaseCommand):
    help = (
        "Change a resource's defaults. The system default applies at once to every user whose "
        "limit was not set by hand (quota-modify)."
    )

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--system-default", "--default-quota", dest="system_default",
                            help="Default limit of every user, e.g. 4, 10G, inf")
        parser.add_argument("--project-default", help="Default member limit in other projects")
        parser.add_argument("--api-visible", help="true/false")
        parser.add_argument("--ui-visible", help="true/false")
        parser.add_argument("--description", help="Description")

    def handle(self, *args, **options):
        resource = get_resource(options["name"])
        changes = {}
        if options["system_default"] is not None:
            changes["uplimit"] = quantity(options["system_default"])
        if options["project_default"] is not None:
            changes["project_default"] = quantity(options["project_default"])
        for key in ("api_visible", "ui_visible"):
            if options[key] is not None:
                changes[key] = flag(options[key])
        if options["description"] is not None:
            changes["description"] = options["description"]
        if not changes:
            raise CommandError("Nothing to change (see --help)")
        for key, value in changes.items():
            setattr(resource, key, value)
        resource.save(update_fields=list(changes))
        self.stdout.write(
            f"{resource.name}: system default {show_quantity(resource.uplimit, resource.unit)}, "
            f"project default {show_quantity(resource.project_default, resource.unit)}"
        )
