from django.core.management.base import BaseCommand, CommandError

from synnefo.archipelago import config as archip_config
from synnefo.archipelago.pithos import node_values


class Command(BaseCommand):
    help = (
        "Print the archipelago configuration (/etc/default/archipelago style) of this node's data "
        "directory and Pithos block store, or write it to a file."
    )

    def add_arguments(self, parser):
        parser.add_argument("--write", metavar="PATH", help="write it to PATH (atomically) instead of printing it")
        parser.add_argument("--force", action="store_true", help="with --write: replace an existing file")

    def handle(self, *args, **options):
        from pathlib import Path

        from synnefo.archipelago.mapfile import write_atomic

        text = archip_config.render(node_values())
        archip_config.from_values(archip_config.parse(text))  # what we write must load
        path = options["write"]
        if not path:
            self.stdout.write(text, ending="")
            return
        path = Path(path)
        if path.exists() and not options["force"]:
            raise CommandError(f"{path} exists; use --force to replace it")
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, text.encode())
        self.stdout.write(f"wrote {path}")
