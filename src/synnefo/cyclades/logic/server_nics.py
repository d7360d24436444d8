"""A server's NICs on networks, through ports (docs/networks.md "Servers on networks").

``networks`` of a server create is a list of ``{"uuid": <network id>}`` (optionally with
``"fixed_ip"``) or ``{"port": <port id>}`` entries. Each becomes a port of the server, made in the
create transaction: a new one on the network (an address from its pools, a MAC of its prefix),
or the user's existing unattached port. The network must be the user's own private network, or a
public one where the user holds a free floating IP (``fixed_ip`` picks which), and ACTIVE on the
server's backend. Ganeti gets each NIC as
``{"name": <BACKEND_PREFIX_ID>nic-<port id>, "network": <Ganeti network>, "ip", "mac"}``. The
ports go ACTIVE when the build succeeds, and are deleted (addresses back to the pools) when the
server is removed.
"""

from __future__ import annotations

import logging

from django.conf import settings

from synnefo.common import faults
from synnefo.cyclades.logic import networks, ports
from synnefo.cyclades.models import BackendNetwork, IPAddressHistory, Network, NetworkInterface, VirtualMachine


def check_specs(specs) -> list[dict] | None:
    """The ``networks`` of a create body, checked for shape; None: absent (``"auto"``), so the
    default server networks apply; ``[]`` (or ``"none"``): none of them."""
    if specs in (None, "auto"):
        return None
    if specs in ("none", []):
        return []
    if not isinstance(specs, list):
        raise faults.BadRequest("'networks' must be a list of {\"uuid\": ...} or {\"port\": ...} objects")
    if len(specs) > settings.GANETI_MAX_NICS_PER_INSTANCE:
        raise faults.BadRequest(f"At most {settings.GANETI_MAX_NICS_PER_INSTANCE} networks per server")
    out = []
    for item in specs:
        if not isinstance(item, dict) or (("uuid" in item) == ("port" in item)):
            raise faults.BadRequest("Each network entry needs exactly one of 'uuid' (a network) or 'port'")
        fixed_ip = item.get("fixed_ip")
        if fixed_ip is not None and ("port" in item or not isinstance(fixed_ip, str)):
            raise faults.BadRequest("'fixed_ip' is an address string, given with 'uuid'")
        out.append({"uuid": item.get("uuid"), "port": item.get("port"), "fixed_ip": fixed_ip, "kind": "user"})
    return out


ANY_PUBLIC = ("SNF:ANY_PUBLIC", "SNF:ANY_PUBLIC_IPV4", "SNF:ANY_PUBLIC_IPV6")


def with_settings(specs: list[dict] | None) -> list[dict]:
    """The user's specs (or, when the body had none, ``CYCLADES_DEFAULT_SERVER_NETWORKS``) plus
    ``CYCLADES_FORCED_SERVER_NETWORKS``. A setting entry is a network id, ``SNF:ANY_PUBLIC`` /
    ``SNF:ANY_PUBLIC_IPV4`` (any public network, not a floating IP pool, with a free address), or
    a list of those (the first with a free address); ``SNF:ANY_PUBLIC_IPV6`` a public network with
    only an IPv6 subnet. Empty result: Ganeti's default NICs."""
    out = list(specs) if specs is not None else [
        {"uuid": entry, "port": None, "fixed_ip": None, "kind": "default"}
        for entry in settings.CYCLADES_DEFAULT_SERVER_NETWORKS]
    out += [{"uuid": entry, "port": None, "fixed_ip": None, "kind": "forced"}
            for entry in settings.CYCLADES_FORCED_SERVER_NETWORKS]
    if len(out) > settings.GANETI_MAX_NICS_PER_INSTANCE:
        raise faults.BadRequest(f"At most {settings.GANETI_MAX_NICS_PER_INSTANCE} networks per server, "
                                f"{len(settings.CYCLADES_FORCED_SERVER_NETWORKS)} of them always added")
    return out


def _setting_candidates(spec: dict, user: str, backend) -> list:
    """The networks a setting entry may use, in order (ids the user may not see are skipped for
    default entries; forced ones bypass the ACL). 503 when the entry names nothing usable."""
    entries = spec["uuid"] if isinstance(spec["uuid"], (list, tuple)) else [spec["uuid"]]
    found = []
    for entry in entries:
        if entry in ANY_PUBLIC:
            found += _any_public(entry, backend)
            continue
        try:
            found.append(networks.get_network(None if spec["kind"] == "forced" else user, entry))
        except faults.ItemNotFound:
            continue
    if not found:
        raise faults.ServiceUnavailable(f"No network available for the {spec['kind']} server network {spec['uuid']!r}")
    return found


def _any_public(entry: str, backend) -> list:
    """Public networks for a setting entry, ACTIVE on the backend, not drained, by id:
    ``SNF:ANY_PUBLIC_IPV4`` those with an IPv4 subnet that are not floating IP pools,
    ``SNF:ANY_PUBLIC_IPV6`` those with an IPv6 subnet and none for IPv4, ``SNF:ANY_PUBLIC``
    the former, then the latter."""
    live = Network.objects.filter(public=True, deleted=False, drained=False, backend_networks__backend=backend,
                                  backend_networks__operstate="ACTIVE").order_by("id").distinct()
    ipv4 = list(live.filter(floating_ip_pool=False, subnets__ipversion=4, subnets__deleted=False))
    ipv6_only = [n for n in live.filter(subnets__ipversion=6, subnets__deleted=False).prefetch_related("subnets")
                 if networks.subnet4(n) is None]
    return {"SNF:ANY_PUBLIC_IPV4": ipv4, "SNF:ANY_PUBLIC_IPV6": ipv6_only}.get(entry, ipv4 + ipv6_only)


def _setting_port(spec: dict, user: str, backend):
    """A port for a setting entry: no floating IP needed on public networks (the administrator
    chose them); the first candidate active on the backend with a free address wins."""
    from django.db import transaction

    candidates = _setting_candidates(spec, user, backend)
    last = None
    for network in candidates:
        try:
            _require_active(network, backend)
            with transaction.atomic():
                return ports.create_port(user, network, admin=True), network
        except faults.Conflict as error:
            last = error
    raise last


def _network(user: str, ident):
    """A network named in a create body: a reference that does not resolve is bad input (400)."""
    try:
        return networks.get_network(user, ident)
    except faults.ItemNotFound:
        raise faults.BadRequest(f"Network {ident} does not exist") from None


def _require_active(network, backend) -> None:
    if not BackendNetwork.objects.filter(network=network, backend=backend, operstate="ACTIVE").exists():
        raise faults.Conflict(f"Network {network.id} is not active on the server's backend yet; try again shortly")


def prepare(user: str, specs: list[dict], backend) -> None:
    """Before the create transaction: a private network not yet planned on the chosen backend
    (lazy creation, or a backend added while it was offline) is planned there now, in its own
    transaction, so that it is being created when the user's 409 asks to try again."""
    from django.db import transaction

    from synnefo.cyclades.logic.network_backends import plan

    for spec in specs:
        if spec["uuid"] is None or isinstance(spec["uuid"], (list, tuple)) or spec["uuid"] in ANY_PUBLIC:
            continue
        try:
            network = networks.get_network(None if spec["kind"] == "forced" else user, spec["uuid"])
        except faults.ItemNotFound:
            if spec["kind"] == "user":
                raise faults.BadRequest(f"Network {spec['uuid']} does not exist") from None
            continue
        if not network.public and not BackendNetwork.objects.filter(network=network, backend=backend).exists():
            with transaction.atomic():
                plan(network, [backend])


def attach(vm: VirtualMachine, user: str, specs: list[dict]) -> list[NetworkInterface]:
    """The server's ports, in order (in the create transaction; refusals change nothing)."""
    attached = []
    for index, spec in enumerate(specs):
        if spec["port"] is not None:
            try:
                port = ports.get_port(user, spec["port"], for_update=True)
            except faults.ItemNotFound:
                raise faults.BadRequest(f"Port {spec['port']} does not exist") from None
            if port.machine_id is not None:
                raise faults.Conflict(f"Port {port.id} is already attached to server {port.machine_id}")
            network = port.network
        elif spec["kind"] != "user":
            port, network = _setting_port(spec, user, vm.backend)
        else:
            network = _network(user, spec["uuid"])
            fixed = [{"ip_address": spec["fixed_ip"]}] if spec["fixed_ip"] else None
            port = ports.create_port(user, network, fixed_ips=fixed)
        _require_active(network, vm.backend)
        port.machine, port.index, port.state, port.device_owner = vm, index, "BUILD", "vm"
        if network.public and settings.DEFAULT_FIREWALL_PROFILE:
            port.firewall_profile = settings.DEFAULT_FIREWALL_PROFILE
        port.save()
        ports.record_use(port.ips.all(), vm.id, IPAddressHistory.ASSOCIATE, "server created")
        attached.append(port)
    return attached


def firewall_tags(attached: list[NetworkInterface]) -> list[str]:
    """The instance tags of the new server's NICs' firewall profiles."""
    return [firewall_tag(p.firewall_profile, nic_name(p)) for p in attached if p.firewall_profile]


def nic_name(port: NetworkInterface) -> str:
    return f"{settings.BACKEND_PREFIX_ID}nic-{port.id}"


def ganeti_nics(attached: list[NetworkInterface]) -> list[dict]:
    nics = []
    for port in attached:
        ip = next((a.address for a in port.ips.all() if a.ipversion == 4), None)
        nics.append({"name": nic_name(port), "network": port.network.backend_id, "ip": ip, "mac": port.mac})
    return nics


# --- a running (or stopped) server: connect and disconnect ---------------------------------

def server_for_change(user: str, server_id, task: str):
    """The user's live server, locked, for a NIC or volume change (400 if unknown: the id came
    in a body), once the server may take ``task``."""
    from synnefo.cyclades.logic import servers

    try:
        vm = servers.get_server(user, server_id, for_update=True, include_deleted=False)
    except faults.ItemNotFound:
        raise faults.BadRequest(f"Server {server_id} does not exist") from None
    servers.validate_action(vm, task)
    return vm


def connect(user: str, network, server_id, *, name: str = "", fixed_ips=None, security_groups=None) -> NetworkInterface:
    """A new port of ``network`` attached to the user's server: a NIC add job (task CONNECT).
    The port is BUILD until the job ends: ACTIVE on success, deleted on failure."""
    from django.db import transaction

    from synnefo.cyclades.logic import servers

    with transaction.atomic():
        vm = server_for_change(user, server_id, "CONNECT")
        if NetworkInterface.objects.filter(machine=vm).count() >= settings.GANETI_MAX_NICS_PER_INSTANCE:
            raise faults.Conflict(f"Server {vm.id} already has {settings.GANETI_MAX_NICS_PER_INSTANCE} NICs")
        port = ports.create_port(user, network, name=name, fixed_ips=fixed_ips, security_groups=security_groups)
        _require_active(network, vm.backend)
        last = NetworkInterface.objects.filter(machine=vm).order_by("-index").values_list("index", flat=True).first()
        port.machine, port.index, port.state, port.device_owner = vm, 0 if last is None else last + 1, "BUILD", "vm"
        port.save()
        ports.record_use(port.ips.all(), vm.id, IPAddressHistory.ASSOCIATE, "connected")
        (nic,) = ganeti_nics([port])
        servers._run_job(vm, "CONNECT", lambda client, vm_name: client.modify_instance(vm_name, nics=[["add", -1, nic]]))
    return port


def disconnect(user: str, port: NetworkInterface) -> None:
    """Detach an attached port (task DISCONNECT): a NIC remove job; the port goes when it succeeds."""
    from django.db import transaction

    from synnefo.cyclades.logic import servers

    with transaction.atomic():
        vm = server_for_change(user, port.machine_id, "DISCONNECT")
        port = NetworkInterface.objects.select_for_update().get(pk=port.pk)
        port.state = "DOWN"
        port.save(update_fields=["state", "updated"])
        name = nic_name(port)
        servers._run_job(vm, "DISCONNECT", lambda client, vm_name: client.modify_instance(vm_name, nics=[["remove", name, {}]]))


def settle_task(vm: VirtualMachine, success: bool) -> None:
    """A CONNECT or DISCONNECT job of the server ended (from the dispatcher's callback)."""
    if vm.task == "CONNECT":
        building = NetworkInterface.objects.filter(machine=vm, state="BUILD")
        if success:
            building.update(state="ACTIVE")
        else:
            _drop(building, "connect failed")
    elif vm.task == "DISCONNECT":
        leaving = NetworkInterface.objects.filter(machine=vm, state="DOWN")
        if success:
            _drop(leaving, "disconnected")
        else:
            leaving.update(state="ACTIVE")


def _drop(found, reason: str) -> None:
    """These ports of a server are gone: deleted, their addresses back (floating IPs kept)."""
    for port in list(found):
        ports.record_use(port.ips.all(), port.machine_id, IPAddressHistory.DISASSOCIATE, reason)
        port.machine = None
        port.save(update_fields=["machine"])
        ports.delete_port(port)


def activate(vm: VirtualMachine) -> None:
    NetworkInterface.objects.filter(machine=vm, state="BUILD").update(state="ACTIVE")


def release(vm: VirtualMachine) -> None:
    """The server is gone: its ports are deleted and their addresses go back to the pools."""
    _drop(NetworkInterface.objects.filter(machine=vm), "server deleted")


def addresses(vm: VirtualMachine) -> tuple[dict, list]:
    """``addresses`` and ``attachments`` of the server's API record."""
    found, attachments = {}, []
    for port in sorted(vm.nics.all(), key=lambda p: (p.index if p.index is not None else 99, p.id)):
        ips = list(port.ips.all())
        found.setdefault(str(port.network_id), []).extend(
            {"version": ip.ipversion, "addr": ip.address, "OS-EXT-IPS:type": "floating" if ip.floating_ip else "fixed",
             "OS-EXT-IPS-MAC:mac_addr": port.mac} for ip in ips)
        attachments.append({"id": str(port.id), "network_id": str(port.network_id), "mac_address": port.mac,
                            "firewallProfile": port.firewall_profile or "DISABLED",
                            "ipv4": next((ip.address for ip in ips if ip.ipversion == 4), ""),
                            "ipv6": next((ip.address for ip in ips if ip.ipversion == 6), ""),
                            "OS-EXT-IPS:type": "fixed"})
    return found, attachments


FIREWALL_PROFILES = ("ENABLED", "DISABLED", "PROTECTED")


def firewall_tag(profile: str, name: str) -> str:
    """The Ganeti instance tag of a NIC's firewall profile (``GANETI_FIREWALL_<PROFILE>_TAG``)."""
    return getattr(settings, f"GANETI_FIREWALL_{profile}_TAG") % name


def profile_from_tags(tags, name) -> str | None:
    """The firewall profile a NIC's tags say (None: no profile tag)."""
    found = set(tags or [])
    return next((p for p in FIREWALL_PROFILES if name and firewall_tag(p, name) in found), None)


def _nic_profile(nic: dict) -> str | None:
    """eventd's ``firewall`` of a NIC: the end of its tag ``synnefo:network:<name>:<end>``."""
    end = nic.get("firewall")
    return profile_from_tags([f"synnefo:network:{nic.get('name')}:{end}"], nic.get("name")) if end else None


def apply_firewall_tags(vm: VirtualMachine, opcode: str, tags) -> None:
    """A successful OP_TAGS_SET / OP_TAGS_DEL on the instance: its NICs' profiles follow."""
    for port in NetworkInterface.objects.filter(machine=vm):
        profile = profile_from_tags(tags, nic_name(port))
        if profile is None:
            continue
        if opcode == "OP_TAGS_SET":
            _save(port, firewall_profile=profile)
        elif opcode == "OP_TAGS_DEL" and port.firewall_profile == profile:
            _save(port, firewall_profile=None)


def set_firewall_profile(user: str, server_id, profile, port_id) -> NetworkInterface:
    """The ``firewallProfile`` action: the NIC's old profile tag removed and the new one added in
    Ganeti, then a no-op modify (task FIREWALL, settled by its job); the port's profile changes
    with the events."""
    from django.db import transaction

    from synnefo.cyclades.logic import servers

    if profile not in FIREWALL_PROFILES:
        raise faults.BadRequest(f"'profile' must be one of {', '.join(FIREWALL_PROFILES)}")
    with transaction.atomic():
        vm = server_for_change(user, server_id, "FIREWALL")
        port = NetworkInterface.objects.filter(machine=vm, pk=_int(port_id)).first()
        if port is None:
            raise faults.BadRequest(f"Server {vm.id} has no NIC {port_id}")
        if port.state != "ACTIVE":
            raise faults.Conflict(f"NIC {port.id} is {port.state}; try again when it is ACTIVE")
        name = nic_name(port)

        def submit(client, vm_name):
            old = [firewall_tag(p, name) for p in FIREWALL_PROFILES if p != profile and p == port.firewall_profile]
            if old:
                client.delete_instance_tags(vm_name, old)
            job = client.add_instance_tags(vm_name, [firewall_tag(profile, name)])
            # As upstream: a modification that changes nothing (the same OS), so the hosts'
            # instance-modify hooks run and apply the new rules.
            os_name = client.get_instance(vm_name).get("os")
            return client.modify_instance(vm_name, os_name=os_name) if os_name else job

        servers._run_job(vm, "FIREWALL", submit)
    return port


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def nic_drift(vm: VirtualMachine, instance_nics) -> list[tuple[str, object]]:
    """What differs between the server's ports and Ganeti's NICs (eventd's ``instance_nics``
    shape: name, network, ip, mac, uuid, firewall), each with its repair, in order:

    - an ACTIVE port whose NIC Ganeti no longer has (removed behind our back): the port goes,
      its address back to the pool;
    - a port whose NIC has another MAC, IPv4 address or firewall profile: the port takes Ganeti's
      (a new IPv4 address is reserved in the pool, the old one goes back);
    - a NIC no port knows, on one of our networks that the server's owner may use (theirs, or a
      public one): adopted as a new ACTIVE port, its address reserved in the pool, and renamed in
      Ganeti to ``<prefix>nic-<port id>``. NICs without one of our networks (Ganeti's default
      NICs) are left alone; others are reported, not adopted.

    A NIC matches a port by name, else by MAC. Ports with a change in flight (BUILD, DOWN) are
    left to their job."""
    if not isinstance(instance_nics, list):
        return []
    nics = [n for n in instance_nics if isinstance(n, dict)]
    ports_of = list(NetworkInterface.objects.filter(machine=vm).select_related("network").prefetch_related("ips"))
    by_name = {nic_name(p): p for p in ports_of}
    by_mac = {p.mac: p for p in ports_of}
    matched, strangers = {}, []
    for index, nic in enumerate(nics):
        port = by_name.get(nic.get("name")) or by_mac.get(nic.get("mac"))
        if port is not None and port.id not in matched:
            matched[port.id] = (port, nic, index)
        else:
            strangers.append((nic, index))
    drift = []
    for port in ports_of:
        if port.state == "ACTIVE" and port.id not in matched:
            drift.append((f"port {port.id} ({nic_name(port)}) is not in Ganeti", lambda port=port: _drop([port], "not in Ganeti") or "port deleted"))
    for port, nic, index in matched.values():
        if port.state == "ACTIVE":
            drift += _port_drift(port, nic, index)
    for nic, index in strangers:
        drift += _stranger(vm, nic, index)
    return drift


def _port_drift(port: NetworkInterface, nic: dict, index: int) -> list[tuple[str, object]]:
    drift = []
    mac = nic.get("mac")
    if isinstance(mac, str) and mac and mac != port.mac:
        drift.append((f"port {port.id}: MAC {port.mac} here, {mac} in Ganeti", lambda: _set_mac(port, mac)))
    ipv4 = next((ip for ip in port.ips.all() if ip.ipversion == 4), None)
    address = nic.get("ip") or None
    if (ipv4.address if ipv4 else None) != address:
        drift.append((f"port {port.id}: IPv4 {ipv4.address if ipv4 else 'none'} here, {address or 'none'} in Ganeti",
                      lambda: _set_ipv4(port, ipv4, address)))
    profile = _nic_profile(nic)
    if "firewall" in nic and profile != port.firewall_profile and (profile or port.firewall_profile):
        drift.append((f"port {port.id}: firewall {port.firewall_profile or 'none'} here, {profile or 'none'} in Ganeti",
                      lambda: _save(port, firewall_profile=profile)))
    if port.index != index:
        drift.append((f"port {port.id}: NIC index {port.index} here, {index} in Ganeti", lambda: _save(port, index=index)))
    return drift


def _save(port: NetworkInterface, **values) -> str:
    NetworkInterface.objects.filter(pk=port.pk).update(**values)
    return "port updated"


def _set_mac(port: NetworkInterface, mac: str) -> str:
    from django.db import IntegrityError, transaction

    try:
        with transaction.atomic():
            _save(port, mac=mac)
    except IntegrityError:
        return f"not fixed: MAC {mac} is used by another port of network {port.network_id}"
    port.mac = mac
    for ip in port.ips.filter(ipversion=6):  # SLAAC follows the MAC
        ip.address = ports.eui64(ip.subnet.cidr, mac)
        ip.save(update_fields=["address", "updated"])
    return "MAC taken from Ganeti"


def _set_ipv4(port: NetworkInterface, old, address) -> str:
    if old is not None and old.floating_ip:
        return "not fixed: the port's address is a floating IP; detach it, or fix the NIC in Ganeti"
    if old is not None:
        ports.record_use([old], port.machine_id, IPAddressHistory.DISASSOCIATE, "changed in Ganeti")
        ports.release_ip(old)
    if address is None:
        return "address released"
    try:
        new = ports.allocate_ip(port.network, port.userid, address=address, nic=port)
    except faults.Fault as fault:
        return f"address released; {address} not taken: {fault.message}"
    ports.record_use([new], port.machine_id, IPAddressHistory.ASSOCIATE, "changed in Ganeti")
    return f"{address} reserved in the pool"


def _stranger(vm: VirtualMachine, nic: dict, index: int) -> list[tuple[str, object]]:
    from synnefo.cyclades.logic.network_backends import network_id_from_name

    network_id = network_id_from_name(nic.get("network"))
    if network_id is None:
        return []  # not on one of our networks (Ganeti's default NICs): nothing to adopt
    what = f"Ganeti NIC {nic.get('name') or index} ({nic.get('mac')}, {nic.get('ip') or 'no IPv4'}) on network {network_id}"
    if not isinstance(nic.get("mac"), str) or not nic["mac"]:
        return [(f"{what}: no MAC, not adopted", None)]
    network = Network.objects.filter(pk=network_id, deleted=False).first()
    if network is None:
        return [(f"{what}: no live network, not adopted", None)]
    if not network.public and network.userid != vm.userid:
        return [(f"{what}: a private network of another user, not adopted", None)]
    return [(f"{what} has no port", lambda: _adopt(vm, network, nic, index))]


def _adopt(vm: VirtualMachine, network, nic: dict, index: int) -> str:
    from django.db import IntegrityError, transaction

    mac = nic.get("mac")
    try:
        with transaction.atomic():
            port = NetworkInterface.objects.create(userid=vm.userid, network=network, machine=vm, mac=mac, index=index,
                                                   state="ACTIVE", device_owner="vm",
                                                   firewall_profile=_nic_profile(nic))
    except IntegrityError:
        return f"not adopted: MAC {mac} is used by another port of network {network.id}"
    outcome = f"adopted as port {port.id}"
    if nic.get("ip"):
        try:
            ports.allocate_ip(network, vm.userid, address=nic["ip"], nic=port)
        except faults.Fault as fault:
            outcome += f", without its address ({fault.message})"
    ports.ipv6_address(network, port)
    ports.record_use(port.ips.all(), vm.id, IPAddressHistory.ASSOCIATE, "adopted from Ganeti")
    ident = nic.get("uuid") or index
    vm_id = vm.id

    def rename():
        from synnefo.cyclades.ganeti.rapi import GanetiApiError

        target = VirtualMachine.objects.select_related("backend").get(pk=vm_id)
        try:
            target.backend.get_client().modify_instance(target.backend_vm_id, nics=[["modify", ident, {"name": nic_name(port)}]])
        except GanetiApiError as exc:
            logging.getLogger(__name__).warning("server %s: adopted port %s, renaming its NIC failed: %s", vm_id, port.id, exc)

    transaction.on_commit(rename)
    return outcome


def nics_from_instance(instance: dict) -> list[dict] | None:
    """RAPI's instance record (``nic.names``, ``nic.macs``, ... and the firewall tags
    ``synnefo:network:<nic name>:<profile>``) in eventd's ``instance_nics`` shape; None when the
    record has no NIC fields."""
    if "nic.macs" not in instance:
        return None
    macs = instance.get("nic.macs") or []

    def column(key):
        values = instance.get(key) or []
        return list(values) + [None] * (len(macs) - len(values))

    tags = instance.get("tags") or []
    out = []
    for name, mac, ip, network, uuid in zip(column("nic.names"), macs, column("nic.ips"), column("nic.networks.names"),
                                            column("nic.uuids")):
        prefix = f"synnefo:network:{name}:"  # as eventd reads them
        firewall = next((t[len(prefix):] for t in tags if name and t.startswith(prefix)), None)
        out.append({"name": name, "mac": mac, "ip": ip, "network": network, "uuid": uuid, "firewall": firewall})
    return out


def sync(vm: VirtualMachine, instance_nics) -> list[str]:
    """Ganeti's NICs of the server (eventd's ``instance_nics``, sent with the end of a create or
    modify) applied to its ports (see ``nic_drift``); returns what was done."""
    done = []
    for description, repair in nic_drift(vm, instance_nics):
        outcome = repair() if repair is not None else "left alone"
        logging.getLogger(__name__).warning("server %s: %s: %s", vm.id, description, outcome)
        done.append(f"{description}: {outcome}")
    return done
