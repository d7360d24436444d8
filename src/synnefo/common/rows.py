"""Hand-written SELECTs for the hottest lookups, returning ordinary model instances.

Compiling an ORM query costs several times what running a one-row indexed lookup does (about
two thirds of a small Pithos GET went to it). A hot lookup therefore builds its SQL once per
process from a ``Columns`` per model and turns each row back into a model instance with the
same column converters the ORM applies (``Model.from_db``; fields not selected load on access).
"""

from __future__ import annotations

from functools import cached_property

from django.db import DEFAULT_DB_ALIAS, connections


class Columns:
    """The columns of ``model`` (all, or those named in ``attnames``) as ``alias.column`` for a
    SELECT list, and the instances back from the values of a row."""

    def __init__(self, model, attnames: set[str] | None = None, alias: str = ""):
        self.model = model
        self.attnames = attnames
        self.alias = alias or model._meta.db_table

    @cached_property
    def fields(self) -> list:
        # In the model's order, as ``from_db`` wants them.
        return [f for f in self.model._meta.concrete_fields if self.attnames is None or f.attname in self.attnames]

    def __len__(self) -> int:
        return len(self.fields)

    def sql(self) -> str:
        qn = connection().ops.quote_name
        return ", ".join(f"{qn(self.alias)}.{qn(f.column)}" for f in self.fields)

    @cached_property
    def _converters(self) -> list:
        # Converters depend only on the database backend and the settings, so they are built once.
        conn = connection()
        plans = []
        for field in self.fields:
            col = field.get_col(self.model._meta.db_table)
            plans.append((col, conn.ops.get_db_converters(col) + field.get_db_converters(conn)))
        return plans

    def instance(self, values):
        """A model instance from the raw values of this model's columns in a row."""
        conn = connection()
        converted = []
        for (col, functions), value in zip(self._converters, values):
            for function in functions:
                value = function(value, col, conn)
            converted.append(value)
        return self.model.from_db(DEFAULT_DB_ALIAS, [f.attname for f in self.fields], converted)


def connection():
    return connections[DEFAULT_DB_ALIAS]


def quote(name: str) -> str:
    return connection().ops.quote_name(name)


def fetch_one(sql: str, params) -> tuple | None:
    with connection().cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def fetch_all(sql: str, params) -> list[tuple]:
    with connection().cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def execute(sql: str, params) -> int:
    """Run a write; how many rows it changed."""
    with connection().cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount
