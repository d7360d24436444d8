"""Built-in defaults of the volume store (Archipelago) as seen from the Django side."""

# The archipelago configuration file (``/etc/default/archipelago`` style) that says where volume
# maps, volume objects and the Pithos blocks live. None: derived from the data directory
# (<data dir>/archip/{maps,objects,pithosmaps} beside PITHOS_BACKEND_BLOCK_PATH), the same
# configuration ``snf-manage archipelago-config`` prints. Used by `snf-manage pithos-gc` (volume
# maps reference blocks), snapshot registration and clones of Pithos images.
ARCHIPELAGO_CONFIG = None
