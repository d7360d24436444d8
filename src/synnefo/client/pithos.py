"""Pithos (file storage) client: account, containers, objects, metadata, sharing, public links.
The hashmap transfers (upload only what the server lacks, download by blocks) are in
``synnefo.client.transfer`` and are reached through :meth:`PithosClient.upload_file` and
:meth:`PithosClient.download_file`."""

from __future__ import annotations

import time
from typing import Any, Iterator
from urllib.parse import quote, unquote

from synnefo.client.http import ClientError, HTTPClient

LIST_PAGE = 10000  # the server's listing cap


def parse_sharing(value: str) -> dict[str, list[str]]:
    """``read=a,b;write=c`` -> ``{"read": ["a", "b"], "write": ["c"]}``."""
    rules: dict[str, list[str]] = {}
    for part in filter(None, (p.strip() for p in (value or "").split(";"))):
        key, _, members = part.partition("=")
        rules[key.strip().lower()] = [m.strip() for m in members.split(",") if m.strip()]
    return rules


def format_sharing(read: list[str] | None = None, write: list[str] | None = None) -> str:
    parts = []
    if write:
        parts.append("write=" + ",".join(write))
    if read:
        parts.append("read=" + ",".join(read))
    return ";".join(parts)


def meta_headers(prefix: str, metadata: dict[str, str]) -> dict[str, str]:
    return {f"{prefix}{key}": quote(str(value), safe="/:,;=@ ") for key, value in metadata.items()}


def user_metadata(headers: dict[str, str], prefix: str = "x-object-meta-") -> dict[str, str]:
    return {k[len(prefix):]: unquote(v) for k, v in headers.items() if k.lower().startswith(prefix)}


class PithosClient(HTTPClient):
    """One account of a Pithos service. ``url`` is the service URL without the account
    (``https://host/pithos/object-store/v1``), as the Astakos catalog lists it."""

    def __init__(self, url: str, token: str | None, account: str, **kw):
        super().__init__(url, token, **kw)
        self.account = account

    # paths
    def _path(self, container: str = "", obj: str = "") -> str:
        path = "/" + quote(self.account, safe="@")
        if container:
            path += "/" + quote(container, safe="")
            if obj:
                path += "/" + quote(obj, safe="/")
        return path

    @staticmethod
    def _headers(response) -> dict[str, str]:
        return {k.lower(): v for k, v in response.headers.items()}

    # account
    def account_info(self) -> dict[str, str]:
        return self._headers(self.request("HEAD", self._path(), success=(204, 200)))

    def list_containers(self) -> list[dict[str, Any]]:
        r = self.request("GET", self._path(), params={"format": "json"}, success=(200, 204))
        return r.json() if r.status_code == 200 and r.content else []

    def set_account_group(self, name: str, members: list[str]) -> None:
        self.request("POST", self._path(), params={"update": None},
                     headers={f"X-Account-Group-{name}": ",".join(members)}, success=(202,))

    # containers
    def create_container(self, container: str, *, versioning: str | None = None,
                         quota: int | None = None, metadata: dict[str, str] | None = None) -> bool:
        """Create (True) or find already there (False)."""
        headers = meta_headers("X-Container-Meta-", metadata or {})
        if versioning:
            headers["X-Container-Policy-Versioning"] = versioning
        if quota is not None:
            headers["X-Container-Policy-Quota"] = str(quota)
        r = self.request("PUT", self._path(container), headers={"Content-Length": "0", **headers},
                         success=(201, 202))
        return r.status_code == 201

    def container_info(self, container: str) -> dict[str, str]:
        return self._headers(self.request("HEAD", self._path(container), success=(204, 200)))

    def block_info(self, container: str) -> tuple[int, str]:
        info = self.container_info(container)
        try:
            return int(info["x-container-block-size"]), info["x-container-block-hash"].lower()
        except (KeyError, ValueError) as exc:
            raise ClientError(f"container {container} answers no block size/hash: not Pithos") from exc

    def delete_container(self, container: str, *, recursive: bool = False) -> None:
        if recursive:
            self.request("DELETE", self._path(container), params={"delimiter": "/"}, success=(204,))
            self.request("DELETE", self._path(container), params={"until": f"{time.time():.2f}"},
                         success=(204, 404))
            return
        self.request("DELETE", self._path(container), success=(204,))

    def list_objects(self, container: str, *, prefix: str = "", delimiter: str = "",
                     limit: int | None = None) -> list[dict[str, Any]]:
        return list(self.iter_objects(container, prefix=prefix, delimiter=delimiter, limit=limit))

    def iter_objects(self, container: str, *, prefix: str = "", delimiter: str = "",
                     limit: int | None = None) -> Iterator[dict[str, Any]]:
        marker, count = "", 0
        while True:
            params: dict[str, Any] = {"format": "json", "limit": LIST_PAGE}
            if prefix:
                params["prefix"] = prefix
            if delimiter:
                params["delimiter"] = delimiter
            if marker:
                params["marker"] = marker
            r = self.request("GET", self._path(container), params=params, success=(200, 204))
            page = r.json() if r.status_code == 200 and r.content else []
            for item in page:
                yield item
                count += 1
                if limit is not None and count >= limit:
                    return
            if len(page) < LIST_PAGE:
                return
            marker = page[-1].get("name") or page[-1].get("subdir")

    # objects
    def object_info(self, container: str, obj: str, *, version: str | None = None) -> dict[str, str]:
        params = {"version": version} if version else None
        return self._headers(self.request("HEAD", self._path(container, obj), params=params))

    def object_exists(self, container: str, obj: str) -> bool:
        try:
            self.object_info(container, obj)
        except ClientError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def put_object(self, container: str, obj: str, data: bytes = b"", *,
                   content_type: str = "application/octet-stream", headers: dict[str, str] | None = None) -> dict[str, str]:
        """A plain (unchunked) PUT of ``data``."""
        sent = {"Content-Type": content_type, "Content-Length": str(len(data)), **(headers or {})}
        r = self.request("PUT", self._path(container, obj), params={"format": "json"}, headers=sent,
                         data=data, success=(201,))
        return self._headers(r)

    def mkdir(self, container: str, path: str) -> None:
        self.put_object(container, path, content_type="application/directory")

    def get_hashmap(self, container: str, obj: str, *, version: str | None = None) -> dict[str, Any]:
        params: dict[str, Any] = {"hashmap": "True", "format": "json"}
        if version:
            params["version"] = version
        return self.request("GET", self._path(container, obj), params=params).json()

    def get_range(self, container: str, obj: str, start: int, end: int, *, if_match: str | None = None) -> bytes:
        """Bytes ``start``..``end`` (inclusive) of the object."""
        headers = {"Range": f"bytes={start}-{end}"}
        if if_match:
            headers["If-Match"] = if_match
        r = self.request("GET", self._path(container, obj), params={"format": "json"},
                         headers=headers, success=(200, 206), stream=True)
        with r:
            # 1 MiB reads: requests' .content joins 10 KiB chunks, which costs as much CPU as
            # the transfer itself at these sizes.
            data = b"".join(r.iter_content(1 << 20))
        if r.status_code == 200:  # a server that ignores Range sends everything
            return data[start:end + 1]
        return data

    def iter_range(self, container: str, obj: str, start: int, end: int, piece: int) -> Iterator[bytes]:
        """Bytes ``start``..``end`` (inclusive) streamed in pieces of ``piece`` bytes (the last
        may be shorter): one request, memory for one piece."""
        r = self.request("GET", self._path(container, obj), params={"format": "json"},
                         headers={"Range": f"bytes={start}-{end}"}, success=(200, 206), stream=True)
        with r:
            if r.status_code == 200:  # a server that ignores Range sends everything
                data = b"".join(r.iter_content(1 << 20))[start:end + 1]
                for offset in range(0, len(data), piece):
                    yield data[offset:offset + piece]
                return
            left = end - start + 1
            while left > 0:
                want = min(piece, left)
                chunk = bytearray(want)
                view, got = memoryview(chunk), 0
                while got < want:  # a read may stop at a packet boundary: fill the piece in place
                    n = r.raw.readinto(view[got:])
                    if not n:
                        break
                    got += n
                if not got:
                    return
                left -= got
                yield bytes(view[:got]) if got < want else bytes(chunk)

    def iter_content(self, container: str, obj: str, chunk: int = 1 << 20) -> Iterator[bytes]:
        r = self.request("GET", self._path(container, obj), stream=True)
        yield from r.iter_content(chunk)

    def post_object(self, container: str, obj: str, headers: dict[str, str]) -> None:
        self.request("POST", self._path(container, obj), params={"update": None, "format": "json"},
                     headers={"Content-Length": "0", **headers}, success=(202, 204))

    def set_metadata(self, container: str, obj: str, metadata: dict[str, str]) -> None:
        self.post_object(container, obj, meta_headers("X-Object-Meta-", metadata))

    def delete_metadata(self, container: str, obj: str, keys: list[str]) -> None:
        self.post_object(container, obj, {f"X-Object-Meta-{k}": "" for k in keys})

    def set_sharing(self, container: str, obj: str, *, read: list[str] | None = None,
                    write: list[str] | None = None) -> None:
        """Replace the object's sharing; no readers and no writers clears it."""
        self.post_object(container, obj, {"X-Object-Sharing": format_sharing(read, write)})

    def sharing(self, container: str, obj: str) -> dict[str, list[str]]:
        return parse_sharing(self.object_info(container, obj).get("x-object-sharing", ""))

    def publish(self, container: str, obj: str) -> str:
        """Make the object public; answers its public URL."""
        self.post_object(container, obj, {"X-Object-Public": "True"})
        return self.object_info(container, obj).get("x-object-public", "")

    def unpublish(self, container: str, obj: str) -> None:
        self.post_object(container, obj, {"X-Object-Public": "False"})

    def copy_object(self, container: str, obj: str, dst_container: str, dst_obj: str, *,
                    move: bool = False, source_account: str | None = None) -> None:
        header = "X-Move-From" if move else "X-Copy-From"
        headers = {header: "/" + quote(container, safe="") + "/" + quote(obj, safe="/"),
                   "X-Source-Account": source_account or self.account, "Content-Length": "0"}
        self.request("PUT", self._path(dst_container, dst_obj), params={"format": "json"},
                     headers=headers, success=(201,))

    def delete_object(self, container: str, obj: str, *, recursive: bool = False) -> None:
        params = {"delimiter": "/"} if recursive else None
        self.request("DELETE", self._path(container, obj), params=params, success=(204,))

    # block level, used by the transfers
    def post_block(self, container: str, data: bytes) -> list[str]:
        """Store one or more blocks (the body is split at the block size); their hashes."""
        r = self.request("POST", self._path(container), params={"update": None, "format": "json"},
                         headers={"Content-Type": "application/octet-stream", "Content-Length": str(len(data))},
                         data=data, success=(202,))
        return r.json()

    def put_hashmap(self, container: str, obj: str, hashes: list[str], size: int, *,
                    content_type: str = "application/octet-stream",
                    headers: dict[str, str] | None = None) -> tuple[bool, list[str], dict[str, str]]:
        """(created, missing hashes, reply headers): 201 -> (True, [], ...), 409 -> (False, missing, {})."""
        import json

        body = json.dumps({"hashes": hashes, "bytes": size})
        sent = {"Content-Type": content_type, **(headers or {})}
        try:
            r = self.request("PUT", self._path(container, obj), params={"hashmap": "True", "format": "json"},
                             headers=sent, data=body, success=(201,))
        except ClientError as exc:
            if exc.status == 409 and isinstance(exc.body, list):
                return False, [str(h) for h in exc.body], {}
            raise
        return True, [], self._headers(r)

    def upload_file(self, container: str, obj: str, path, **kw):
        from synnefo.client.transfer import upload_file

        return upload_file(self, container, obj, path, **kw)

    def download_file(self, container: str, obj: str, path, **kw):
        from synnefo.client.transfer import download_file

        return download_file(self, container, obj, path, **kw)
