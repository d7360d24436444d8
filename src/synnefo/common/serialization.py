"""JSON and XML renderings of API documents (XML where upstream offers it)."""

from __future__ import annotations

import json
from xml.sax.saxutils import escape, quoteattr

XML_NAMESPACE = "http://docs.openstack.org/identity/api/v2.0"


def to_json(data) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode()


def _scalar(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _xml_element(tag: str, value, extra_attrs: str = "") -> str:
    if isinstance(value, dict):
        scalars = {k: v for k, v in value.items() if not isinstance(v, (dict, list))}
        attrs = extra_attrs + "".join(f" {k}={quoteattr(_scalar(v))}" for k, v in scalars.items())
        children = "".join(_xml_element(k, v) for k, v in value.items() if k not in scalars)
        return f"<{tag}{attrs}>{children}</{tag}>" if children else f"<{tag}{attrs}/>"
    if isinstance(value, list):
        item = tag[:-1] if tag.endswith("s") else "item"
        return f"<{tag}{extra_attrs}>" + "".join(_xml_element(item, v) for v in value) + f"</{tag}>"
    return f"<{tag}{extra_attrs}>{escape(_scalar(value))}</{tag}>"


def to_xml(data: dict) -> bytes:
    """Render a one-key document ``{"root": {...}}`` as OpenStack's XML did: scalars become
    attributes, dicts and lists child elements."""
    ((root, body),) = data.items()
    element = _xml_element(root, body, f" xmlns={quoteattr(XML_NAMESPACE)}")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + element).encode()
