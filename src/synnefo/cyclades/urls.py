"""URLs of Cyclades, below its prefix (``/cyclades`` by default). API paths take an optional
trailing slash, since clients differ on it."""

from django.urls import re_path

from synnefo.cyclades.api import compute

V = r"(?P<version>v2\.[01])"

urlpatterns = [
    re_path(r"^compute/?$", compute.versions),
    re_path(rf"^compute/{V}/?$", compute.version),
    re_path(rf"^compute/{V}/flavors/?$", compute.list_flavors),
    re_path(rf"^compute/{V}/flavors/(?P<detail>detail)/?$", compute.list_flavors),
    re_path(rf"^compute/{V}/flavors/(?P<flavor_id>[^/]+)/?$", compute.show_flavor),
    re_path(rf"^compute/{V}/flavors/(?P<flavor_id>[^/]+)/os-extra_specs/?$", compute.flavor_extra_specs),
    re_path(rf"^compute/{V}/(?P<rest>.*)$", compute.unknown),
]
