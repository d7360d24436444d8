"""Public objects: ``/pithos/public/<id>`` serves a published object to anyone, no token."""

from synnefo.pithos.api.object_read import content_response
from synnefo.pithos.api.util import pithos_api
from synnefo.pithos.backend import objects


@pithos_api(("GET",))
def public_view(request, public_id: str):
    container, name = objects.resolve_public(public_id)
    version = objects.get_version(container, name)
    return content_response(request, version, full_headers=False)
