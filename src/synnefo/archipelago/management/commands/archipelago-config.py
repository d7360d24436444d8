from django.core.management.base import BaseCommand, CommandError

from synnefo.archipelago.pithos import node_config_text, write_node_config


class Command(BaseCommand):
    help = (
        "Print the archipelago configuration (/etc/default/archipelago style) of this node's data "
        "directory and Pithos block store, or write it to a file."
    )

    def add_arguments(self, parser):
        parser.add_argument("--write", metavar="PATH", help="write it to PATH (atomically) instead of printing it")
        parser.add_argument("--force", action="store_true", help="with --write: replace an existing file")

    def handle(self, *args, **options):
        path = options["write"]
        if not path:
            self.stdout.write(node_config_text(), ending="")
        elif write_node_config(path, options["force"]):
            self.stdout.write(f"wrote {path}")
        else:
            raise CommandError(f"{path} exists; use --force to replace it")
