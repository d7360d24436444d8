"""``config``, ``user`` and ``quota`` commands."""

from __future__ import annotations

import argparse

from synnefo.client.cli.common import Context, UsageError, size_text

SIZED = ("cyclades.disk", "cyclades.ram", "cyclades.total_ram", "pithos.diskspace")


def register(groups, leaf) -> None:
    config = groups.add_parser("config", parents=[leaf], help="show and change the configuration file")
    sub = config.add_subparsers(dest="action", metavar="<action>", required=True)
    p = sub.add_parser("list", parents=[leaf], help="every key and value")
    p.set_defaults(func=config_list)
    p = sub.add_parser("get", parents=[leaf], help="one key's value")
    p.add_argument("key")
    p.set_defaults(func=config_get)
    p = sub.add_parser("set", parents=[leaf], help="set a key: token, image_url, storage_url, "
                       "storage_account, storage_container, default_cloud, cloud.<name>.url|token ...")
    p.add_argument("key")
    # REMAINDER: a value may start with "-" (tokens are URL-safe base64, so about 1 in 64 does).
    p.add_argument("value", nargs=argparse.REMAINDER)
    p.set_defaults(func=config_set)
    p = sub.add_parser("delete", parents=[leaf], help="remove a key (cloud.<name> removes a cloud)")
    p.add_argument("key")
    p.set_defaults(func=config_delete)

    user = groups.add_parser("user", parents=[leaf], help="the authenticated user")
    sub = user.add_subparsers(dest="action", metavar="<action>", required=True)
    p = sub.add_parser("authenticate", parents=[leaf], help="check the token; show the user and the catalog")
    p.set_defaults(func=user_authenticate)
    p = sub.add_parser("info", parents=[leaf], help="who the token belongs to")
    p.set_defaults(func=user_info)

    quota = groups.add_parser("quota", parents=[leaf], help="quotas per project")
    sub = quota.add_subparsers(dest="action", metavar="<action>", required=True)
    p = sub.add_parser("list", parents=[leaf], help="limit, usage and pending per resource")
    p.add_argument("--project-id", help="only this project")
    p.add_argument("--resource", help="only this resource")
    p.set_defaults(func=quota_list)


def config_list(ctx: Context, args) -> None:
    rows = ctx.config.items()
    ctx.emit(dict(rows), text="\n".join(f"{k} = {v}" for k, v in rows))


def config_get(ctx: Context, args) -> None:
    value = ctx.config.get(args.key)
    if value is None:
        raise UsageError(f"{args.key} is not set in {ctx.config.path}")
    ctx.emit({args.key: value}, text=value)


def config_set(ctx: Context, args) -> None:
    if len(args.value) != 1:
        raise UsageError("config set takes a key and one value")
    (value,) = args.value
    ctx.config.set(args.key, value)
    ctx.config.save()
    ctx.emit({args.key: value}, text="")


def config_delete(ctx: Context, args) -> None:
    if not ctx.config.delete(args.key):
        raise UsageError(f"{args.key} is not set in {ctx.config.path}")
    ctx.config.save()
    ctx.emit({"deleted": args.key}, text="")


def user_authenticate(ctx: Context, args) -> None:
    access = ctx.cloud.identity.authenticate()
    services = [{"type": e.get("type"), "name": e.get("name"),
                 "url": (e.get("endpoints") or [{}])[0].get("publicURL")} for e in access.get("serviceCatalog", [])]
    user = access["user"]
    data = {"user": {"id": user.get("id"), "name": user.get("name")},
            "token": {"expires": access.get("token", {}).get("expires")}, "services": services}
    text = [f"user: {user.get('name')} ({user.get('id')})", f"token expires: {data['token']['expires']}"]
    text += [f"  {s['type']:<14} {s['url']}" for s in services]
    ctx.emit(data, text="\n".join(text))


def user_info(ctx: Context, args) -> None:
    user = ctx.cloud.identity.user
    ctx.emit({k: user.get(k) for k in ("id", "name", "roles", "projects") if k in user})


def quota_list(ctx: Context, args) -> None:
    quotas = ctx.cloud.accounts.quotas()
    if args.project_id:
        quotas = {k: v for k, v in quotas.items() if k == args.project_id}
    if args.resource:
        quotas = {k: {r: q for r, q in v.items() if r == args.resource} for k, v in quotas.items()}
    lines = []
    for project, resources in sorted(quotas.items()):
        lines.append(project)
        for name, q in sorted(resources.items()):
            show = size_text if name in SIZED else str
            lines.append(f"  {name:<24} usage {show(q.get('usage'))} / limit {show(q.get('limit'))}"
                         f" (pending {show(q.get('pending'))})")
    ctx.emit(quotas, text="\n".join(lines))
