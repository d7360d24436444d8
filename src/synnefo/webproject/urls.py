"""Top-level URLs: each component this node serves, mounted at its prefix."""

from importlib import import_module

from django.http import HttpResponse
from django.urls import include, path
from django.views.decorators.http import require_GET

from synnefo.common.components import served_components


@require_GET
def healthz(request):
    """Liveness check for load balancers; touches nothing (also the benchmarks' ceiling)."""
    return HttpResponse(b"ok\n", content_type="text/plain")


urlpatterns = [path("healthz", healthz)]
for component in served_components():
    urlpatterns.append(path(component.prefix + "/", include(import_module(f"synnefo.{component.name}.urls"))))
    # A component may also serve paths at the host root (e.g. Swift's /v1, /info, /auth/v1.0).
    try:
        root_urls = import_module(f"synnefo.{component.name}.root_urls")
    except ModuleNotFoundError as exc:
        if exc.name != f"synnefo.{component.name}.root_urls":
            raise  # a broken import inside root_urls must not hide its pages
        continue
    urlpatterns.append(path("", include(root_urls)))
