"""Loading of the operator's settings files.

Settings come from three layers, later ones winning:

1. built-in defaults of every component (``synnefo.<component>.defaults``),
2. every ``*.conf`` file of the settings directory, in name order
   (``/etc/synnefo`` unless ``SYNNEFO_SETTINGS_DIR`` says otherwise),
3. values derived from the above (``finalize`` in ``synnefo.settings``).

A ``.conf`` file is Python. It sees the settings as they stand after the files before it, so it
may modify a default in place (``LOGGING_SETUP["loggers"]["synnefo.api"] = ...``). An
upper-case name that is neither one of ours nor one of Django's is almost always a typo, so it
stops the start with the file and line named, as does a file that does not parse or raises.
"""

from __future__ import annotations

import ast
import os
import traceback
from pathlib import Path

DEFAULT_SETTINGS_DIR = "/etc/synnefo"
# Settings of libraries we configure for the operator, who may still set them directly
# (django-auth-ldap's, which win over the ASTAKOS_LDAP_* they are derived from).
LIBRARY_SETTING_PREFIXES = ("AUTH_LDAP_",)


class SettingsError(Exception):
    """A settings file is malformed or names an unknown setting."""


def settings_dir() -> Path:
    return Path(os.environ.get("SYNNEFO_SETTINGS_DIR", DEFAULT_SETTINGS_DIR))


def _assignment_lines(source: str) -> dict[str, int]:
    """Map every name assigned at the top level of a file to the line of its first assignment."""
    lines: dict[str, int] = {}
    for node in ast.walk(ast.parse(source)):
        targets = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets = [node.target]
        for target in targets:
            for name in ast.walk(target):
                if isinstance(name, ast.Name):
                    lines.setdefault(name.id, node.lineno)
    return lines


def _error_line(exc: BaseException, path: Path) -> int | None:
    if isinstance(exc, SyntaxError):
        return exc.lineno
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename == str(path):
            return frame.lineno
    return None


def is_setting_name(name: str) -> bool:
    return name.isupper() and not name.startswith("_")


def load_file(path: Path, settings: dict, known: set[str]) -> None:
    """Execute one settings file and merge what it sets into ``settings``."""
    try:
        source = path.read_text()
        code = compile(source, str(path), "exec")
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError(f"{path}: cannot read settings file: {exc}") from None
    except SyntaxError as exc:
        raise SettingsError(f"{path}:{exc.lineno}: syntax error: {exc.msg}") from None

    namespace = {name: value for name, value in settings.items() if is_setting_name(name)}
    namespace["__file__"] = str(path)
    try:
        exec(code, namespace)  # noqa: S102 - settings files are trusted operator code, as upstream
    except Exception as exc:  # the operator needs the file and line, whatever went wrong
        line = _error_line(exc, path)
        where = f"{path}:{line}" if line else str(path)
        raise SettingsError(f"{where}: {type(exc).__name__}: {exc}") from None

    lines = _assignment_lines(source)
    for name, value in namespace.items():
        if not is_setting_name(name):
            continue
        if name not in known and not name.startswith(LIBRARY_SETTING_PREFIXES):
            line = lines.get(name)
            where = f"{path}:{line}" if line else str(path)
            raise SettingsError(f"{where}: unknown setting {name}")
        settings[name] = value


def load_settings_dir(settings: dict, directory: Path | None = None) -> list[Path]:
    """Apply every ``*.conf`` file of ``directory`` to ``settings``; return the files read."""
    from django.conf import global_settings

    directory = settings_dir() if directory is None else directory
    if not directory.is_dir():
        return []
    known = {name for name in settings if is_setting_name(name)}
    known |= {name for name in dir(global_settings) if is_setting_name(name)}
    files = sorted(p for p in directory.iterdir() if p.suffix == ".conf" and p.is_file())
    for path in files:
        load_file(path, settings, known)
    return files


def setup_django_or_exit(program: str) -> None:
    """Set Django up with Synnefo's settings; on a settings error, exit naming file and line."""
    import sys

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "synnefo.settings")
    import django
    from django.core.exceptions import ImproperlyConfigured

    from django.apps import apps

    if apps.ready:
        # Already set up (a command's code run in a process that has Django: a test, or
        # snf-manage): setting up again would configure logging anew, binding its console
        # handler to whatever sys.stderr is at that moment.
        return
    try:
        django.setup()
    except (SettingsError, ImproperlyConfigured) as exc:  # the latter: checks made as apps start
        sys.exit(f"{program}: settings error: {exc}")
