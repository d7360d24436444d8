from synnefo.astakos.quotaholder.models import Component
from synnefo.common.management import ListCommand


class Command(ListCommand):
    help = "List components (services with a service token)."

    FIELDS = {
        "id": (lambda c: c.pk, "Numeric id"),
        "name": (lambda c: c.name, "Component name"),
        "url": (lambda c: c.url, "Base/UI URL"),
        "token_created": (lambda c: c.token_created.strftime("%Y-%m-%d %H:%M"), "When the token was issued (UTC)"),
        "token_expires": (lambda c: c.token_expires.strftime("%Y-%m-%d %H:%M") if c.token_expires else "never", "Token expiry (UTC)"),
    }
    DEFAULT_FIELDS = ("id", "name", "url", "token_created", "token_expires")
    FILTERS = {"id": "pk", "name": "name"}

    def get_queryset(self, options):
        return Component.objects.order_by("name")
