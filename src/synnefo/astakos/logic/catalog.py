"""The service catalog, in the two shapes clients need.

The v2.0 (Astakos) catalog is what kamaki reads: one entry per service with a ``name``,
exactly one endpoint, ``versionId``, and the object store *without* the account (kamaki adds
it). The Keystone v3 catalog is what the OpenStack clients read: ``interface: public``
endpoints, identity included, and the object store *with* the account.
"""

from __future__ import annotations

from django.conf import settings

from synnefo.common.components import COMPONENTS


def _services(request):
    for component in COMPONENTS.values():
        base = component.base_url(request)
        for service in component.services:
            yield component, base, service


def v2_catalog(request) -> list[dict]:
    astakos_ui = COMPONENTS["astakos"].base_url(request) + "/ui"
    catalog = []
    for _component, base, service in _services(request):
        endpoint = {"versionId": service.version, "publicURL": f"{base}/{service.path}"}
        if service.ui:
            endpoint["SNF:uiURL"] = astakos_ui
        catalog.append({"name": service.name, "type": service.type, "endpoints_links": [], "endpoints": [endpoint]})
    return catalog


def v3_catalog(request, account: str) -> list[dict]:
    region = settings.SYNNEFO_REGION_NAME
    catalog = []
    for _component, base, service in _services(request):
        if not service.in_v3_catalog:
            continue
        url = f"{base}/{service.v3_path or service.path}"
        if service.account_in_v3_url:
            url = f"{url}/{account}"
        catalog.append(
            {
                "id": service.name,
                "name": service.name,
                "type": service.type,
                "endpoints": [
                    {
                        "id": f"{service.name}-public",
                        "interface": "public",
                        "region": region,
                        "region_id": region,
                        "url": url,
                    }
                ],
            }
        )
    return catalog
