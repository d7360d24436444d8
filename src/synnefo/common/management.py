"""Shared pieces of ``snf-manage`` commands: output formats and list commands.

Every list command takes upstream's options: ``-o/--output`` (fields), ``--output-format``
(table, json, csv), ``--no-headers``, ``--filter-by key=value,...``, ``--list-fields``.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable

from django.core.management.base import BaseCommand, CommandError

OUTPUT_FORMATS = ("table", "json", "csv")


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "True" if value else "False"
    return str(value)


def print_rows(stdout, headers: list[str], rows: list[list], fmt: str = "table", no_headers: bool = False) -> None:
    if fmt == "json":
        stdout.write(json.dumps([dict(zip(headers, map(_json_value, row))) for row in rows], indent=2))
        return
    if fmt == "csv":
        writer = csv.writer(stdout, lineterminator="\n")
        if not no_headers:
            writer.writerow(headers)
        writer.writerows([[_text(v) for v in row] for row in rows])
        return
    table = [[_text(v) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in table]) for i, h in enumerate(headers)]
    if not no_headers:
        stdout.write("  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip())
        stdout.write("  ".join("-" * w for w in widths))
    for row in table:
        stdout.write("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip())


def _json_value(value):
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def print_dict(stdout, data: dict, fmt: str = "table") -> None:
    """One object, as ``key: value`` lines (table), a JSON object, or two csv rows."""
    if fmt == "json":
        stdout.write(json.dumps({k: _json_value(v) for k, v in data.items()}, indent=2))
    elif fmt == "csv":
        print_rows(stdout, list(data), [list(data.values())], "csv")
    else:
        width = max(len(k) for k in data)
        for key, value in data.items():
            stdout.write(f"{key.ljust(width)}: {_text(value)}")


class ListCommand(BaseCommand):
    """A command that lists objects of a queryset. Subclasses set ``FIELDS`` (name ->
    (getter, help)), ``DEFAULT_FIELDS``, ``FILTERS`` (``--filter-by`` key -> lookup) and
    ``get_queryset``."""

    FIELDS: dict[str, tuple[Callable, str]] = {}
    DEFAULT_FIELDS: tuple[str, ...] = ()
    FILTERS: dict[str, str] = {}

    def add_arguments(self, parser):
        parser.add_argument("-o", "--output", help="Comma-separated fields to show (see --list-fields)")
        parser.add_argument("--output-format", choices=OUTPUT_FORMATS, default="table")
        parser.add_argument("--no-headers", action="store_true", help="Do not print the header line")
        parser.add_argument("--filter-by", help="Comma-separated key=value filters (see --list-filters)")
        parser.add_argument("--list-fields", action="store_true", help="List the fields -o accepts")
        parser.add_argument("--list-filters", action="store_true", help="List the keys --filter-by accepts")

    def get_queryset(self, options) -> Iterable:
        raise NotImplementedError

    def _filters(self, spec: str) -> dict:
        lookups = {}
        for item in filter(None, (part.strip() for part in spec.split(","))):
            key, sep, value = item.partition("=")
            if not sep or key not in self.FILTERS:
                raise CommandError(f"Bad filter '{item}'; keys: {', '.join(sorted(self.FILTERS))}")
            if value.lower() in ("true", "false"):
                value = value.lower() == "true"
            lookups[self.FILTERS[key]] = value
        return lookups

    def handle(self, *args, **options):
        if options["list_fields"]:
            print_rows(self.stdout, ["field", "description"], [[k, h] for k, (_, h) in self.FIELDS.items()])
            return
        if options["list_filters"]:
            print_rows(self.stdout, ["filter", "lookup"], [[k, v] for k, v in self.FILTERS.items()])
            return
        fields = options["output"].split(",") if options["output"] else list(self.DEFAULT_FIELDS)
        unknown = [f for f in fields if f not in self.FIELDS]
        if unknown:
            raise CommandError(f"Unknown fields {unknown}; see --list-fields")
        lookups = self._filters(options["filter_by"]) if options["filter_by"] else {}
        objects = self.get_queryset(options)
        if lookups:
            objects = objects.filter(**lookups)
        rows = [[self.FIELDS[f][0](obj) for f in fields] for obj in objects]
        print_rows(self.stdout, fields, rows, options["output_format"], options["no_headers"])
