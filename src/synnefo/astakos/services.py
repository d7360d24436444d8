"""The identity component's services, as they appear in the catalog."""

from synnefo.common.components import Service

SERVICES = [
    Service("astakos_identity", "identity", "identity/v2.0", "v2.0", v3_path="identity/v3"),
    Service("astakos_account", "account", "account/v1.0", "v1.0", ui=True),
    Service("astakos_ui", "astakos_ui", "ui", in_v3_catalog=False),
]
