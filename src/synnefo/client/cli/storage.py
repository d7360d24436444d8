"""File storage commands: ``container`` and ``file`` (kamaki 0.16), ``store`` (the seed's,
on ``storage_container`` of ``storage_account``)."""

from __future__ import annotations

import os
import sys
from dataclasses import asdict
from pathlib import Path

from synnefo.client.cli.common import Context, UsageError, parse_pairs, size_text, split_remote
from synnefo.client.transfer import stream_object


def register(groups, leaf) -> None:
    _container(groups, leaf)
    _file(groups, leaf)
    _store(groups, leaf)


def _container(groups, leaf) -> None:
    group = groups.add_parser("container", parents=[leaf], help="Pithos containers")
    sub = group.add_subparsers(dest="action", metavar="<action>", required=True)
    p = sub.add_parser("list", parents=[leaf], help="the account's containers")
    p.set_defaults(func=container_list)
    p = sub.add_parser("create", parents=[leaf], help="create a container")
    p.add_argument("container")
    p.add_argument("--versioning", choices=("auto", "none"))
    p.add_argument("--limit", type=int, help="quota in bytes (0: none)")
    p.set_defaults(func=container_create)
    p = sub.add_parser("info", parents=[leaf], help="a container's headers")
    p.add_argument("container")
    p.set_defaults(func=container_info)
    p = sub.add_parser("delete", parents=[leaf], help="delete an empty container (-r: and its objects)")
    p.add_argument("container")
    p.add_argument("-r", "--recursive", action="store_true", help="delete every object first")
    p.set_defaults(func=container_delete)


def _file(groups, leaf) -> None:
    group = groups.add_parser("file", parents=[leaf], help="Pithos objects (paths are /container/object)")
    sub = group.add_subparsers(dest="action", metavar="<action>", required=True)
    p = sub.add_parser("create", parents=[leaf], help="an empty object")
    p.add_argument("path")
    p.add_argument("--content-type", default="application/octet-stream")
    p.set_defaults(func=file_create)
    p = sub.add_parser("mkdir", parents=[leaf], help="a directory object")
    p.add_argument("path")
    p.set_defaults(func=file_mkdir)
    p = sub.add_parser("upload", parents=[leaf], help="upload a local file (hashmap: only missing blocks go up)")
    p.add_argument("local")
    p.add_argument("path", help="/container/object, or /container/ to keep the file name")
    p.add_argument("--unchunked", action="store_true", help="one plain PUT of the whole file")
    p.add_argument("--content-type")
    p.add_argument("--workers", type=int, default=5, help="parallel block uploads (default 5)")
    p.add_argument("--blocks-per-request", type=int, default=4,
                   help="missing blocks sent per POST (default 4; kamaki 0.16 sends 1)")
    p.set_defaults(func=file_upload)
    p = sub.add_parser("download", parents=[leaf], help="download by blocks, in parallel; resumes a partial local file")
    p.add_argument("path")
    p.add_argument("local", nargs="?", help="local file (default: the object's name)")
    p.add_argument("--no-resume", action="store_true", help="fetch everything, overwrite the local file")
    p.add_argument("--workers", type=int, default=5, help="parallel block downloads (default 5)")
    p.add_argument("--blocks-per-request", type=int, default=0,
                   help="at most this many consecutive blocks per ranged GET (default 0: spread "
                        "evenly over the workers; kamaki 0.16 asks 1)")
    p.set_defaults(func=file_download)
    p = sub.add_parser("cat", parents=[leaf], help="print an object to stdout")
    p.add_argument("path")
    p.set_defaults(func=file_cat)
    p = sub.add_parser("list", parents=[leaf], help="objects of a container (or under /container/prefix)")
    p.add_argument("path")
    p.add_argument("-l", "--details", action="store_true", help="size, type and date too")
    p.add_argument("--delimiter", help="e.g. / to list one level")
    p.add_argument("--limit", type=int)
    p.set_defaults(func=file_list)
    p = sub.add_parser("info", parents=[leaf], help="an object's headers")
    p.add_argument("path")
    p.add_argument("--hashmap", action="store_true", help="its block list instead")
    p.add_argument("--sharing", action="store_true", help="its permissions and public URL instead")
    p.set_defaults(func=file_info)
    p = sub.add_parser("modify", parents=[leaf], help="change permissions or metadata")
    p.add_argument("path")
    p.add_argument("--read-permission", action="append", metavar="USER", help="uuid or uuid:group (repeat)")
    p.add_argument("--write-permission", action="append", metavar="USER", help="uuid or uuid:group (repeat)")
    p.add_argument("--no-permissions", action="store_true", help="share with nobody")
    p.add_argument("--metadata-add", action="append", metavar="KEY=VALUE")
    p.add_argument("--metadata-del", action="append", metavar="KEY")
    p.set_defaults(func=file_modify)
    for name, func, what in (("publish", file_publish, "give it a public URL"),
                             ("unpublish", file_unpublish, "remove its public URL")):
        p = sub.add_parser(name, parents=[leaf], help=what)
        p.add_argument("path")
        p.set_defaults(func=func)
    for name, what in (("copy", "copy (no data is copied on the server)"), ("move", "move or rename")):
        p = sub.add_parser(name, parents=[leaf], help=what)
        p.add_argument("source")
        p.add_argument("destination", help="/container/object, or /container/ to keep the name")
        p.set_defaults(func=file_copy, move=name == "move")
    p = sub.add_parser("delete", parents=[leaf], help="delete an object (-r: and everything below it)")
    p.add_argument("path")
    p.add_argument("-r", "--recursive", action="store_true")
    p.set_defaults(func=file_delete)


def _store(groups, leaf) -> None:
    group = groups.add_parser("store", parents=[leaf], help="the seed's commands on storage_container")
    sub = group.add_subparsers(dest="action", metavar="<action>", required=True)
    p = sub.add_parser("create", parents=[leaf], help="create a container")
    p.add_argument("container")
    p.set_defaults(func=container_create, versioning=None, limit=None)
    p = sub.add_parser("upload", parents=[leaf], help="upload a file into storage_container")
    p.add_argument("local")
    p.add_argument("remote", nargs="?", help="object name (default: the file's name)")
    p.set_defaults(func=store_upload)
    p = sub.add_parser("download", parents=[leaf], help="download an object of storage_container")
    p.add_argument("remote")
    p.add_argument("local", nargs="?")
    p.set_defaults(func=store_download)
    p = sub.add_parser("list", parents=[leaf], help="objects of storage_container (or of a container)")
    p.add_argument("container", nargs="?")
    p.set_defaults(func=store_list)
    p = sub.add_parser("delete", parents=[leaf], help="delete an object of storage_container")
    p.add_argument("remote")
    p.set_defaults(func=store_delete)


# helpers
def _remote(ctx: Context, path: str, need_object: bool = True):
    account, container, obj = split_remote(path, need_object=need_object)
    client = ctx.cloud.pithos_for(account) if account else ctx.cloud.pithos
    return client, container, obj


def _store_container(ctx: Context) -> str:
    container = ctx.config.get("storage_container")
    if not container:
        raise UsageError("set storage_container first: kamaki config set storage_container images")
    return container


# container
def container_list(ctx: Context, args) -> None:
    containers = ctx.cloud.pithos.list_containers()
    ctx.emit(containers, text="\n".join(f"{c['name']} ({c.get('count', 0)} objects, {size_text(c.get('bytes', 0))})"
                                        for c in containers))


def container_create(ctx: Context, args) -> None:
    created = ctx.cloud.pithos.create_container(args.container, versioning=args.versioning, quota=args.limit)
    ctx.emit({"container": args.container, "created": created},
             text="" if created else f"container {args.container} already exists")


def container_info(ctx: Context, args) -> None:
    ctx.emit(ctx.cloud.pithos.container_info(args.container))


def container_delete(ctx: Context, args) -> None:
    pithos = ctx.cloud.pithos
    info = pithos.container_info(args.container)  # 404 before asking
    count = int(info.get("x-container-object-count", "0") or 0)
    if count and not args.recursive:
        raise UsageError(f"container {args.container} has {count} objects: use -r to delete them too")
    ctx.confirm(f"delete container {args.container}" + (f" and its {count} objects" if count else ""))
    pithos.delete_container(args.container, recursive=args.recursive)
    ctx.emit({"deleted": args.container}, text="")


# file
def file_create(ctx: Context, args) -> None:
    client, container, obj = _remote(ctx, args.path)
    client.put_object(container, obj, b"", content_type=args.content_type)
    ctx.emit({"created": f"/{container}/{obj}"}, text="")


def file_mkdir(ctx: Context, args) -> None:
    client, container, obj = _remote(ctx, args.path)
    client.mkdir(container, obj)
    ctx.emit({"created": f"/{container}/{obj}"}, text="")


def upload(ctx: Context, client, container: str, obj: str, local: str, *, unchunked: bool = False,
           content_type: str | None = None, workers: int = 5, blocks_per_request: int = 4) -> None:
    path = Path(local)
    if not path.is_file():
        raise UsageError(f"{local}: no such file")
    obj = obj or path.name
    if obj.endswith("/"):
        obj += path.name
    size = path.stat().st_size
    if unchunked:
        with ctx.bar(size, "upload"):
            client.put_object(container, obj, path.read_bytes(), content_type=content_type or "application/octet-stream")
        ctx.emit({"object": f"/{container}/{obj}", "bytes": size, "unchunked": True}, text="")
        return
    with ctx.bar(size, "hash") as hashed, ctx.bar(size, "upload") as sent:
        result = client.upload_file(container, obj, path, content_type=content_type, workers=workers,
                                    blocks_per_request=blocks_per_request,
                                    hash_progress=hashed, upload_progress=sent)
    data = {"object": f"/{container}/{obj}", "bytes": result.size, "blocks": len(result.hashes),
            "unique_blocks": len(set(result.hashes)), "blocks_uploaded": result.blocks_uploaded,
            "block_requests": result.requests, "bytes_uploaded": result.bytes_uploaded}
    ctx.emit(data, text=f"uploaded /{container}/{obj}: {size_text(result.size)}, "
                        f"{result.blocks_uploaded} of {len(result.hashes)} blocks sent")


def file_upload(ctx: Context, args) -> None:
    client, container, obj = _remote(ctx, args.path, need_object=False)
    upload(ctx, client, container, obj, args.local, unchunked=args.unchunked,
           content_type=args.content_type, workers=args.workers, blocks_per_request=args.blocks_per_request)


def download(ctx: Context, client, container: str, obj: str, local: str | None, *,
             resume: bool = True, workers: int = 5, blocks_per_request: int = 0) -> None:
    target = Path(local or os.path.basename(obj))
    if target.is_dir():
        target = target / os.path.basename(obj)
    size = int(client.object_info(container, obj).get("content-length", 0) or 0)
    with ctx.bar(size, "download") as advance:
        result = client.download_file(container, obj, target, resume=resume, workers=workers,
                                      blocks_per_request=blocks_per_request, progress=advance)
    data = {"object": f"/{container}/{obj}", "local": str(target), **asdict(result)}
    ctx.emit(data, text=f"downloaded /{container}/{obj} to {target}: {size_text(result.size)}, "
                        f"{result.blocks_fetched} blocks fetched, {result.blocks_reused} already there")


def file_download(ctx: Context, args) -> None:
    client, container, obj = _remote(ctx, args.path)
    download(ctx, client, container, obj, args.local, resume=not args.no_resume, workers=args.workers,
             blocks_per_request=args.blocks_per_request)


def file_cat(ctx: Context, args) -> None:
    client, container, obj = _remote(ctx, args.path)
    out = sys.stdout.buffer
    stream_object(client, container, obj, out)
    out.flush()


def file_list(ctx: Context, args) -> None:
    client, container, prefix = _remote(ctx, args.path, need_object=False)
    objects = client.list_objects(container, prefix=prefix, delimiter=args.delimiter or "", limit=args.limit)
    if args.details:
        text = "\n".join(o["subdir"] if "subdir" in o else
                         f"{o['name']}  {size_text(o.get('bytes'))}  {o.get('content_type', '')}  {o.get('last_modified', '')}"
                         for o in objects)
    else:
        text = "\n".join(o.get("name") or o.get("subdir", "") for o in objects)
    ctx.emit(objects, text=text)


def file_info(ctx: Context, args) -> None:
    client, container, obj = _remote(ctx, args.path)
    if args.hashmap:
        ctx.emit(client.get_hashmap(container, obj))
    elif args.sharing:
        headers = client.object_info(container, obj)
        from synnefo.client.pithos import parse_sharing

        data = {**parse_sharing(headers.get("x-object-sharing", ""))}
        if headers.get("x-object-public"):
            data["public"] = headers["x-object-public"]
        ctx.emit(data)
    else:
        ctx.emit(client.object_info(container, obj))


def file_modify(ctx: Context, args) -> None:
    client, container, obj = _remote(ctx, args.path)
    add = parse_pairs(args.metadata_add)
    if args.no_permissions and (args.read_permission or args.write_permission):
        raise UsageError("--no-permissions goes without --read-permission/--write-permission")
    if not (args.read_permission or args.write_permission or args.no_permissions or add or args.metadata_del):
        raise UsageError("nothing to change: give --read-permission, --write-permission, "
                         "--no-permissions, --metadata-add or --metadata-del")
    if args.no_permissions:
        client.set_sharing(container, obj)
    elif args.read_permission or args.write_permission:
        current = client.sharing(container, obj)
        client.set_sharing(container, obj, read=args.read_permission or current.get("read"),
                           write=args.write_permission or current.get("write"))
    if add:
        client.set_metadata(container, obj, add)
    if args.metadata_del:
        client.delete_metadata(container, obj, args.metadata_del)
    ctx.emit(client.object_info(container, obj), text="")


def file_publish(ctx: Context, args) -> None:
    client, container, obj = _remote(ctx, args.path)
    url = client.publish(container, obj)
    ctx.emit({"public": url}, text=url)


def file_unpublish(ctx: Context, args) -> None:
    client, container, obj = _remote(ctx, args.path)
    client.unpublish(container, obj)
    ctx.emit({"unpublished": f"/{container}/{obj}"}, text="")


def file_copy(ctx: Context, args) -> None:
    src_account, container, obj = split_remote(args.source)
    dst_account, dst_container, dst_obj = split_remote(args.destination, need_object=False)
    if dst_account and dst_account != ctx.cloud.account:
        raise UsageError("the destination must be in your own account")
    if not dst_obj or dst_obj.endswith("/"):
        dst_obj = (dst_obj or "") + os.path.basename(obj)
    client = ctx.cloud.pithos
    client.copy_object(container, obj, dst_container, dst_obj, move=args.move,
                       source_account=src_account or client.account)
    ctx.emit({"source": f"/{container}/{obj}", "destination": f"/{dst_container}/{dst_obj}"}, text="")


def file_delete(ctx: Context, args) -> None:
    client, container, obj = _remote(ctx, args.path)
    client.object_info(container, obj)  # a clear 404 before asking
    ctx.confirm(f"delete /{container}/{obj}" + (" and everything below it" if args.recursive else ""))
    client.delete_object(container, obj, recursive=args.recursive)
    ctx.emit({"deleted": f"/{container}/{obj}"}, text="")


# store (seed)
def store_upload(ctx: Context, args) -> None:
    upload(ctx, ctx.cloud.pithos, _store_container(ctx), args.remote or "", args.local)


def store_download(ctx: Context, args) -> None:
    download(ctx, ctx.cloud.pithos, _store_container(ctx), args.remote, args.local)


def store_list(ctx: Context, args) -> None:
    container = args.container or _store_container(ctx)
    objects = ctx.cloud.pithos.list_objects(container)
    ctx.emit(objects, text="\n".join(f"{o['name']}  {size_text(o.get('bytes'))}" for o in objects))


def store_delete(ctx: Context, args) -> None:
    container = _store_container(ctx)
    ctx.confirm(f"delete /{container}/{args.remote}")
    ctx.cloud.pithos.delete_object(container, args.remote)
    ctx.emit({"deleted": f"/{container}/{args.remote}"}, text="")
