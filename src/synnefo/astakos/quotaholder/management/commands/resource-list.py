from synnefo.astakos.quotaholder.models import Resource
from synnefo.astakos.quotaholder.resources import show_quantity
from synnefo.common.management import ListCommand


class Command(ListCommand):
    help = "List resources and their default limits (bytes shown in binary units, 'inf' for unlimited)."

    FIELDS = {
        "id": (lambda r: r.pk, "Numeric id"),
        "name": (lambda r: r.name, "Resource name"),
        "service": (lambda r: r.service_origin, "Component whose usage it counts"),
        "type": (lambda r: r.service_type, "Catalog type of that service"),
        "unit": (lambda r: r.unit, "'bytes' or empty for a count"),
        "system_default": (lambda r: show_quantity(r.uplimit, r.unit), "Default limit of every user (base project)"),
        "project_default": (lambda r: show_quantity(r.project_default, r.unit), "Default member limit in other projects"),
        "api_visible": (lambda r: r.api_visible, "Shown by the API"),
        "ui_visible": (lambda r: r.ui_visible, "Shown in the web UI"),
        "description": (lambda r: r.description, "Description"),
    }
    DEFAULT_FIELDS = ("id", "name", "service", "unit", "system_default", "project_default", "api_visible")
    FILTERS = {"name": "name", "service": "service_origin", "api_visible": "api_visible", "ui_visible": "ui_visible"}

    def get_queryset(self, options):
        return Resource.objects.order_by("name")
