from django.db.models import Count, IntegerField, OuterRef, Subquery
from django.db.models.functions import Coalesce

from synnefo.astakos.logic import terms
from synnefo.astakos.models import ApprovalTerms, User
from synnefo.common.management import ListCommand


def _accepted_by():
    """How many users' last accepted version each version is (one subquery, not one per row)."""
    per_version = (
        User.objects.filter(signed_terms=OuterRef("pk")).order_by().values("signed_terms").annotate(n=Count("pk"))
    )
    return Coalesce(Subquery(per_version.values("n"), output_field=IntegerField()), 0)


class Command(ListCommand):
    help = "List the versions of the terms of use (the newest is in force)."

    FIELDS = {
        "id": (lambda t: t.pk, "Version (terms id)"),
        "date": (lambda t: t.created.strftime("%Y-%m-%d %H:%M"), "When it was added (UTC)"),
        "source": (lambda t: t.source, "The file it was added from"),
        "accepted": (lambda t: t.accepted, "Users whose last accepted version is this one"),
        "current": (lambda t: t.pk == terms.newest_id(), "Whether it is the version in force"),
        "size": (lambda t: len(t.html), "Length of the HTML, characters"),
    }
    DEFAULT_FIELDS = ("id", "date", "source", "accepted", "current")
    FILTERS = {"id": "pk"}

    def get_queryset(self, options):
        return ApprovalTerms.objects.order_by("pk").annotate(accepted=_accepted_by())
