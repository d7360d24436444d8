"""Helpers of the cyclades commands (backend-*, server-*, reconcile-servers)."""

from contextlib import contextmanager

from django.core.management.base import CommandError

from synnefo.common import faults
from synnefo.cyclades.models import Backend


def get_backend(ident: str) -> Backend:
    try:
        return Backend.objects.get(pk=int(ident))
    except (ValueError, Backend.DoesNotExist):
        pass
    try:
        return Backend.objects.get(clustername=ident)
    except Backend.DoesNotExist:
        raise CommandError(f"No backend with id or cluster name '{ident}'") from None


def parse_bool(value: str) -> bool:
    lowered = str(value).strip().lower()
    if lowered in ("true", "yes", "1", "on"):
        return True
    if lowered in ("false", "no", "0", "off"):
        return False
    raise CommandError(f"Expected True or False, not '{value}'")


@contextmanager
def refusals():
    """Faults of the logic (unknown server, wrong state, over quota...) as CommandErrors."""
    try:
        yield
    except faults.Fault as fault:
        raise CommandError(f"{fault.message}{f' ({fault.details})' if fault.details else ''}") from None


def get_server(ident):
    from synnefo.cyclades.logic.server_admin import get_any_server

    with refusals():
        return get_any_server(ident)


def user_uuid(identifier: str) -> str:
    from synnefo.astakos.management.commands._common import get_user

    return str(get_user(identifier).uuid)


def emails_of(uuids) -> dict[str, str]:
    from synnefo.astakos.models import User

    wanted = {u for u in uuids if u}
    return {str(u): e for u, e in User.objects.filter(uuid__in=_valid_uuids(wanted)).values_list("uuid", "email")}


def _valid_uuids(values):
    import uuid

    out = []
    for value in values:
        try:
            out.append(uuid.UUID(str(value)))
        except ValueError:
            pass
    return out


def add_wait_argument(parser, what: str) -> None:
    parser.add_argument("--wait", default="False", metavar="True|False", help=f"Wait until {what} (default False)")
    parser.add_argument("--wait-timeout", type=float, default=600, metavar="SECONDS",
                        help="Give up waiting after this long (default 600)")


def refuse_simulated_elsewhere(backend) -> None:
    """A simulated cluster lives in the memory of the process running it (``synnefo up``): from
    snf-manage it would be a new, empty one, and jobs sent there would act on nothing."""
    from synnefo.cyclades.ganeti import simulated

    if backend is not None and backend.host == simulated.SIMULATED_HOST and not simulated.runs_here(backend.clustername):
        raise CommandError(f"Backend {backend.id} is a simulated cluster, known only to the process that runs it "
                           "(synnefo up): act on its servers through the API")
