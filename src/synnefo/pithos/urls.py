"""URLs of the file storage service, below its prefix (``/pithos`` by default)."""

from django.urls import re_path

from synnefo.pithos.api import account, container, object as object_api, public, swift

# Object-store paths, shared with the Swift-compatible mount at the host root (root_urls).
store_patterns = [
    re_path(r"^(?P<account>[^/]+)/?$", account.account_view),
    re_path(r"^(?P<account>[^/]+)/(?P<container>[^/]+)/?$", container.container_view),
    re_path(r"^(?P<account>[^/]+)/(?P<container>[^/]+)/(?P<obj>.+)$", object_api.object_view),
]

urlpatterns = [
    re_path(r"^object-store/v1/?$", account.service_root),
    re_path(r"^object-store/info/?$", swift.info),
    re_path(r"^public/(?P<public_id>[A-Za-z0-9]+)/?$", public.public_view),
] + [re_path(r"^object-store/v1/" + p.pattern.regex.pattern[1:], p.callback) for p in store_patterns]
