"""Identity-service pages at the host root: the admin pages (``ASTAKOS_ADMIN_PREFIX``)."""

from django.conf import settings
from django.urls import include, path
from django.views.generic import RedirectView

_prefix = settings.ASTAKOS_ADMIN_PREFIX.strip("/")

urlpatterns = [
    path(_prefix, RedirectView.as_view(url=f"/{_prefix}/", permanent=False)),
    path(f"{_prefix}/", include("synnefo.astakos.admin_ui.urls")),
]
