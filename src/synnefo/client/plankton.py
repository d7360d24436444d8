"""Plankton (Synnefo image API v1.0) client: register a Pithos file as an image, list, info,
update, unregister, members. Images travel as ``X-Image-Meta-*`` headers (values URL-quoted)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, unquote

from synnefo.client.http import HTTPClient

META = "x-image-meta-"
PROPERTY = META + "property-"


def image_from_headers(headers) -> dict[str, Any]:
    """The image record from a register/HEAD reply's headers."""
    image: dict[str, Any] = {"properties": {}}
    for key, value in headers.items():
        key = key.lower()
        if key.startswith(PROPERTY):
            image["properties"][key[len(PROPERTY):]] = unquote(value)
        elif key.startswith(META):
            image[key[len(META):].replace("-", "_")] = unquote(value)
    return image


def image_headers(name: str | None = None, location: str | None = None, *, disk_format: str | None = None,
                  container_format: str | None = None, is_public: bool | None = None,
                  description: str | None = None, properties: dict[str, str] | None = None) -> dict[str, str]:
    headers: dict[str, str] = {}
    if name is not None:
        headers["X-Image-Meta-Name"] = quote(name)
    if location is not None:
        headers["X-Image-Meta-Location"] = location
    if disk_format:
        headers["X-Image-Meta-Disk-Format"] = disk_format
    if container_format:
        headers["X-Image-Meta-Container-Format"] = container_format
    if is_public is not None:
        headers["X-Image-Meta-Is-Public"] = "true" if is_public else "false"
    if description is not None:
        headers["X-Image-Meta-Description"] = quote(description)
    for key, value in (properties or {}).items():
        headers[f"X-Image-Meta-Property-{key}"] = quote(str(value))
    return headers


class ImageClient(HTTPClient):
    """``url`` is the image API root (``https://host/cyclades/image/v1.0``)."""

    def register(self, name: str, location: str, **meta) -> dict[str, Any]:
        """Register ``pithos://<account>/<container>/<path>``; answers the image."""
        headers = {"Content-Length": "0", **image_headers(name, location, **meta)}
        r = self.request("POST", "/images/", headers=headers, success=(200, 201))
        return image_from_headers(r.headers)

    def update(self, image_id: str, **meta) -> dict[str, Any]:
        r = self.request("PUT", f"/images/{quote(image_id)}",
                         headers={"Content-Length": "0", **image_headers(**meta)}, success=(200,))
        return image_from_headers(r.headers)

    def list(self, detail: bool = False, **filters) -> list[dict[str, Any]]:
        params = {"sort_dir": "asc", **{k: v for k, v in filters.items() if v is not None}}
        body = self.request("GET", "/images/detail" if detail else "/images/", params=params).json()
        return body["images"] if isinstance(body, dict) else body  # newer servers wrap the list

    def info(self, image_id: str) -> dict[str, Any]:
        return image_from_headers(self.request("HEAD", f"/images/{quote(image_id)}").headers)

    def unregister(self, image_id: str) -> None:
        self.request("DELETE", f"/images/{quote(image_id)}", success=(204, 200))

    def members(self, image_id: str) -> list[str]:
        body = self.request("GET", f"/images/{quote(image_id)}/members").json()
        return [m["member_id"] for m in body.get("members", [])]

    def add_member(self, image_id: str, member: str) -> None:
        self.request("PUT", f"/images/{quote(image_id)}/members/{quote(member)}",
                     headers={"Content-Length": "0"}, success=(204, 200))

    def remove_member(self, image_id: str, member: str) -> None:
        self.request("DELETE", f"/images/{quote(image_id)}/members/{quote(member)}", success=(204, 200))

    def set_members(self, image_id: str, members: list[str]) -> None:
        body = {"memberships": [{"member_id": m} for m in members]}
        self.request("PUT", f"/images/{quote(image_id)}/members", json_body=body, success=(204, 200))
