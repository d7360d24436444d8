"""``snf-manage``: Synnefo's administration commands (Django management commands)."""

import os
import sys

from synnefo.common.conf import setup_django_or_exit


def main() -> None:
    setup_django_or_exit("snf-manage")
    from django.core.management import execute_from_command_line

    execute_from_command_line([os.path.basename(sys.argv[0]) or "snf-manage", *sys.argv[1:]])


if __name__ == "__main__":
    main()
