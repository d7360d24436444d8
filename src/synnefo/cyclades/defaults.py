"""Built-in defaults of Cyclades (compute, Ganeti backends, update path). Names follow upstream."""

# Public base URL of Cyclades. None: derived from each request's host, with the path prefix
# /cyclades (right for an all-in-one node). Set it when a proxy is in front, e.g.
# "https://cyclades.example.org/cyclades"; its path is where the service is mounted.
CYCLADES_BASE_URL = None

# --- Ganeti backends ---------------------------------------------------------------------

# Prefix of Ganeti instance names (instance "snf-42" is VirtualMachine 42). The part before the
# first "-" is also the routing-key prefix of eventd's messages (ganeti.snf.event.op).
BACKEND_PREFIX_ID = "snf-"

# RAPI client: seconds to wait for an answer, seconds to wait for the TCP connection, and how
# many times a failed *connection* is retried (an answered request is never retried).
GANETI_RAPI_TIMEOUT = 30
GANETI_RAPI_CONNECT_TIMEOUT = 5
GANETI_RAPI_RETRIES = 3

# Allocator (see docs/ganeti.md). Dotted path of the strategy class: a subclass of
# synnefo.cyclades.logic.allocator.AllocatorBase (filter_backends + allocate).
BACKEND_ALLOCATOR_MODULE = "synnefo.cyclades.logic.allocator.FilterAllocator"
# Filters applied in order by FilterAllocator (each a subclass of FilterBase).
BACKEND_FILTER_ALLOCATOR_FILTERS = [
    "synnefo.cyclades.logic.allocator.PublicFilter",
    "synnefo.cyclades.logic.allocator.DefaultFilter",
]
# {user uuid: backend id or cluster name}: that user's VMs always go there, even if drained.
BACKEND_PER_USER = {}
# Refresh a candidate backend's resource statistics through RAPI when older than this (minutes).
BACKEND_REFRESH_MIN = 15

# --- Messaging (AMQP) --------------------------------------------------------------------

# Brokers, tried in random order with failover to the next. Each is a kombu URL:
# "amqp://user:pass@host:5672//" for RabbitMQ, or "filesystem://" for the embedded transport of
# an all-in-one node (message files under AMQP_FILESYSTEM_DIR; see docs/ganeti.md for its limits).
# None: "filesystem://" in the data directory.
AMQP_HOSTS = None
# Directory of the embedded filesystem transport. None: <SYNNEFO_DATA_DIR>/amqp.
AMQP_FILESYSTEM_DIR = None
# Seconds to wait for a broker connection (and for a publisher confirm) before failing over.
AMQP_CONNECT_TIMEOUT = 5
# Topic exchange of Ganeti events and its dead-letter exchange.
EXCHANGE_GANETI = "ganeti"
EXCHANGE_GANETI_DL = "ganeti-dl"

# --- Dispatcher --------------------------------------------------------------------------

# Messages a dispatcher takes from the broker before acknowledging earlier ones.
DISPATCHER_PREFETCH_COUNT = 5
# Seconds without any message after which the dispatcher reconnects (maybe to another broker)
# and warns that snf-ganeti-eventd may not be running.
DISPATCHER_RECONNECT_TIMEOUT = 600

# --- Servers (compute) -------------------------------------------------------------------

# What every Ganeti instance creation starts from (SYNNEFO.md 1.3). ``hvparams`` is per
# hypervisor: the backend's hypervisor picks its entry.
GANETI_CREATEINSTANCE_KWARGS = {
    "os": "snf-image+default",
    "hvparams": {"kvm": {"serial_console": False}},
    "wait_for_sync": False,
}
# None: Cyclades picks each new instance's primary node itself (the online, VM-capable node
# with the most free memory); a name (e.g. "hail") hands the choice to that Ganeti iallocator.
# One-node clusters need None: hail refuses every allocation there (see docs/ganeti.md).
GANETI_IALLOCATOR = None
# The NICs of a new instance while servers have no networks of their own (networks come with the
# network service): each dict is a Ganeti NIC; {} takes the cluster's default NIC parameters.
# Ganeti's default instance policy wants at least one NIC.
GANETI_DEFAULT_INSTANCE_NICS = [{}]
# Limits on what a create request may carry.
CYCLADES_VM_MAX_METADATA = 10
CYCLADES_VM_MAX_PERSONALITY = 5
CYCLADES_VM_MAX_PERSONALITY_SIZE = 10240  # bytes of each file, decoded
CYCLADES_VM_MAX_NAME_LENGTH = 255
# The host name servers are given (SNF:fqdn); %(id)s is the server id.
CYCLADES_SERVERS_FQDN = "snf-%(id)s.vm.example.synnefo.org"
# Seconds a deleted server stays listed (with changes-since and in listings as DELETED).
CYCLADES_DELETED_SERVERS_VISIBLE = 3600
# snf-image fetches a server's secret deployment parameters once from
# <VMAPI base>/vmapi/v1.0/server-params/<key>. None: the Cyclades base URL. Set it when the
# Ganeti nodes reach Cyclades at another address than users do.
VMAPI_BASE_URL = None
# Forget the parameters after the first read (they hold the root password).
VMAPI_RESET_PARAMS = True
# Drop parameters never fetched after this many seconds (the build failed or was cancelled).
VMAPI_PARAMS_LIFETIME = 24 * 3600

# --- Server consoles (the `console` action; see docs/compute.md "Consoles") ---------------

# The snf-vncauthproxy instances Cyclades asks for console forwardings; one is picked at random
# per request (then the others, if it fails). Each is a dict:
#   server_address, server_port  its control socket (snf-vncauthproxy --control-address/-port;
#                                24999 by default)
#   auth_user, auth_password     a user:password line of its --credentials file (None: none sent)
#   enable_ssl                   the control socket speaks TLS (--cert/--key); default False
#   ca_cert                      CA bundle that signed its certificate (None: the system's)
#   strict                       verify its certificate (ca_cert or the system's CAs) and host
#                                name; default False: encrypted but unverified (upstream's)
#   proxy_address                the address VNC clients reach it at; None: what the proxy
#                                answers (its --public-address), else server_address
#   timeout                      seconds to wait for the control socket; default 10
# [] (the default): no consoles; the action answers 503.
CYCLADES_VNCAUTHPROXY_OPTS = []
# Nova's os-getVNCConsole {"type": "novnc"} answers this noVNC page (its vnc.html, served by
# the operator) with host, port, password, encrypt, path and autoconnect query parameters for a
# new WebSocket forwarding: vnc-wss when the page is https (browsers allow nothing else there),
# vnc-ws otherwise. None: os-getVNCConsole is 501; the console action works regardless.
CYCLADES_NOVNC_URL = None
# Characters of each console's one-time password. VNC uses at most 8 (longer are truncated).
CYCLADES_CONSOLE_PASSWORD_LENGTH = 8

# --- The simulated Ganeti cluster (snf-ganeti-simulated; see docs/ganeti.md) --------------
# `synnefo up` runs it beside gunicorn as ONE RAPI service on 127.0.0.1, so every web worker
# sees the same SIMULATED cluster; the bootstrapped backend `simulated.local` points at it.

# Its port on 127.0.0.1 (a real Ganeti RAPI listens on 5080; this stays clear of it).
SIMULATED_GANETI_PORT = 5180
# The cluster's name (the backend's clustername; eventd's messages carry it).
SIMULATED_GANETI_CLUSTER_NAME = "simulated.local"
# Job duration factor: 1 = Ganeti-like (create 1.5 s, other instance jobs 0.8 s), 0.1 = 10x faster.
SIMULATED_GANETI_SPEED = 1.0
# Where its certificate, RAPI password and saved state live. None: <data dir>/ganeti-simulated.
SIMULATED_GANETI_DIR = None

# --- Networks (docs/networks.md) -------------------------------------------------------------

# Network flavors users may create through the API ("type" of POST /networks). Administrators
# create any flavor with snf-manage network-create.
API_ENABLED_NETWORK_FLAVORS = ["MAC_FILTERED"]
# Link of CUSTOM networks (and of flavors whose link is not pooled), and the MAC prefix of
# flavors whose prefix is not pooled (the MAC-prefix pool's index 0 is kept for them).
DEFAULT_BRIDGE = "br0"
DEFAULT_MAC_PREFIX = "aa:00:0"
# The shared bridge of MAC_FILTERED networks (ebtables filter by MAC prefix on it).
DEFAULT_MAC_FILTERED_BRIDGE = "prv0"
# The largest IPv4 subnet users and administrators may create (smallest prefix length); the
# smallest is a /29.
MAX_CIDR_BLOCK = 22
# False: a private network is created on every backend at once (so servers of any backend can
# join it, and backend-add creates it on new backends). True: only on a backend where a server
# joins it, for deployments with many backends.
CYCLADES_LAZY_PRIVATE_NETWORKS = False
# Length limits of names given to networks, subnets and ports.
CYCLADES_NETWORK_MAX_NAME_LENGTH = 128
# At most this many NICs (networks) per server.
GANETI_MAX_NICS_PER_INSTANCE = 8
# Networks of a server whose create body has no "networks": network ids, "SNF:ANY_PUBLIC_IPV4"
# (any public network that is not a floating IP pool, with a free address), "SNF:ANY_PUBLIC_IPV6"
# (an IPv6-only public network), "SNF:ANY_PUBLIC" (either, IPv4 first), or a list of those (the
# first with a free address). [] : Ganeti's default NICs, as before.
CYCLADES_DEFAULT_SERVER_NETWORKS = []
# Networks added to every new server, after the user's: same entries, no ownership or
# floating-IP checks (e.g. an administrators' management network).
CYCLADES_FORCED_SERVER_NETWORKS = []
# Firewall profiles of NICs, as Ganeti instance tags (``%s``: the NIC's Ganeti name) that the
# hosts' network scripts (snf-network) turn into rules: ENABLED, DISABLED, PROTECTED.
GANETI_FIREWALL_ENABLED_TAG = "synnefo:network:%s:protected"
GANETI_FIREWALL_DISABLED_TAG = "synnefo:network:%s:unprotected"
GANETI_FIREWALL_PROTECTED_TAG = "synnefo:network:%s:limited"
# The profile of NICs on public networks when a server is created with them (None: no tag).
DEFAULT_FIREWALL_PROFILE = "DISABLED"
# How many times a random MAC is drawn before a port create gives up (a full prefix).
CYCLADES_MAC_ATTEMPTS = 32

# --- Volumes (docs/volume-api.md) ----------------------------------------------------------

# Volume types (disk templates) whose volumes may exist without a server and move between
# servers: created detached, attached, detached.
CYCLADES_DETACHABLE_DISK_TEMPLATES = ("ext_archipelago", "ext_vlmc")
# Largest volume users may create, in GiB; and metadata items per volume (and snapshot).
CYCLADES_VOLUME_MAX_SIZE = 200
CYCLADES_VOLUME_MAX_METADATA = 10
# Snapshots of ext_archipelago volumes (POST /snapshots); False: the snapshot API answers 501.
CYCLADES_SNAPSHOTS_ENABLED = True
