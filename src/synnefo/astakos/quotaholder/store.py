"""The SQL of the commission hot path (issue, accept, reject).

Every service request that changes usage runs these statements, and the ORM spent about twice
as long composing them as the database spent running them (bench/quotas.py), so they are
written out once here. Plain parameterised SQL that PostgreSQL and SQLite both run; row locks
(``FOR UPDATE``) only where the backend has them. The rest of the quotaholder uses the ORM.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from django.db import DEFAULT_DB_ALIAS, connections

from synnefo.astakos.quotaholder.models import Commission, Holding, Provision, ProvisionLog, Resource


@dataclass
class HoldingRow:
    id: int
    holder: str
    source: str
    resource: str
    limit: int | None
    uplimit: int
    usage_min: int
    usage_max: int

    def effective_limit(self) -> int:
        return self.uplimit if self.limit is None else self.limit

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.holder, self.source, self.resource)


def _connection():
    return connections[DEFAULT_DB_ALIAS]


@cache
def _names(vendor: str) -> dict[str, str]:
    """Quoted table and column names (the same for every connection of a vendor)."""
    qn = _connection().ops.quote_name
    return {
        "holding": qn(Holding._meta.db_table),
        "resource": qn(Resource._meta.db_table),
        "commission": qn(Commission._meta.db_table),
        "provision": qn(Provision._meta.db_table),
        "log": qn(ProvisionLog._meta.db_table),
        "limit": qn("limit"),
    }


def _sql():
    connection = _connection()
    return connection, _names(connection.vendor), connection.features.has_select_for_update


def _holding_columns(n) -> str:
    return f"h.id, h.holder, h.source, r.name, h.{n['limit']}, r.uplimit, h.usage_min, h.usage_max"


def lock_holdings(keys) -> dict[tuple[str, str, str], HoldingRow]:
    """The holdings of (holder, source, resource) ``keys``, locked in id order."""
    connection, n, locks = _sql()
    where = " OR ".join(["(h.holder = %s AND h.source = %s AND r.name = %s)"] * len(keys))
    sql = (
        f"SELECT {_holding_columns(n)} FROM {n['holding']} h "
        f"INNER JOIN {n['resource']} r ON r.id = h.resource_id WHERE {where} ORDER BY h.id"
        + (" FOR UPDATE OF h" if locks else "")
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [value for key in keys for value in key])
        rows = [HoldingRow(*row) for row in cursor.fetchall()]
    return {row.key: row for row in rows}


def save_usage(rows) -> None:
    connection, n, _ = _sql()
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {n['holding']} SET usage_min = %s, usage_max = %s WHERE id = %s",
            [(row.usage_min, row.usage_max, row.id) for row in rows],
        )


def insert_commission(name: str, clientkey: str, issued) -> int:
    connection, n, _ = _sql()
    issued = connection.ops.adapt_datetimefield_value(issued)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {n['commission']} (name, clientkey, issue_datetime) VALUES (%s, %s, %s) RETURNING serial",
            [name, clientkey, issued],
        )
        return cursor.fetchone()[0]


def insert_provisions(serial: int, items) -> None:
    """``items``: (holding id, quantity) pairs."""
    connection, n, _ = _sql()
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {n['provision']} (commission_id, holding_id, quantity) VALUES (%s, %s, %s)",
            [(serial, holding_id, quantity) for holding_id, quantity in items],
        )


def lock_commissions(clientkey: str, serials) -> dict[int, tuple]:
    """``{serial: (name, issue_datetime as stored)}`` of the pending ``serials`` of
    ``clientkey``, locked in serial order."""
    connection, n, locks = _sql()
    marks = ", ".join(["%s"] * len(serials))
    sql = (
        f"SELECT serial, name, issue_datetime FROM {n['commission']} "
        f"WHERE clientkey = %s AND serial IN ({marks}) ORDER BY serial" + (" FOR UPDATE" if locks else "")
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [clientkey, *serials])
        return {serial: (name, issued) for serial, name, issued in cursor.fetchall()}


def lock_provisions(serials) -> list[tuple[int, int, HoldingRow]]:
    """(serial, quantity, holding) of the commissions ``serials``, their holdings locked in id
    order; a holding in several commissions is one shared ``HoldingRow``."""
    connection, n, locks = _sql()
    marks = ", ".join(["%s"] * len(serials))
    sql = (
        f"SELECT p.commission_id, p.quantity, {_holding_columns(n)} FROM {n['provision']} p "
        f"INNER JOIN {n['holding']} h ON h.id = p.holding_id INNER JOIN {n['resource']} r ON r.id = h.resource_id "
        f"WHERE p.commission_id IN ({marks}) ORDER BY h.id, p.id" + (" FOR UPDATE OF h" if locks else "")
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, list(serials))
        rows = cursor.fetchall()
    holdings: dict[int, HoldingRow] = {}
    result = []
    for serial, quantity, *holding in rows:
        row = holdings.setdefault(holding[0], HoldingRow(*holding))
        result.append((serial, quantity, row))
    return result


def insert_logs(logs) -> None:
    """``logs``: (serial, name, clientkey, issue_time, log_time, holder, source, resource, limit,
    usage_min, usage_max, delta_quantity, reason) tuples."""
    if not logs:
        return
    connection, n, _ = _sql()
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {n['log']} (serial, name, clientkey, issue_time, log_time, holder, source, resource, "
            f"{n['limit']}, usage_min, usage_max, delta_quantity, reason) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            logs,
        )


def delete_commissions(serials) -> None:
    connection, n, _ = _sql()
    marks = ", ".join(["%s"] * len(serials))
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {n['provision']} WHERE commission_id IN ({marks})", list(serials))
        cursor.execute(f"DELETE FROM {n['commission']} WHERE serial IN ({marks})", list(serials))


# --- whole steps, in one statement on PostgreSQL ---------------------------------------------
# Once the rows are locked, the rest of a step is writes whose results nobody waits for, so on
# PostgreSQL they go as one statement of data-modifying CTEs (one round trip instead of three or
# four); other databases run them one by one.


def _values(rows: int, columns: int, cast: str = "") -> str:
    one = "(" + ", ".join([f"%s{cast}"] * columns) + ")"
    return ", ".join([one] * rows)


def _usage_cte(n, rows) -> tuple[str, list]:
    sql = (
        f"UPDATE {n['holding']} h SET usage_min = v.usage_min, usage_max = v.usage_max "
        f"FROM (VALUES {_values(len(rows), 3, '::bigint')}) AS v(id, usage_min, usage_max) WHERE h.id = v.id"
    )
    return sql, [value for row in rows for value in (row.id, row.usage_min, row.usage_max)]


def write_issue(rows, name: str, clientkey: str, issued, provisions) -> int:
    """Save the holdings' new usage and create the commission with its ``provisions``
    ((holding id, quantity) pairs). Returns the serial."""
    connection, n, _ = _sql()
    rows = list(rows)
    if connection.vendor != "postgresql":
        save_usage(rows)
        serial = insert_commission(name, clientkey, issued)
        insert_provisions(serial, provisions)
        return serial
    usage_sql, usage_params = _usage_cte(n, rows)
    sql = (
        f"WITH u AS ({usage_sql}), "
        f"c AS (INSERT INTO {n['commission']} (name, clientkey, issue_datetime) VALUES (%s, %s, %s) RETURNING serial), "
        f"p AS (INSERT INTO {n['provision']} (commission_id, holding_id, quantity) "
        f"SELECT c.serial, x.holding_id, x.quantity FROM c, (VALUES {_values(len(provisions), 2, '::bigint')}) "
        "AS x(holding_id, quantity)) "
        "SELECT serial FROM c"
    )
    params = usage_params + [name, clientkey, issued] + [v for pair in provisions for v in pair]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


def write_resolution(rows, logs, serials) -> None:
    """Save the holdings' new usage, log the resolved provisions, forget the commissions."""
    connection, n, _ = _sql()
    rows, serials = list(rows), list(serials)
    if connection.vendor != "postgresql" or not rows:
        save_usage(rows)
        insert_logs(logs)
        delete_commissions(serials)
        return
    usage_sql, usage_params = _usage_cte(n, rows)
    marks = ", ".join(["%s"] * len(serials))
    sql = (
        f"WITH u AS ({usage_sql}), "
        f"l AS (INSERT INTO {n['log']} (serial, name, clientkey, issue_time, log_time, holder, source, resource, "
        f"{n['limit']}, usage_min, usage_max, delta_quantity, reason) VALUES {_values(len(logs), 13)}), "
        f"p AS (DELETE FROM {n['provision']} WHERE commission_id IN ({marks})) "
        f"DELETE FROM {n['commission']} WHERE serial IN ({marks})"
    )
    params = usage_params + [v for log in logs for v in log] + serials + serials
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
