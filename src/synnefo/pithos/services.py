"""The file storage component's services, as they appear in the catalog."""

from synnefo.common.components import Service

SERVICES = [
    Service("pithos_object-store", "object-store", "object-store/v1", "v1", account_in_v3_url=True),
    Service("pithos_public", "pithos_public", "public", in_v3_catalog=False),
]
