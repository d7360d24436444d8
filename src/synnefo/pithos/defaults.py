"""Built-in defaults of the file storage service (Pithos). Names follow upstream's settings."""

# Public base URL of the file storage service. None: the request's host + /pithos.
PITHOS_BASE_URL = None

# Content-addressed blocks: size in bytes and hash algorithm (hashlib name). Changing either on a
# store that holds data makes the old data unreadable: set them once, before the first upload.
PITHOS_BACKEND_BLOCK_SIZE = 4 * 1024 * 1024
PITHOS_BACKEND_HASH_ALGORITHM = "sha256"

# Block store backend and its place. "files": sharded directories under PITHOS_BACKEND_BLOCK_PATH
# (None: <data dir>/blocks); a shared filesystem (NFS) for several nodes. "rados": one RADOS
# object per block, named by its hash, in the pool PITHOS_RADOS_POOL_BLOCKS of the Ceph cluster
# that PITHOS_RADOS_CEPH_CONF describes (needs Debian's python3-rados on the node).
PITHOS_BACKEND_STORAGE = "files"
PITHOS_BACKEND_BLOCK_PATH = None
PITHOS_RADOS_CEPH_CONF = "/etc/ceph/ceph.conf"
PITHOS_RADOS_POOL_BLOCKS = "blocks"
# When block files reach the disk: "always" fsyncs every block and its directory before the
# version that uses it is committed (nothing acknowledged is ever lost); "never" leaves it to the
# kernel (faster; a power loss may lose recently acknowledged data).
PITHOS_BACKEND_FSYNC = "always"

# Write uploaded blocks with O_DIRECT (from the upload's buffer straight to the disk, no copy
# into the page cache): on virtual machines the copy into fresh page-cache pages costs more CPU
# than the hashing (docs/performance.md). Filesystems that refuse O_DIRECT (tmpfs) get normal
# writes automatically. Durability is the same either way (see PITHOS_BACKEND_FSYNC). Blocks
# written this way are not in the page cache, so the first read of them comes from the disk.
PITHOS_BACKEND_DIRECT_IO = True

# Compute the MD5 of objects uploaded by hashmap, so their ETag is the MD5 as for plain uploads
# (Swift clients verify downloads against it). Costs a read of the new blocks at upload.
PITHOS_UPDATE_MD5 = True

# Charge the bytes of current object versions to the owner's pithos.diskspace quota in the
# quotaholder (two-phase commissions; old versions are free, as upstream's free versioning).
PITHOS_USE_QUOTAHOLDER = True

# Container defaults: versioning policy ("auto" keeps old versions, "none" drops them) and quota
# in bytes (0 = unlimited). The account quota applies to the sum of all containers.
PITHOS_DEFAULT_CONTAINER_VERSIONING = "auto"
PITHOS_DEFAULT_CONTAINER_QUOTA = 0
PITHOS_DEFAULT_ACCOUNT_QUOTA = 0

# Limits. Listings return at most PITHOS_API_LIST_LIMIT entries per request.
PITHOS_API_LIST_LIMIT = 10000
PITHOS_RESOURCE_MAX_METADATA = 32
PITHOS_MAX_METADATA_KEY_LENGTH = 128
PITHOS_MAX_METADATA_VALUE_LENGTH = 256
PITHOS_ACC_MAX_GROUPS = 32
PITHOS_ACC_MAX_GROUP_MEMBERS = 32
PITHOS_MAX_CONTAINER_NAME_LENGTH = 256
PITHOS_MAX_OBJECT_NAME_LENGTH = 1024
# Largest single object upload (bytes); larger files are uploaded as segments (Swift large objects).
PITHOS_MAX_OBJECT_SIZE = 5 * 1024 * 1024 * 1024

# Public links: length of the random id in /pithos/public/<id>.
PITHOS_PUBLIC_URL_SECURITY = 16

# Garbage collection: blocks younger than this (seconds) are never collected, so uploads in
# progress (blocks sent, hashmap not yet committed) are safe.
PITHOS_GC_GRACE_PERIOD = 24 * 3600
