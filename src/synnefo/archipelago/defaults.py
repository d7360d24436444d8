"""Built-in defaults of the volume store (Archipelago) as seen from the Django side."""

# The archipelago configuration file (``/etc/default/archipelago`` style) that says where volume
# maps, volume objects and the Pithos blocks live. None: derived from the data directory
# (<data dir>/archip/{maps,objects,pithosmaps} beside PITHOS_BACKEND_BLOCK_PATH), the same
# configuration ``snf-manage archipelago-config`` prints. Used by `snf-manage pithos-gc` (volume
# maps reference blocks), snapshot registration and clones of Pithos images.
ARCHIPELAGO_CONFIG = None

# With PITHOS_BACKEND_STORAGE = "rados" and no ARCHIPELAGO_CONFIG, the derived configuration is
# STORAGE="rados": volume maps, locks and records in this pool, the volumes' objects and the
# blocks in Pithos's PITHOS_RADOS_POOL_BLOCKS, on the cluster of PITHOS_RADOS_CEPH_CONF.
ARCHIPELAGO_RADOS_POOL_MAPS = "maps"
