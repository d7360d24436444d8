"""Helpers of the pool-* commands."""

from contextlib import contextmanager

from django.core.management.base import CommandError

TYPES = ("bridge", "mac-prefix", "ip")


def add_type_argument(parser, types=TYPES, required=True):
    parser.add_argument("--type", dest="pool_type", choices=types, required=required,
                        help="Pool type: " + ", ".join(types))


@contextmanager
def pool_errors():
    from synnefo.cyclades.logic.pools import PoolError

    try:
        yield
    except PoolError as error:
        raise CommandError(str(error)) from None
