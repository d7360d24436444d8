"""The compute component's services, as they appear in the catalog."""

from synnefo.common.components import Service

SERVICES = [
    # kamaki reads the v2.0 catalog; the OpenStack clients the v3 one, and want v2.1 there.
    Service("cyclades_compute", "compute", "compute/v2.0", "v2.0", v3_path="compute/v2.1"),
]
