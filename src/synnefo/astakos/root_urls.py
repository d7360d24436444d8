"""Identity-service pages at the host root: the admin pages (``ASTAKOS_ADMIN_PREFIX``)."""

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.urls import include, path
from django.views.generic import RedirectView

_prefix = (settings.ASTAKOS_ADMIN_PREFIX or "").strip("/")
if not _prefix:
    raise ImproperlyConfigured("ASTAKOS_ADMIN_PREFIX must be a path below the host root, e.g. '/admin'")

urlpatterns = [
    path(_prefix, RedirectView.as_view(url=f"/{_prefix}/", permanent=False)),
    path(f"{_prefix}/", include("synnefo.astakos.admin_ui.urls")),
]
