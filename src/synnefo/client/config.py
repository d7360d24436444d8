"""The kamaki configuration file (``~/.kamakirc``, or ``$KAMAKI_CONFIG``): INI with a
``[global]`` section and one ``[cloud "<name>"]`` section per cloud, as kamaki 0.16 writes it.

Keys are addressed the way ``kamaki config`` does: ``default_cloud`` or ``image_url`` live in
``[global]``; ``cloud.<name>.<option>`` (``url``, ``token``, ``<service>_url`` ...) in the
cloud's section. The seed's keys (``image_url``, ``storage_url``, ``token``,
``storage_account``, ``storage_container``) are ordinary ``[global]`` keys."""

from __future__ import annotations

import configparser
import os
import re
from pathlib import Path

from synnefo.client.http import ConfigError

_CLOUD = re.compile(r'^cloud "(.+)"$')
SEED_KEYS = ("image_url", "storage_url", "token", "storage_account", "storage_container")


def default_path() -> Path:
    return Path(os.environ.get("KAMAKI_CONFIG") or Path.home() / ".kamakirc")


class Config:
    def __init__(self, path: Path | str | None = None):
        self.path = Path(path) if path else default_path()
        self.parser = configparser.RawConfigParser()
        self.parser.optionxform = str  # keep the case of keys, kamaki does
        if self.path.exists():
            try:
                self.parser.read(self.path, encoding="utf-8")
            except configparser.Error as exc:
                raise ConfigError(f"{self.path}: not a kamaki config file: {exc}".splitlines()[0]) from exc
        if not self.parser.has_section("global"):
            self.parser.add_section("global")

    # addressing
    @staticmethod
    def _split(key: str) -> tuple[str, str]:
        if key.startswith("cloud."):
            parts = key.split(".")
            if len(parts) < 3 or not parts[1] or not parts[-1]:
                raise ConfigError(f"bad key {key!r}: use cloud.<name>.<option>")
            return f'cloud "{".".join(parts[1:-1])}"', parts[-1]
        if key.startswith("global."):
            key = key[len("global."):]
        if not key or "." in key:
            raise ConfigError(f"bad key {key!r}")
        return "global", key

    def get(self, key: str, default: str | None = None) -> str | None:
        section, option = self._split(key)
        if self.parser.has_option(section, option):
            return self.parser.get(section, option)
        return default

    def set(self, key: str, value: str) -> None:
        section, option = self._split(key)
        if not self.parser.has_section(section):
            self.parser.add_section(section)
        self.parser.set(section, option, value)

    def delete(self, key: str) -> bool:
        if key.startswith("cloud.") and key.count(".") == 1:  # a whole cloud
            return self.parser.remove_section(f'cloud "{key[len("cloud."):]}"')
        section, option = self._split(key)
        removed = self.parser.has_section(section) and self.parser.remove_option(section, option)
        if removed and section != "global" and not self.parser.items(section):
            self.parser.remove_section(section)
        return bool(removed)

    def items(self) -> list[tuple[str, str]]:
        """Every key as ``kamaki config list`` shows it."""
        rows = [(k, v) for k, v in self.parser.items("global")]
        for cloud in self.clouds():
            rows += [(f"cloud.{cloud}.{k}", v) for k, v in self.parser.items(f'cloud "{cloud}"')]
        return rows

    def clouds(self) -> list[str]:
        return [m.group(1) for s in self.parser.sections() if (m := _CLOUD.match(s))]

    def cloud(self, name: str) -> dict[str, str]:
        section = f'cloud "{name}"'
        return dict(self.parser.items(section)) if self.parser.has_section(section) else {}

    def default_cloud(self) -> str | None:
        """``default_cloud``, else the only cloud there is."""
        name = self.get("default_cloud")
        if name:
            return name
        clouds = self.clouds()
        return clouds[0] if len(clouds) == 1 else None

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # it holds tokens
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            self.parser.write(f)
        os.replace(tmp, self.path)
