"""The HTTP layer every service client shares: one ``requests`` session per client, strict
success codes (as kamaki 0.16 has them), and one exception class for every failure."""

from __future__ import annotations

import json
import threading
from typing import Any, Iterable, Mapping

from urllib.parse import unquote, urlsplit

import requests

DEFAULT_TIMEOUT = 120.0  # seconds per request; a 4 MiB block on a slow link fits easily


class ClientError(Exception):
    """A failed call: ``status`` is the HTTP status (0 when no answer came back) and
    ``message`` the server's own words (the fault message, or the first line of a text body)."""

    def __init__(self, message: str, status: int = 0, details: str = "", body: Any = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.details = details
        self.body = body  # the decoded JSON body, when there was one (a 409's missing hashes)

    def __str__(self) -> str:
        head = f"({self.status}) " if self.status else ""
        return head + self.message + (f" [{self.details}]" if self.details else "")


def server_message(response: requests.Response) -> tuple[str, str]:
    """(message, details) from an error response in any of the shapes our services and
    upstream use: ``{"itemNotFound": {"message": ...}}`` (Cyclades), ``{"error": {"message"}}``
    (Keystone), ``{"message": ...}``, or plain text (Pithos)."""
    text = response.text.strip()
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        if isinstance(body.get("message"), str):
            return body["message"], str(body.get("details") or "")
        for value in body.values():
            if isinstance(value, dict) and "message" in value:
                return str(value["message"]), str(value.get("details") or "")
    if text and not text.startswith("<"):
        return text.splitlines()[0][:300], ""
    return response.reason or "HTTP error", ""


class HTTPClient:
    """A base URL plus a token. Subclasses add one method per API call."""

    def __init__(self, url: str, token: str | None, *, timeout: float = DEFAULT_TIMEOUT,
                 verify: bool | str = True):
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.verify = verify
        self._local = threading.local()  # requests.Session is not thread-safe: one per thread

    @property
    def session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
            session.verify = self.verify
        return session

    def request(self, method: str, path: str = "", *, success: Iterable[int] = (200,),
                params: Mapping[str, Any] | str | None = None, headers: Mapping[str, str] | None = None,
                data: Any = None, json_body: Any = None, stream: bool = False) -> requests.Response:
        """Send one request; a status outside ``success`` raises ClientError."""
        url = self.url + path
        sent = {"X-Auth-Token": self.token} if self.token else {}
        if headers:
            sent.update(headers)
        if json_body is not None:
            data = json.dumps(json_body)
            sent.setdefault("Content-Type", "application/json")
        if params is not None and not isinstance(params, str):
            params = query_string(params)
        if params:
            url += "?" + params
        try:
            response = self.session.request(method, url, headers=sent, data=data,
                                            timeout=self.timeout, stream=stream)
        except requests.RequestException as exc:
            raise ClientError(f"cannot reach {url}: {exc.__class__.__name__}: {exc}") from exc
        if response.status_code not in tuple(success):
            message, details = server_message(response)
            if not response.content:  # a HEAD, or a bodiless fault: say what was asked
                message = f"{message}: {method} {unquote(urlsplit(url).path)}"
            try:
                body = response.json()
            except ValueError:
                body = None
            raise ClientError(message, response.status_code, details, body)
        return response


def query_string(params: Mapping[str, Any]) -> str:
    """``{"update": None, "format": "json"}`` -> ``update&format=json``: flags go without a
    value, as kamaki sends them; ``None`` and ``False`` values are flags/omitted."""
    from urllib.parse import quote

    parts = []
    for key, value in params.items():
        if value is False:
            continue
        if value is None or value is True:
            parts.append(quote(str(key)))
        else:
            parts.append(f"{quote(str(key))}={quote(str(value), safe='')}")
    return "&".join(parts)


class ConfigError(ClientError):
    """Missing or bad settings (no URL, no token, a bad config key): the command cannot start."""

    def __init__(self, message: str):
        super().__init__(message, 0)
