"""Image commands: ``image`` (kamaki 0.16) and ``glance`` (the seed's; ``glance list`` shows
public images only, as the seed warns)."""

from __future__ import annotations

from synnefo.client.cli.common import Context, parse_pairs, size_text
from synnefo.client.http import ClientError

DISK_FORMATS = ("diskdump", "extdump", "ntfsdump", "raw", "qcow2", "vmdk", "vdi", "iso", "vhd", "vhdx", "ami", "ari", "aki")


def _register_options(p) -> None:
    p.add_argument("--public", action="store_true", help="everyone may use it (listed by glance list)")
    p.add_argument("--disk-format", choices=DISK_FORMATS, help="default: diskdump")
    p.add_argument("--container-format", help="default: bare")
    p.add_argument("--description")
    p.add_argument("--property", action="append", metavar="KEY=VALUE", help="an image property (repeat)")


def _members(sub, leaf) -> None:
    members = sub.add_parser("members", parents=[leaf], help="who else may use an image")
    actions = members.add_subparsers(dest="members_action", metavar="<action>", required=True)
    p = actions.add_parser("list", parents=[leaf])
    p.add_argument("image_id")
    p.set_defaults(func=members_list)
    for name, what in (("add", "share with a user"), ("remove", "stop sharing with a user")):
        p = actions.add_parser(name, parents=[leaf], help=what)
        p.add_argument("image_id")
        p.add_argument("member", help="user uuid")
        p.set_defaults(func=members_change, change=name)
    p = actions.add_parser("set", parents=[leaf], help="replace the members")
    p.add_argument("image_id")
    p.add_argument("members", nargs="*", help="user uuids (none: share with nobody)")
    p.set_defaults(func=members_set)


def register(groups, leaf) -> None:
    group = groups.add_parser("image", parents=[leaf], help="images (Plankton)")
    sub = group.add_subparsers(dest="action", metavar="<action>", required=True)
    p = sub.add_parser("register", parents=[leaf], help="register a Pithos file as an image")
    p.add_argument("--name", required=True)
    p.add_argument("--location", required=True, help="/container/path, or pithos://account/container/path")
    _register_options(p)
    p.set_defaults(func=image_register)
    p = sub.add_parser("list", parents=[leaf], help="images you may use")
    p.add_argument("-l", "--details", action="store_true")
    p.add_argument("--name")
    p.add_argument("--disk-format")
    p.set_defaults(func=image_list, public_only=False)
    p = sub.add_parser("info", parents=[leaf], help="an image's metadata")
    p.add_argument("image_id")
    p.set_defaults(func=image_info)
    p = sub.add_parser("modify", parents=[leaf], help="change an image's metadata")
    p.add_argument("image_id")
    p.add_argument("--name")
    _register_options(p)
    p.add_argument("--private", action="store_true", help="no longer public")
    p.set_defaults(func=image_modify)
    p = sub.add_parser("unregister", parents=[leaf], help="forget the image (the file stays)")
    p.add_argument("image_id")
    p.set_defaults(func=image_unregister)
    _members(sub, leaf)

    group = groups.add_parser("glance", parents=[leaf], help="the seed's image commands")
    sub = group.add_subparsers(dest="action", metavar="<action>", required=True)
    p = sub.add_parser("register", parents=[leaf], help="register a Pithos file as an image")
    p.add_argument("name")
    p.add_argument("location", help="pithos://account/container/path")
    _register_options(p)
    p.set_defaults(func=image_register)
    p = sub.add_parser("list", parents=[leaf], help="public images")
    p.add_argument("-l", "--details", action="store_true")
    p.set_defaults(func=image_list, public_only=True, name=None, disk_format=None)
    p = sub.add_parser("meta", parents=[leaf], help="an image's metadata")
    p.add_argument("image_id")
    p.set_defaults(func=image_info)
    p = sub.add_parser("unregister", parents=[leaf], help="forget the image (the file stays)")
    p.add_argument("image_id")
    p.set_defaults(func=image_unregister)
    _members(sub, leaf)


def _owner_names(ctx: Context, images: list[dict]) -> dict[str, str]:
    """uuid -> user name of the owners, as kamaki shows them; nothing if no account service."""
    owners = sorted({i["owner"] for i in images if i.get("owner")})
    try:
        return ctx.cloud.accounts.names_for(owners)
    except ClientError:
        return {}


def image_register(ctx: Context, args) -> None:
    cloud = ctx.cloud
    location = cloud.resolve_location(args.location)
    image = cloud.images.register(args.name, location, disk_format=args.disk_format,
                                  container_format=args.container_format, is_public=args.public or None,
                                  description=args.description, properties=parse_pairs(args.property))
    ctx.emit(image, text=f"registered {image.get('name')}: {image.get('id')}")


def image_list(ctx: Context, args) -> None:
    images = ctx.cloud.images.list(detail=args.details or args.public_only, name=args.name,
                                   disk_format=args.disk_format)
    if args.public_only:
        images = [i for i in images if str(i.get("is_public")).lower() == "true"]
        if not args.details:
            images = [{k: i.get(k) for k in ("id", "name", "status", "disk_format", "container_format", "size")}
                      for i in images]
    if args.details:
        names = _owner_names(ctx, images)
        for i in images:
            if i.get("owner") in names:
                i["owner_name"] = names[i["owner"]]
        text = "\n".join(
            f"{i['id']} {i.get('name')}\n  status {i.get('status')}, {i.get('disk_format')}, "
            f"{size_text(i.get('size'))}, public {i.get('is_public')}, owner {i.get('owner_name', i.get('owner'))}\n"
            f"  location {i.get('location')}" + "".join(f"\n  {k}: {v}" for k, v in sorted((i.get('properties') or {}).items()))
            for i in images)
    else:
        text = "\n".join(f"{i['id']} {i.get('name')}" for i in images)
    ctx.emit(images, text=text)


def image_info(ctx: Context, args) -> None:
    image = ctx.cloud.images.info(args.image_id)
    names = _owner_names(ctx, [image])
    if image.get("owner") in names:
        image["owner_name"] = names[image["owner"]]
    ctx.emit(image)


def image_modify(ctx: Context, args) -> None:
    public = True if args.public else False if args.private else None
    image = ctx.cloud.images.update(args.image_id, name=args.name, disk_format=args.disk_format,
                                    container_format=args.container_format, is_public=public,
                                    description=args.description, properties=parse_pairs(args.property))
    ctx.emit(image, text="")


def image_unregister(ctx: Context, args) -> None:
    ctx.confirm(f"unregister image {args.image_id}")
    ctx.cloud.images.unregister(args.image_id)
    ctx.emit({"unregistered": args.image_id}, text="")


def members_list(ctx: Context, args) -> None:
    members = ctx.cloud.images.members(args.image_id)
    ctx.emit(members, text="\n".join(members))


def members_change(ctx: Context, args) -> None:
    images = ctx.cloud.images
    (images.add_member if args.change == "add" else images.remove_member)(args.image_id, args.member)
    ctx.emit({"image": args.image_id, args.change: args.member}, text="")


def members_set(ctx: Context, args) -> None:
    ctx.cloud.images.set_members(args.image_id, args.members)
    ctx.emit({"image": args.image_id, "members": args.members}, text="")
