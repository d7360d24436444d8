"""The compute component's services, as they appear in the catalog."""

from synnefo.common.components import Service

SERVICES = [
    # kamaki reads the v2.0 catalog; the OpenStack clients the v3 one, and want v2.1 there.
    Service("cyclades_compute", "compute", "compute/v2.0", "v2.0", v3_path="compute/v2.1"),
    Service("cyclades_network", "network", "network/v2.0", "v2.0"),
    # kamaki appends nothing to .../image/v1.0; the OpenStack clients discover v2 from the root.
    Service("cyclades_plankton", "image", "image/v1.0", "v1.0", v3_path="image"),
    # kamaki: Synnefo's v2.0; the OpenStack clients: Cinder v3 below the project.
    Service("cyclades_volume", "volume", "volume/v2.0", "v2.0", v3_path="volume/v3", account_in_v3_url=True),
]
