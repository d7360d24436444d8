"""Compute (flavors, images, servers), network and volume clients, in the request and reply
shapes of Cyclades (OpenStack Compute v2 / Neutron / Cinder v2 with Synnefo's extensions)."""

from __future__ import annotations

import time
from typing import Any, Callable
from urllib.parse import quote

from synnefo.client.http import ClientError, ConfigError, HTTPClient

FINAL_STATES = {"ACTIVE", "STOPPED", "ERROR", "DELETED"}


def server_id(value: str | int) -> int:
    """Synnefo server ids are positive integers (kamaki refuses anything else)."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = 0
    if number <= 0:
        raise ConfigError(f"server id must be a positive integer, not {value!r}")
    return number


def reassign_body(project: str) -> dict[str, Any]:
    return {"reassign": {"project": project}}


class ComputeClient(HTTPClient):
    """``url`` is the compute root (``https://host/cyclades/compute/v2.0``)."""

    def _list(self, kind: str, detail: bool) -> list[dict[str, Any]]:
        return self.request("GET", f"/{kind}/detail" if detail else f"/{kind}").json()[kind]

    def flavors(self, detail: bool = False) -> list[dict[str, Any]]:
        return self._list("flavors", detail)

    def flavor(self, flavor_id: str | int) -> dict[str, Any]:
        return self.request("GET", f"/flavors/{quote(str(flavor_id))}").json()["flavor"]

    def images(self, detail: bool = False) -> list[dict[str, Any]]:
        return self._list("images", detail)

    def image(self, image_id: str) -> dict[str, Any]:
        return self.request("GET", f"/images/{quote(image_id)}").json()["image"]

    def servers(self, detail: bool = False) -> list[dict[str, Any]]:
        return self._list("servers", detail)

    def server(self, sid: str | int) -> dict[str, Any]:
        return self.request("GET", f"/servers/{server_id(sid)}").json()["server"]

    def create_server(self, name: str, flavor_id: str | int, image_id: str, *,
                      networks: list[str] | None = None, project: str | None = None,
                      metadata: dict[str, str] | None = None) -> dict[str, Any]:
        """Create a server; the image's ``os`` and ``users`` metadata go into the server's, as
        kamaki does. The reply carries ``adminPass`` (shown once)."""
        image = self.image(image_id)
        meta = {k: v for k, v in (image.get("metadata") or {}).items() if k.lower() in ("os", "users")}
        meta.update(metadata or {})
        try:
            flavor_ref: str | int = int(flavor_id)
        except (TypeError, ValueError):
            flavor_ref = flavor_id
        server: dict[str, Any] = {"flavorRef": flavor_ref, "name": name, "imageRef": image_id}
        if meta:
            server["metadata"] = meta
        if networks is not None:
            server["networks"] = [{"uuid": n} for n in networks]
        if project:
            server["project"] = project
        return self.request("POST", "/servers", json_body={"server": server}, success=(202,)).json()["server"]

    def action(self, sid: str | int, body: dict[str, Any]) -> None:
        self.request("POST", f"/servers/{server_id(sid)}/action", json_body=body, success=(202, 200, 204))

    def console(self, sid: str | int, console_type: str = "vnc") -> dict[str, Any]:
        """A one-time console of a running server: ``{"type", "host", "port", "password"}``."""
        body = {"console": {"type": console_type}}
        return self.request("POST", f"/servers/{server_id(sid)}/action", json_body=body).json()["console"]

    def reassign(self, sid: str | int, project: str) -> None:
        """Move the server to another of your projects (Synnefo's extension)."""
        self.action(sid, reassign_body(project))

    def start(self, sid: str | int) -> None:
        self.action(sid, {"start": {}})

    def shutdown(self, sid: str | int) -> None:
        self.action(sid, {"shutdown": {}})

    def reboot(self, sid: str | int, hard: bool = False) -> None:
        self.action(sid, {"reboot": {"type": "HARD" if hard else "SOFT"}})

    def delete_server(self, sid: str | int) -> None:
        self.request("DELETE", f"/servers/{server_id(sid)}", success=(204,))

    def wait(self, sid: str | int, *, until: str | None = None, leave: str | None = None,
             timeout: float = 300, interval: float = 1.0,
             progress: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
        """Poll the server until its status is ``until`` (or, without it, until it leaves
        ``leave``/reaches a final state); a deleted server (404) counts as DELETED."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                server = self.server(sid)
            except ClientError as exc:
                if exc.status == 404 and until in (None, "DELETED"):
                    return {"id": server_id(sid), "status": "DELETED"}
                raise
            status = server.get("status")
            if progress:
                progress(server)
            if (until and status == until) or (not until and status != leave and (leave or status in FINAL_STATES)):
                return server
            if status == "ERROR" and until != "ERROR":
                raise ClientError(f"server {sid} went into ERROR", 0)
            if time.monotonic() > deadline:
                raise ClientError(f"server {sid} is still {status} after {timeout:.0f} s", 0)
            time.sleep(interval)


class NetworkClient(HTTPClient):
    """``url`` is the network root (``https://host/cyclades/network/v2.0``)."""

    def networks(self) -> list[dict[str, Any]]:
        return self.request("GET", "/networks/detail").json()["networks"]

    def network(self, network_id: str) -> dict[str, Any]:
        return self.request("GET", f"/networks/{quote(network_id)}").json()["network"]

    def create_network(self, name: str, network_type: str = "MAC_FILTERED") -> dict[str, Any]:
        body = {"network": {"type": network_type, "name": name, "admin_state_up": True}}
        return self.request("POST", "/networks", json_body=body, success=(201,)).json()["network"]

    def delete_network(self, network_id: str) -> None:
        self.request("DELETE", f"/networks/{quote(network_id)}", success=(204,))

    def reassign_network(self, network_id: str, project: str) -> None:
        self.request("POST", f"/networks/{quote(network_id)}/action", json_body=reassign_body(project), success=(200,))

    def reassign_floating_ip(self, ip_id: str, project: str) -> None:
        self.request("POST", f"/floatingips/{quote(ip_id)}/action", json_body=reassign_body(project), success=(200,))


class VolumeClient(HTTPClient):
    """``url`` is the block storage root (``https://host/cyclades/volume/v2.0``)."""

    def volumes(self, detail: bool = True) -> list[dict[str, Any]]:
        return self.request("GET", "/volumes/detail" if detail else "/volumes").json()["volumes"]

    def volume(self, volume_id: str) -> dict[str, Any]:
        return self.request("GET", f"/volumes/{quote(str(volume_id))}").json()["volume"]

    def create_volume(self, size: int, *, name: str | None = None, server_id: str | None = None,
                      volume_type: str | None = None, snapshot_id: str | None = None,
                      image_id: str | None = None, project: str | None = None) -> dict[str, Any]:
        volume: dict[str, Any] = {"size": int(size)}
        for key, value in (("display_name", name), ("server_id", server_id), ("volume_type", volume_type),
                           ("snapshot_id", snapshot_id), ("imageRef", image_id), ("project", project)):
            if value is not None:
                volume[key] = value
        return self.request("POST", "/volumes", json_body={"volume": volume}, success=(202, 200)).json()["volume"]

    def delete_volume(self, volume_id: str) -> None:
        self.request("DELETE", f"/volumes/{quote(str(volume_id))}", success=(202, 204))

    def reassign_volume(self, volume_id: str, project: str) -> None:
        self.request("POST", f"/volumes/{quote(str(volume_id))}/action", json_body=reassign_body(project), success=(200,))

    def snapshots(self, detail: bool = True) -> list[dict[str, Any]]:
        return self.request("GET", "/snapshots/detail" if detail else "/snapshots").json()["snapshots"]

    def snapshot(self, snapshot_id: str) -> dict[str, Any]:
        return self.request("GET", f"/snapshots/{quote(snapshot_id)}").json()["snapshot"]

    def create_snapshot(self, volume_id: str, *, name: str | None = None,
                        description: str | None = None) -> dict[str, Any]:
        snapshot: dict[str, Any] = {"volume_id": volume_id}
        if name is not None:
            snapshot["display_name"] = name
        if description is not None:
            snapshot["display_description"] = description
        return self.request("POST", "/snapshots", json_body={"snapshot": snapshot}, success=(202, 200)).json()["snapshot"]

    def delete_snapshot(self, snapshot_id: str) -> None:
        self.request("DELETE", f"/snapshots/{quote(snapshot_id)}", success=(202, 204))
