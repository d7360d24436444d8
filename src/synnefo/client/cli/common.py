"""What every command shares: the parsed context (config, cloud, output), printing in text or
JSON, confirmations, progress bars and remote path parsing."""

from __future__ import annotations

import json
import os
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator

from synnefo.client.config import Config
from synnefo.client.http import ConfigError
from synnefo.client.session import Cloud


class UsageError(ConfigError):
    """Bad command-line input found after parsing: exit status 2."""


@dataclass
class Context:
    config_path: str | None = None
    cloud_name: str | None = None
    output_format: str = "text"
    yes: bool = False
    progress: bool = True
    out: Any = field(default_factory=lambda: sys.stdout)

    @property
    def config(self) -> Config:
        if not hasattr(self, "_config"):
            self._config = Config(self.config_path)
        return self._config

    @property
    def cloud(self) -> Cloud:
        if not hasattr(self, "_cloud"):
            self._cloud = Cloud.from_config(self.config, self.cloud_name)
        return self._cloud

    @property
    def json(self) -> bool:
        return self.output_format == "json"

    # output
    def emit(self, data: Any, *, text: str | None = None) -> None:
        """Print a result: JSON with --output-format json, else ``text`` or a readable form."""
        if self.json:
            print(json.dumps(data, indent=2, sort_keys=True, default=str), file=self.out)
        elif text is not None:
            if text:
                print(text, file=self.out)
        else:
            print(render(data), file=self.out)

    def confirm(self, question: str) -> None:
        """Go on with --yes or a 'y' on the terminal; without a terminal, refuse (exit 2)."""
        if self.yes:
            return
        if not sys.stdin.isatty():
            raise UsageError(f"{question} needs confirmation: add --yes")
        answer = input(f"{question} [y/N]: ").strip().lower()
        if answer not in ("y", "yes"):
            raise UsageError("aborted")

    @contextmanager
    def bar(self, total: int, description: str) -> Iterator[Any]:
        """A tqdm progress bar on stderr (only on a terminal, never with JSON output); yields
        the callback that advances it by a number of bytes."""
        show = self.progress and not self.json and sys.stderr.isatty()
        if not show:
            yield lambda n: None
            return
        import shutil

        from tqdm import tqdm

        # A terminal that reports no size (a bare pty, some CI consoles) gets no bar at all from
        # tqdm (zero columns and rows): take shutil's answer then ($COLUMNS/$LINES or 80x24).
        try:
            size = os.get_terminal_size(sys.stderr.fileno())
        except OSError:
            size = None
        if not size or not size.columns or not size.lines:
            size = shutil.get_terminal_size()
        with tqdm(total=total, desc=description, unit="B", unit_scale=True, unit_divisor=1024,
                  file=sys.stderr, leave=False, ncols=size.columns, nrows=size.lines) as bar:
            yield bar.update


def render(data: Any, indent: str = "") -> str:
    """A readable form of a result: records as ``key: value`` lines, lists one item a line."""
    if isinstance(data, dict):
        lines = []
        for key in sorted(data):
            value = data[key]
            if isinstance(value, (dict, list)) and value:
                lines.append(f"{indent}{key}:")
                lines.append(render(value, indent + "  "))
            else:
                lines.append(f"{indent}{key}: {'' if value is None else value}")
        return "\n".join(lines)
    if isinstance(data, list):
        if all(isinstance(item, dict) for item in data):
            return f"\n{indent}\n".join(render(item, indent) for item in data) if data else ""
        return "\n".join(f"{indent}{item}" for item in data)
    return f"{indent}{data}"


def split_remote(path: str, *, need_object: bool = True, account: str | None = None) -> tuple[str | None, str, str]:
    """``/container/object``, ``container/object`` or ``pithos://account/container/object``
    -> (account or None, container, object)."""
    if path.startswith("pithos://"):
        account, _, path = path[len("pithos://"):].partition("/")
    container, _, obj = path.lstrip("/").partition("/")
    if not container:
        raise UsageError(f"{path!r}: give a path as /container/object")
    if need_object and not obj:
        raise UsageError(f"{path!r}: give a path as /container/object")
    return account, container, obj


def parse_pairs(values: list[str] | None, what: str = "key=value") -> dict[str, str]:
    pairs = {}
    for item in values or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"{item!r}: expected {what}")
        pairs[key] = value
    return pairs


def size_text(n: int | str | None) -> str:
    try:
        n = float(n)
    except (TypeError, ValueError):
        return str(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f}{unit}" if unit == "B" else f"{n:.1f}{unit}"
        n /= 1024
    return str(n)
