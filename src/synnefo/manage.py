"""``snf-manage``: Synnefo's administration commands (Django management commands)."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "synnefo.settings")
    from synnefo.common.conf import SettingsError

    try:
        import django

        django.setup()
    except SettingsError as exc:
        sys.exit(f"snf-manage: settings error: {exc}")
    from django.core.management import execute_from_command_line

    execute_from_command_line([os.path.basename(sys.argv[0]) or "snf-manage", *sys.argv[1:]])


if __name__ == "__main__":
    main()
