"""Moving resources between projects (``reassign``, SYNNEFO.md 1.8 and 4.1-4.2, 6.2).

A server, private network, floating IP or volume is charged to its owner in one project; the
owner may move it to another project they are a member of. The quota moves with it in one
accepted commission (``quotas.move``): over quota in the target is 413 and nothing moves, a
project the owner is not a member of is 403. The owner does not change (administrators give a
server to another user with ``server-modify --user``, ``server_admin.reassign``).

Rules (as upstream): public networks are not reassigned; a server may be reassigned in any
state but not while an action is pending, and the volumes it holds (its root volume and the
attached ones, whose disk is charged with it) go with it; a volume is reassigned on its own only
while detached (an attached one goes with its server); a floating IP goes in any state (a port
using it keeps it). ``shared_to_project`` (sharing with the project's members) is refused:
``CYCLADES_SHARED_RESOURCES_ENABLED`` is not supported.
"""

from __future__ import annotations

import logging
import uuid

from django.db import transaction

from synnefo.common import faults
from synnefo.cyclades.logic import floating_ips, networks, quotas, servers, volumes
from synnefo.cyclades.models import IPAddress, Network, VirtualMachine, Volume

log = logging.getLogger(__name__)


def check_target(args) -> str:
    """The target project of a ``{"reassign": {"project": uuid, "shared_to_project": bool}}``."""
    if not isinstance(args, dict) or not isinstance(args.get("project"), str):
        raise faults.BadRequest("reassign needs {'project': <project uuid>}")
    try:
        project = str(uuid.UUID(args["project"]))
    except ValueError:
        raise faults.BadRequest(f"'{args['project'][:64]}' is not a project uuid") from None
    if args.get("shared_to_project") not in (None, False):
        raise faults.Forbidden("Sharing resources with the members of a project is not permitted")
    return project


def _move(row, project: str, resources: dict[str, int], what: str) -> bool:
    """Charge ``resources`` of ``row`` (a server, network, floating IP or volume) to ``project``
    instead of its current one, and record it there; False when it is there already."""
    current = row.project or row.userid
    if current == project:
        return False
    quotas.move(resources, (row.userid, current), (row.userid, project), f"reassign {what} from {current} to {project}")
    row.project = project
    row.save(update_fields=["project", "updated"])
    log.info("%s moved from project %s to %s", what, current, project)
    return True


@transaction.atomic
def reassign_server(user: str, server_id, project: str) -> VirtualMachine:
    vm = servers.get_server(user, server_id, for_update=True)
    servers.validate_action(vm, "REASSIGN")
    carried = Volume.objects.select_for_update().filter(machine=vm, deleted=False)
    list(carried)  # lock them before the quota moves
    if _move(vm, project, quotas.scaled(quotas.release_of(vm), -1), f"server {vm.id}"):
        carried.update(project=project)
    return vm


@transaction.atomic
def reassign_network(user: str, network_id, project: str) -> Network:
    network = networks.get_network(user, network_id, for_update=True, writable=True)
    _move(network, project, {"cyclades.network.private": 1}, f"network {network.id}")
    return network


@transaction.atomic
def reassign_floating_ip(user: str, ip_id, project: str) -> IPAddress:
    ip = floating_ips.get(user, ip_id, for_update=True)
    _move(ip, project, {"cyclades.floating_ip": 1}, f"floating IP {ip.address}")
    return ip


@transaction.atomic
def reassign_volume(user: str, volume_id, project: str) -> Volume:
    volume = volumes.get_volume(user, volume_id, for_update=True)
    if volume.machine_id is not None:
        raise faults.Conflict(f"Volume {volume.id} is attached to server {volume.machine_id}: it goes with the server "
                              "(reassign the server, or detach the volume first)")
    if volume.status != "AVAILABLE":
        raise faults.Conflict(f"Volume {volume.id} is {volume.status.lower()}: only available volumes can be reassigned")
    _move(volume, project, {"cyclades.disk": volume.size * quotas.GiB}, f"volume {volume.id}")
    return volume
