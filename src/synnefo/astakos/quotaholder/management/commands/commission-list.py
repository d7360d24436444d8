from django.db.models import Count

from synnefo.astakos.quotaholder.models import Commission
from synnefo.common.management import ListCommand


class Command(ListCommand):
    help = "List pending (issued, unresolved) commissions."

    FIELDS = {
        "serial": (lambda c: c.serial, "Serial"),
        "issuer": (lambda c: c.clientkey, "Component that issued it"),
        "name": (lambda c: c.name, "Description given by the issuer"),
        "issued": (lambda c: c.issue_datetime.strftime("%Y-%m-%d %H:%M:%S"), "Issue time (UTC)"),
        "provisions": (lambda c: c.provision_count, "Number of provisions"),
    }
    DEFAULT_FIELDS = ("serial", "issuer", "name", "issued", "provisions")
    FILTERS = {"serial": "serial", "issuer": "clientkey", "name": "name"}

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--issuer", "--component", dest="issuer", help="Only commissions of this component")

    def get_queryset(self, options):
        commissions = Commission.objects.annotate(provision_count=Count("provisions")).order_by("serial")
        if options["issuer"]:
            commissions = commissions.filter(clientkey=options["issuer"])
        return commissions
