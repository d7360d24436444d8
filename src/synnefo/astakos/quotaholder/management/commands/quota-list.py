from django.db.models import F, Q

from synnefo.astakos.models import User
from synnefo.astakos.quotaholder.logic import ensure_user_holdings
from synnefo.astakos.quotaholder.management.commands._common import get_resource
from synnefo.astakos.quotaholder.models import Holding
from synnefo.astakos.quotaholder.resources import show_quantity
from synnefo.astakos.management.commands._common import get_user
from synnefo.common.management import ListCommand

_view = {"style": "auto", "emails": {}}


def _q(value, holding):
    return show_quantity(value, holding.resource.unit, _view["style"]) if _view["style"] != "raw" else value


def _uuid(holding):
    return holding.holder.split(":", 1)[1]


class Command(ListCommand):
    help = "List users' quotas: limit, usage and pending per project and resource."

    FIELDS = {
        "user": (_uuid, "User uuid"),
        "email": (lambda h: _view["emails"].get(_uuid(h), ""), "User email"),
        "project": (lambda h: h.source.split(":", 1)[-1], "Project uuid (the base project has the user's uuid)"),
        "resource": (lambda h: h.resource.name, "Resource"),
        "limit": (lambda h: _q(h.effective_limit(), h), "Limit (the system default unless set)"),
        "default": (lambda h: h.limit is None, "Whether the limit follows the system default"),
        "usage": (lambda h: _q(h.usage_max, h), "Usage, including pending imports"),
        "pending": (lambda h: _q(h.usage_max - h.usage_min, h), "Pending (issued, unresolved) quantity"),
    }
    DEFAULT_FIELDS = ("user", "email", "resource", "limit", "usage", "pending")
    FILTERS = {"resource": "resource__name", "holder": "holder", "project": "source", "service": "resource__service_origin"}

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--user", help="Only this user (id, uuid or email)")
        parser.add_argument("--resource", help="Only this resource")
        parser.add_argument("--overlimit", action="store_true", help="Only holdings whose usage exceeds the limit")
        parser.add_argument("--unit-style", choices=["auto", "bytes", "raw"], default="auto",
                            help="auto: 10G, inf; bytes: plain numbers but 'inf'; raw: plain integers")

    def get_queryset(self, options):
        _view["style"] = options["unit_style"]
        users = User.objects.all()
        if options["user"]:
            users = users.filter(pk=get_user(options["user"]).pk)
        _view["emails"] = {str(u): e for u, e in users.values_list("uuid", "email")}
        ensure_user_holdings(list(_view["emails"]))
        holdings = Holding.objects.select_related("resource").filter(holder__in=[f"user:{u}" for u in _view["emails"]])
        if options["resource"]:
            holdings = holdings.filter(resource=get_resource(options["resource"]))
        if options["overlimit"]:
            holdings = holdings.filter(
                Q(limit__isnull=False, usage_max__gt=F("limit")) | Q(limit__isnull=True, usage_max__gt=F("resource__uplimit"))
            )
        return holdings.order_by("holder", "source", "resource__name")
