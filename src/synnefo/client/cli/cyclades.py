"""Compute, network and block storage commands: ``flavor``, ``server``, ``network``,
``volume``, ``snapshot``."""

from __future__ import annotations

import sys

from synnefo.client.cli.common import Context, parse_pairs
from synnefo.client.cyclades import server_id
from synnefo.client.http import ClientError


def _ids(items: list[dict], name_key: str = "name") -> str:
    return "\n".join(f"{i.get('id')} {i.get(name_key) or ''}".rstrip() for i in items)


def _simple(sub, leaf, name: str, func, *, arg: str | None = None, details: bool = False, help: str = ""):
    p = sub.add_parser(name, parents=[leaf], help=help)
    if arg:
        p.add_argument(arg)
    if details:
        p.add_argument("-l", "--details", action="store_true")
    p.set_defaults(func=func)
    return p


def _reassign(sub, leaf, arg: str, call) -> None:
    """``<group> reassign ID --project-id P``: the resource and its quota move to project P."""
    kind = arg[:-3]

    def run(ctx: Context, args) -> None:
        ident = getattr(args, arg)
        call(ctx.cloud)(ident, args.project_id)
        ctx.emit({"id": ident, "project": args.project_id}, text=f"{kind} {ident}: now in project {args.project_id}")

    p = _simple(sub, leaf, "reassign", run, arg=arg, help=f"move the {kind} to another of your projects")
    p.add_argument("--project-id", required=True)


def register(groups, leaf) -> None:
    sub = groups.add_parser("flavor", parents=[leaf], help="server flavors").add_subparsers(
        dest="action", metavar="<action>", required=True)
    _simple(sub, leaf, "list", flavor_list, details=True, help="flavors")
    _simple(sub, leaf, "info", flavor_info, arg="flavor_id", help="one flavor")

    sub = groups.add_parser("server", parents=[leaf], help="virtual servers").add_subparsers(
        dest="action", metavar="<action>", required=True)
    p = sub.add_parser("create", parents=[leaf], help="create a server")
    p.add_argument("--name", required=True)
    p.add_argument("--flavor-id", required=True)
    p.add_argument("--image-id", required=True)
    p.add_argument("--network", action="append", metavar="NETWORK_ID", help="attach to this network (repeat)")
    p.add_argument("--no-network", action="store_true", help="no network at all")
    p.add_argument("--project-id")
    p.add_argument("--metadata", action="append", metavar="KEY=VALUE")
    p.add_argument("-w", "--wait", action="store_true", help="wait until it is built")
    p.set_defaults(func=server_create)
    _simple(sub, leaf, "list", server_list, details=True, help="your servers")
    _simple(sub, leaf, "info", server_info, arg="server_id", help="one server")
    for name, what in (("start", "start a stopped server"), ("shutdown", "stop a server"),
                       ("reboot", "reboot a server"), ("delete", "destroy a server")):
        p = _simple(sub, leaf, name, server_action, arg="server_id", help=what)
        p.add_argument("-w", "--wait", action="store_true", help="wait until it is done")
        if name == "reboot":
            p.add_argument("--hard", action="store_true")
        p.set_defaults(command=name)
    _reassign(sub, leaf, "server_id", lambda cloud: cloud.compute.reassign)
    p = _simple(sub, leaf, "console", server_console, arg="server_id", help="one-time VNC console of a running server")
    p.add_argument("--type", default="vnc", choices=("vnc", "vnc-ws", "vnc-wss"))
    p = _simple(sub, leaf, "wait", server_wait, arg="server_id", help="wait for a status")
    p.add_argument("--status", default="ACTIVE")
    p.add_argument("--timeout", type=float, default=300)

    sub = groups.add_parser("network", parents=[leaf], help="private networks").add_subparsers(
        dest="action", metavar="<action>", required=True)
    _simple(sub, leaf, "list", network_list, details=True, help="networks")
    _simple(sub, leaf, "info", network_info, arg="network_id", help="one network")
    p = _simple(sub, leaf, "create", network_create, help="create a network")
    p.add_argument("--name", required=True)
    p.add_argument("--type", default="MAC_FILTERED", help="network flavor (default MAC_FILTERED)")
    _simple(sub, leaf, "delete", network_delete, arg="network_id", help="delete a network")
    _reassign(sub, leaf, "network_id", lambda cloud: cloud.network.reassign_network)

    sub = groups.add_parser("ip", parents=[leaf], help="floating IPs").add_subparsers(
        dest="action", metavar="<action>", required=True)
    _reassign(sub, leaf, "ip_id", lambda cloud: cloud.network.reassign_floating_ip)

    sub = groups.add_parser("volume", parents=[leaf], help="block storage volumes").add_subparsers(
        dest="action", metavar="<action>", required=True)
    _simple(sub, leaf, "list", volume_list, details=True, help="volumes")
    _simple(sub, leaf, "info", volume_info, arg="volume_id", help="one volume")
    p = _simple(sub, leaf, "create", volume_create, help="create a volume")
    p.add_argument("--size", type=int, required=True, help="GiB")
    p.add_argument("--name", required=True)
    p.add_argument("--server-id")
    p.add_argument("--volume-type")
    p.add_argument("--snapshot-id")
    p.add_argument("--image-id")
    p.add_argument("--project-id")
    _simple(sub, leaf, "delete", volume_delete, arg="volume_id", help="delete a volume")
    _reassign(sub, leaf, "volume_id", lambda cloud: cloud.volume.reassign_volume)

    sub = groups.add_parser("snapshot", parents=[leaf], help="volume snapshots").add_subparsers(
        dest="action", metavar="<action>", required=True)
    _simple(sub, leaf, "list", snapshot_list, details=True, help="snapshots")
    _simple(sub, leaf, "info", snapshot_info, arg="snapshot_id", help="one snapshot")
    p = _simple(sub, leaf, "create", snapshot_create, help="snapshot a volume")
    p.add_argument("--volume-id", required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--description")
    _simple(sub, leaf, "delete", snapshot_delete, arg="snapshot_id", help="delete a snapshot")


# flavors
def flavor_list(ctx: Context, args) -> None:
    flavors = ctx.cloud.compute.flavors(detail=args.details)
    if args.details:
        text = "\n".join(f"{f['id']} {f.get('name')}: {f.get('vcpus')} CPU, {f.get('ram')} MiB RAM, "
                         f"{f.get('disk')} GiB {f.get('SNF:disk_template', '')}".rstrip() for f in flavors)
    else:
        text = _ids(flavors)
    ctx.emit(flavors, text=text)


def flavor_info(ctx: Context, args) -> None:
    ctx.emit(ctx.cloud.compute.flavor(args.flavor_id))


# servers
def _progress(ctx: Context):
    if ctx.json:
        return None
    return lambda server: print(f"server {server.get('id')}: {server.get('status')} {server.get('progress', '')}".rstrip(),
                                file=sys.stderr)


def server_create(ctx: Context, args) -> None:
    compute = ctx.cloud.compute
    networks = [] if args.no_network else args.network
    server = compute.create_server(args.name, args.flavor_id, args.image_id, networks=networks,
                                   project=args.project_id, metadata=parse_pairs(args.metadata))
    password = server.get("adminPass")
    if args.wait:
        server = {**compute.wait(server["id"], leave="BUILD", progress=_progress(ctx)), "adminPass": password}
        if server.get("status") == "ERROR":
            raise ClientError(f"server {server.get('id')} was not built: ERROR")
    text = f"server {server.get('id')} {server.get('name', args.name)}: {server.get('status')}"
    if password:
        text += f"\nadmin password (shown once): {password}"
    ctx.emit(server, text=text)


def server_list(ctx: Context, args) -> None:
    servers = ctx.cloud.compute.servers(detail=args.details)
    text = "\n".join(f"{s['id']} {s.get('name')} {s.get('status')}" for s in servers) if args.details else _ids(servers)
    ctx.emit(servers, text=text)


def server_info(ctx: Context, args) -> None:
    ctx.emit(ctx.cloud.compute.server(args.server_id))


def server_action(ctx: Context, args) -> None:
    compute = ctx.cloud.compute
    sid = server_id(args.server_id)
    command = args.command
    if command == "delete":
        ctx.confirm(f"destroy server {sid}")
        compute.delete_server(sid)
        final = "DELETED"
    else:
        current = compute.server(sid).get("status")
        if command == "start" and current == "ACTIVE" or command == "shutdown" and current == "STOPPED":
            ctx.emit({"id": sid, "status": current}, text=f"server {sid} is already {current}")
            return
        getattr(compute, command)(sid, **({"hard": args.hard} if command == "reboot" else {}))
        final = "STOPPED" if command == "shutdown" else "ACTIVE"
    result = {"id": sid, "action": command}
    if args.wait:
        server = compute.wait(sid, until=final, progress=_progress(ctx))
        result["status"] = server.get("status")
    ctx.emit(result, text=f"server {sid}: {command}" + (f" -> {result['status']}" if "status" in result else ""))


def server_console(ctx: Context, args) -> None:
    console = ctx.cloud.compute.console(args.server_id, args.type)
    text = "\n".join(f"{k}: {console.get(k)}" for k in ("type", "host", "port", "password"))
    ctx.emit(console, text=f"{text}\n(one connection, soon: the forwarding expires unused)")


def server_wait(ctx: Context, args) -> None:
    server = ctx.cloud.compute.wait(args.server_id, until=args.status, timeout=args.timeout, progress=_progress(ctx))
    ctx.emit(server, text=f"server {server.get('id')}: {server.get('status')}")


# networks
def network_list(ctx: Context, args) -> None:
    networks = ctx.cloud.network.networks()
    text = "\n".join(f"{n['id']} {n.get('name')} {n.get('status')} {n.get('type', '')}".rstrip()
                     for n in networks) if args.details else _ids(networks)
    ctx.emit(networks, text=text)


def network_info(ctx: Context, args) -> None:
    ctx.emit(ctx.cloud.network.network(args.network_id))


def network_create(ctx: Context, args) -> None:
    network = ctx.cloud.network.create_network(args.name, args.type)
    ctx.emit(network, text=f"network {network.get('id')} {network.get('name')}: {network.get('status')}")


def network_delete(ctx: Context, args) -> None:
    ctx.confirm(f"delete network {args.network_id}")
    ctx.cloud.network.delete_network(args.network_id)
    ctx.emit({"deleted": args.network_id}, text="")


# volumes and snapshots
def volume_list(ctx: Context, args) -> None:
    volumes = ctx.cloud.volume.volumes(detail=args.details)
    text = "\n".join(f"{v['id']} {v.get('display_name') or v.get('name') or ''} {v.get('size', '')} GiB {v.get('status', '')}"
                     for v in volumes) if args.details else _ids(volumes, "display_name")
    ctx.emit(volumes, text=text)


def volume_info(ctx: Context, args) -> None:
    ctx.emit(ctx.cloud.volume.volume(args.volume_id))


def volume_create(ctx: Context, args) -> None:
    volume = ctx.cloud.volume.create_volume(args.size, name=args.name, server_id=args.server_id,
                                            volume_type=args.volume_type, snapshot_id=args.snapshot_id,
                                            image_id=args.image_id, project=args.project_id)
    ctx.emit(volume, text=f"volume {volume.get('id')}: {volume.get('status')}")


def volume_delete(ctx: Context, args) -> None:
    ctx.confirm(f"delete volume {args.volume_id}")
    ctx.cloud.volume.delete_volume(args.volume_id)
    ctx.emit({"deleted": args.volume_id}, text="")


def snapshot_list(ctx: Context, args) -> None:
    snapshots = ctx.cloud.volume.snapshots(detail=args.details)
    ctx.emit(snapshots, text=_ids(snapshots, "display_name"))


def snapshot_info(ctx: Context, args) -> None:
    ctx.emit(ctx.cloud.volume.snapshot(args.snapshot_id))


def snapshot_create(ctx: Context, args) -> None:
    snapshot = ctx.cloud.volume.create_snapshot(args.volume_id, name=args.name, description=args.description)
    ctx.emit(snapshot, text=f"snapshot {snapshot.get('id')}: {snapshot.get('status')}")


def snapshot_delete(ctx: Context, args) -> None:
    ctx.confirm(f"delete snapshot {args.snapshot_id}")
    ctx.cloud.volume.delete_snapshot(args.snapshot_id)
    ctx.emit({"deleted": args.snapshot_id}, text="")
