"""Ganeti backends, and the minimal VM record the update path writes to.

``VirtualMachine`` here holds only what the dispatcher maintains (operational state and the
last Ganeti job seen); the compute service extends it with flavors, NICs, volumes, quotas.
"""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db import models
from django.utils import timezone

from synnefo.cyclades import crypto

EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


class Backend(models.Model):
    """A Ganeti cluster Cyclades drives through its RAPI (SYNNEFO.md 1.3)."""

    HYPERVISORS = [("kvm", "kvm"), ("xen-pvm", "xen-pvm"), ("xen-hvm", "xen-hvm"), ("fake", "fake")]

    clustername = models.CharField(max_length=255, unique=True, help_text="Ganeti cluster name (as in eventd's messages)")
    host = models.CharField(max_length=255, blank=True, default="", help_text="RAPI address when not the cluster name")  # "simulated": in-process cluster, see ganeti/simulated.py
    port = models.PositiveIntegerField(default=5080)
    username = models.CharField(max_length=128, blank=True, default="")
    password_encrypted = models.TextField(blank=True, default="")
    ca_file = models.CharField(max_length=1024, blank=True, default="", help_text="CA (or self-signed cert) to verify RAPI's TLS")
    insecure = models.BooleanField(default=False, help_text="Do not verify RAPI's TLS certificate")
    drained = models.BooleanField(default=False)
    offline = models.BooleanField(default=False)
    public = models.BooleanField(default=True)
    hypervisor = models.CharField(max_length=32, choices=HYPERVISORS, default="kvm")
    disk_templates = models.JSONField(default=list, blank=True)
    mfree = models.BigIntegerField(default=0)
    mtotal = models.BigIntegerField(default=0)
    dfree = models.BigIntegerField(default=0)
    dtotal = models.BigIntegerField(default=0)
    pinst_cnt = models.IntegerField(default=0)
    ctotal = models.IntegerField(default=0)
    updated = models.DateTimeField(null=True, blank=True, help_text="When the statistics were last read from RAPI")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"Backend {self.id} ({self.clustername})"

    def __repr__(self) -> str:  # never the password
        return f"<Backend {self.id} {self.clustername}:{self.port}>"

    @property
    def password(self) -> str:
        return crypto.decrypt(self.password_encrypted)

    @password.setter
    def password(self, value: str) -> None:
        self.password_encrypted = crypto.encrypt(value or "")

    @property
    def rapi_host(self) -> str:
        return self.host or self.clustername

    def get_client(self):
        """The pooled RAPI client of this backend. ServiceUnavailable-like error when offline."""
        from synnefo.cyclades.ganeti.rapi import GanetiConnectionError, client_for

        if self.offline:
            raise GanetiConnectionError(f"backend {self.id} ({self.clustername}) is offline")
        if self.host == "simulated":
            from synnefo.cyclades.ganeti import simulated

            return simulated.client_for(self.clustername)
        return client_for(
            self.rapi_host, self.port, self.username, self.password,
            ca_file=self.ca_file or None, insecure=self.insecure,
            timeout=settings.GANETI_RAPI_TIMEOUT, retries=settings.GANETI_RAPI_RETRIES,
        )


class VirtualMachine(models.Model):
    """A server: what the user asked for (name, flavor, image, metadata) and what the update
    path learns from Ganeti (operstate, the last job). ``task``/``task_job_id`` is the pending
    action the API started (SYNNEFO.md 1.8) and ``serial`` its quota commission, decided by the
    dispatcher when that job ends."""

    OPER_STATES = [(s, s) for s in ("BUILD", "ERROR", "STOPPED", "STARTED", "DESTROYED", "RESIZE")]

    name = models.CharField(max_length=255, blank=True, default="")
    userid = models.CharField(max_length=100, blank=True, default="", db_index=True)
    # Deleted VMs keep their history when their backend is removed (backend-remove refuses while
    # active ones remain).
    backend = models.ForeignKey(Backend, null=True, blank=True, on_delete=models.SET_NULL, related_name="virtual_machines")
    operstate = models.CharField(max_length=30, choices=OPER_STATES, default="BUILD")
    deleted = models.BooleanField(default=False, db_index=True)
    buildpercentage = models.IntegerField(default=0)
    backendjobid = models.PositiveIntegerField(null=True, blank=True)
    backendopcode = models.CharField(max_length=50, null=True, blank=True)
    backendjobstatus = models.CharField(max_length=30, null=True, blank=True)
    backendlogmsg = models.TextField(null=True, blank=True)
    # Time of the last applied Ganeti event: the ordering guard drops anything not newer.
    backendtime = models.DateTimeField(default=EPOCH)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True, db_index=True)

    flavor = models.ForeignKey("Flavor", null=True, blank=True, on_delete=models.PROTECT, related_name="servers")
    imageid = models.CharField(max_length=100, blank=True, default="")
    project = models.CharField(max_length=100, blank=True, default="")
    suspended = models.BooleanField(default=False)
    task = models.CharField(max_length=30, null=True, blank=True)
    task_job_id = models.PositiveBigIntegerField(null=True, blank=True)
    serial = models.BigIntegerField(null=True, blank=True)  # commission of the pending task
    action = models.CharField(max_length=30, null=True, blank=True)  # last action requested
    key_names = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["userid", "deleted"], name="cyclades_vm_user_live")]

    @property
    def backend_vm_id(self) -> str:
        return f"{settings.BACKEND_PREFIX_ID}{self.id}"


class VirtualMachineMetadata(models.Model):
    """One ``metadata`` key of a server (``OS``, ``USERS``, ... are copied from the image)."""

    vm = models.ForeignKey(VirtualMachine, on_delete=models.CASCADE, related_name="metadata")
    meta_key = models.CharField(max_length=50)
    meta_value = models.CharField(max_length=500)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["vm", "meta_key"], name="cyclades_vm_meta_key_unique")]


class VirtualMachineDiagnostic(models.Model):
    """A message about a server's build or life (snf-image progress, errors), shown to its owner."""

    LEVELS = [(s, s) for s in ("DEBUG", "INFO", "WARNING", "ERROR")]

    vm = models.ForeignKey(VirtualMachine, on_delete=models.CASCADE, related_name="diagnostics")
    level = models.CharField(max_length=20, choices=LEVELS)
    source = models.CharField(max_length=100)
    source_date = models.DateTimeField(null=True, blank=True)
    message = models.CharField(max_length=255)
    details = models.TextField(blank=True, default="")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created", "-id"]


class ServerParams(models.Model):
    """Secret deployment parameters (password, personality, image properties) that must not go
    through Ganeti's job files. snf-image fetches them once from the ``config_url`` given in the
    OS parameters; only the SHA-256 of that URL's key is stored, the parameters encrypted."""

    digest = models.CharField(max_length=64, unique=True)
    vm = models.ForeignKey(VirtualMachine, on_delete=models.CASCADE, related_name="+")
    data_encrypted = models.TextField()
    created = models.DateTimeField(auto_now_add=True)


def active_vm_count(backend: Backend) -> int:
    """VMs that still live on the backend (the hook backend-remove checks)."""
    return VirtualMachine.objects.filter(backend=backend, deleted=False).count()


class VolumeType(models.Model):
    """A kind of disk, named after its Ganeti disk template (SYNNEFO.md 4.7): ``drbd``,
    ``plain``, ``file``, ``sharedfile``, ``rbd``, or ``ext_<provider>`` (ExtStorage, e.g.
    ``ext_archipelago``). Deleted types stay for the flavors and volumes that used them."""

    name = models.CharField(max_length=255)
    disk_template = models.CharField(max_length=64)
    deleted = models.BooleanField(default=False)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"VolumeType {self.id} ({self.name}, {self.disk_template})"

    @property
    def template(self) -> str:
        """The Ganeti disk template: the part before ``_`` (``ext`` for ``ext_archipelago``)."""
        return self.disk_template.split("_", 1)[0]

    @property
    def provider(self) -> str | None:
        """The ExtStorage provider (``archipelago`` for ``ext_archipelago``), else None."""
        parts = self.disk_template.split("_", 1)
        return parts[1] if len(parts) == 2 else None


class Flavor(models.Model):
    """A hardware shape users pick for a server: CPUs, RAM (MiB), disk (GiB) and the volume
    type of its root disk. ``allow_create=False`` flavors are only reachable by resizing;
    non-public ones are hidden from users (projects get access later, with flavor access).
    Flavors are never removed, only marked deleted, since servers keep pointing at them."""

    cpu = models.PositiveIntegerField()
    ram = models.PositiveIntegerField()
    disk = models.PositiveIntegerField()
    volume_type = models.ForeignKey(VolumeType, on_delete=models.PROTECT, related_name="flavors")
    deleted = models.BooleanField(default=False)
    allow_create = models.BooleanField(default=True)
    public = models.BooleanField(default=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["cpu", "ram", "disk", "volume_type"], name="cyclades_flavor_shape_unique")
        ]

    def __str__(self) -> str:
        return f"Flavor {self.id} ({self.name})"

    @property
    def name(self) -> str:
        """Upstream's name: ``C<cpu>R<ram>D<disk><disk template>``, e.g. ``C1R1024D20drbd``."""
        return f"C{self.cpu}R{self.ram}D{self.disk}{self.volume_type.disk_template}"


class Keypair(models.Model):
    """A user's SSH public key, by name; servers created with it get it as an authorized key."""

    userid = models.CharField(max_length=100, db_index=True)
    name = models.CharField(max_length=255)
    public_key = models.TextField()
    fingerprint = models.CharField(max_length=64)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["userid", "name"], name="cyclades_keypair_name_unique")]


# --- Resource pools (SYNNEFO.md 4.4; logic in logic/pools.py) -----------------------------


class PoolTable(models.Model):
    """A pool of ``size`` values as two bitmaps (bit = 1: free). ``available_map`` tracks what
    Cyclades handed out; ``reserved_map`` tracks *external* reservations (an administrator's, or
    Ganeti's). A value is free only when free in both. ``base``/``offset`` say how an index maps
    to a value, per pool type (see logic/pools.py). Rows are always read ``select_for_update``."""

    size = models.PositiveIntegerField()
    base = models.CharField(max_length=64)
    offset = models.IntegerField(default=0)
    available_map = models.TextField(default="")
    reserved_map = models.TextField(default="")

    class Meta:
        abstract = True
        ordering = ["id"]


class BridgePoolTable(PoolTable):
    """Bridges (links) of PHYSICAL_VLAN networks: ``base`` prv, size 20 -> prv1..prv20."""


class MacPrefixPoolTable(PoolTable):
    """MAC prefixes of MAC_FILTERED networks, ``base`` e.g. aa:00:0."""


class IPPoolTable(PoolTable):
    """The addresses of one allocation range of a subnet: ``base`` is the subnet's CIDR,
    ``offset`` the first address of the range minus the network address."""

    subnet = models.ForeignKey("Subnet", null=True, blank=True, on_delete=models.CASCADE, related_name="ip_pools")



# --- Networks (docs/networks.md; logic in logic/networks.py) ------------------------------


class Network(models.Model):
    """A virtual network. Its flavor decides how Ganeti connects NICs to it and so how its
    traffic is kept apart (SYNNEFO.md 4.3): ``mode``/``link``/``mac_prefix``/``tags`` are filled
    from the flavor at creation (``pool`` values come from the bridge / MAC-prefix pools and
    go back there on deletion). Public networks have no owner and are created by
    administrators; private ones belong to ``userid`` and count against
    ``cyclades.network.private``."""

    FLAVORS = ("MAC_FILTERED", "PHYSICAL_VLAN", "IP_LESS_ROUTED", "CUSTOM")
    STATES = [(s, s) for s in ("PENDING", "ACTIVE", "ERROR", "DELETED")]
    ACTIONS = [(s, s) for s in ("CREATE", "DESTROY")]

    name = models.CharField(max_length=128, blank=True, default="")
    userid = models.CharField(max_length=100, null=True, blank=True, db_index=True)
    project = models.CharField(max_length=100, null=True, blank=True)
    flavor = models.CharField(max_length=32, default="MAC_FILTERED")
    mode = models.CharField(max_length=16)
    link = models.CharField(max_length=128, null=True, blank=True)
    mac_prefix = models.CharField(max_length=32)
    tags = models.CharField(max_length=255, blank=True, default="")  # comma-separated Ganeti tags
    public = models.BooleanField(default=False, db_index=True)
    external_router = models.BooleanField(default=False)
    floating_ip_pool = models.BooleanField(default=False)
    drained = models.BooleanField(default=False)
    state = models.CharField(max_length=32, choices=STATES, default="PENDING")
    action = models.CharField(max_length=32, choices=ACTIONS, null=True, blank=True)
    deleted = models.BooleanField(default=False, db_index=True)
    link_from_pool = models.BooleanField(default=False)
    mac_prefix_from_pool = models.BooleanField(default=False)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"Network {self.id} ({self.name})"

    @property
    def backend_id(self) -> str:
        """The Ganeti network name: ``<BACKEND_PREFIX_ID>net-<id>``."""
        return f"{settings.BACKEND_PREFIX_ID}net-{self.id}"

    @property
    def tag_list(self) -> list[str]:
        return [t for t in self.tags.split(",") if t]


class Subnet(models.Model):
    """An IPv4 or IPv6 range of a network (at most one of each). IPv4 addresses come from the
    subnet's IP pools, one per allocation range."""

    network = models.ForeignKey(Network, on_delete=models.CASCADE, related_name="subnets")
    userid = models.CharField(max_length=100, null=True, blank=True)
    name = models.CharField(max_length=128, blank=True, default="")
    ipversion = models.PositiveSmallIntegerField(default=4)
    cidr = models.CharField(max_length=64)
    gateway = models.CharField(max_length=64, null=True, blank=True)
    dhcp = models.BooleanField(default=True)
    dns_nameservers = models.JSONField(default=list, blank=True)
    host_routes = models.JSONField(default=list, blank=True)
    public = models.BooleanField(default=False)
    deleted = models.BooleanField(default=False)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]


class BackendNetwork(models.Model):
    """A network as it exists (or is being made to exist) on one Ganeti backend."""

    OPER_STATES = [(s, s) for s in ("PENDING", "ACTIVE", "ERROR", "DELETED")]

    network = models.ForeignKey(Network, on_delete=models.CASCADE, related_name="backend_networks")
    backend = models.ForeignKey(Backend, on_delete=models.CASCADE, related_name="networks")
    operstate = models.CharField(max_length=30, choices=OPER_STATES, default="PENDING")
    mac_prefix = models.CharField(max_length=32, blank=True, default="")
    backendjobid = models.PositiveIntegerField(null=True, blank=True)
    backendopcode = models.CharField(max_length=50, null=True, blank=True)
    backendjobstatus = models.CharField(max_length=30, null=True, blank=True)
    backendlogmsg = models.TextField(null=True, blank=True)
    backendtime = models.DateTimeField(default=EPOCH)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["network", "backend"], name="cyclades_backend_network_unique")]


class NetworkInterface(models.Model):
    """A port: a place on a network for one NIC, of a server or not (yet) attached."""

    STATES = [(s, s) for s in ("ACTIVE", "BUILD", "DOWN", "ERROR")]

    name = models.CharField(max_length=128, blank=True, default="")
    userid = models.CharField(max_length=100, db_index=True)
    network = models.ForeignKey(Network, on_delete=models.PROTECT, related_name="ports")
    machine = models.ForeignKey(VirtualMachine, null=True, blank=True, on_delete=models.SET_NULL, related_name="nics")
    mac = models.CharField(max_length=32)
    index = models.IntegerField(null=True, blank=True)
    device_owner = models.CharField(max_length=128, blank=True, default="")
    state = models.CharField(max_length=32, choices=STATES, default="DOWN")
    firewall_profile = models.CharField(max_length=30, null=True, blank=True)
    security_groups = models.JSONField(default=list, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["network", "mac"], name="cyclades_nic_mac_unique")]


class IPAddress(models.Model):
    """An address of a subnet in use: by a port, or held as a floating IP."""

    network = models.ForeignKey(Network, on_delete=models.PROTECT, related_name="ips")
    subnet = models.ForeignKey(Subnet, on_delete=models.PROTECT, related_name="ips")
    nic = models.ForeignKey(NetworkInterface, null=True, blank=True, on_delete=models.SET_NULL, related_name="ips")
    userid = models.CharField(max_length=100, db_index=True)
    project = models.CharField(max_length=100, null=True, blank=True)
    address = models.CharField(max_length=64)
    ipversion = models.PositiveSmallIntegerField(default=4)
    floating_ip = models.BooleanField(default=False)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["network", "address"], name="cyclades_ip_address_unique")]


class IPAddressHistory(models.Model):
    """When an address started (``associate``) or stopped (``disassociate``) being used by a
    server, and why (upstream's ``IPAddressHistory``; ``snf-manage ip-list --history``). Plain
    ids, not foreign keys: the history outlives servers, networks and addresses."""

    ASSOCIATE, DISASSOCIATE = "associate", "disassociate"
    ACTIONS = ((ASSOCIATE, "associate"), (DISASSOCIATE, "disassociate"))

    address = models.CharField(max_length=64, db_index=True)
    server_id = models.BigIntegerField(db_index=True)
    network_id = models.BigIntegerField(db_index=True)
    user_id = models.CharField(max_length=100, db_index=True)
    action = models.CharField(max_length=16, choices=ACTIONS)
    action_date = models.DateTimeField(default=timezone.now, db_index=True)
    action_reason = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["action_date", "id"]


# --- Volumes (docs/volume-api.md; logic in logic/volumes.py) -------------------------------


class Volume(models.Model):
    """A disk (SYNNEFO.md 6.2): a server's root disk (``index`` 0, made with the server) or a
    volume the user created, attached to a server (``machine``) or, for detachable volume
    types, not. ``source`` says what it was made from: ``image:<id>``, ``snapshot:<id>``,
    ``volume:<id>`` or blank; ``origin`` is its Archipelago map in the volume store
    (``ext_archipelago`` volumes). ``serial``: the quota commission of its pending change."""

    STATUSES = [(s, s) for s in ("CREATING", "AVAILABLE", "ATTACHING", "DETACHING", "IN_USE", "DELETING", "DELETED",
                                 "ERROR", "ERROR_DELETING")]

    userid = models.CharField(max_length=100, db_index=True)
    project = models.CharField(max_length=100, blank=True, default="")
    name = models.CharField(max_length=255, blank=True, default="")
    description = models.CharField(max_length=255, blank=True, default="")
    size = models.PositiveIntegerField()  # GiB
    volume_type = models.ForeignKey(VolumeType, on_delete=models.PROTECT, related_name="volumes")
    machine = models.ForeignKey(VirtualMachine, null=True, blank=True, on_delete=models.SET_NULL, related_name="volumes")
    index = models.PositiveIntegerField(null=True, blank=True)
    source = models.CharField(max_length=128, blank=True, default="")
    origin = models.CharField(max_length=128, blank=True, default="")
    delete_on_termination = models.BooleanField(default=True)
    status = models.CharField(max_length=30, choices=STATUSES, default="CREATING")
    backendjobid = models.PositiveBigIntegerField(null=True, blank=True)
    # The Ganeti backend keeping the volume as a detached disk (Ganeti's "detach"): attaching it
    # to a server there is Ganeti's "attach"; elsewhere an "add" of its existing data.
    detached_on = models.ForeignKey(Backend, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    serial = models.BigIntegerField(null=True, blank=True)
    snapshot_counter = models.PositiveIntegerField(default=0)
    deleted = models.BooleanField(default=False, db_index=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["userid", "deleted"], name="cyclades_volume_user_live")]

    def __str__(self) -> str:
        return f"Volume {self.id} ({self.name})"

    @property
    def backend_volume_uuid(self) -> str:
        """The Ganeti disk name and Archipelago map name: ``<BACKEND_PREFIX_ID>vol-<id>``."""
        return f"{settings.BACKEND_PREFIX_ID}vol-{self.id}"

    @property
    def source_kind(self) -> str:
        return self.source.partition(":")[0]

    @property
    def source_id(self) -> str:
        return self.source.partition(":")[2]


class VolumeMetadata(models.Model):
    volume = models.ForeignKey(Volume, on_delete=models.CASCADE, related_name="metadata")
    meta_key = models.CharField(max_length=50)
    meta_value = models.CharField(max_length=500)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["volume", "meta_key"], name="cyclades_volume_meta_key_unique")]
