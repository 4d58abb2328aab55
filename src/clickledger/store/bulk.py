"""Bulk writes and look-ups below the Core compiler, for imports and reconciliation.

``insert_frame``: large, new rows from a polars frame (reconciliation items, …):
SQLite gets a driver ``executemany``, PostgreSQL a ``COPY``.  Values must
already be in database form: UUIDs as 32 hex digits, times as UTC text, JSON
as text.  On SQLite a column with one plain value (or none) in every row is
written into the statement as a literal (``constant_literals``) instead of
being bound row by row: binding is a large part of an ``executemany``.

``in_list`` / ``list_param``: a whole list of values as ONE parameter
(``IN (SELECT value FROM json_each(?))`` on SQLite, ``= ANY(%s)`` on
PostgreSQL), so a look-up of 50,000 keys is one statement, not a hundred
compiled ``IN (…)`` lists.  ``insert_ids`` inserts one row per id with the
same other values (``insert … select … on conflict do nothing``), entirely in
the database.  The caller owns the transaction.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

if TYPE_CHECKING:
    import polars as pl  # only for annotations: loaded on first use (process start-up)


SAFE_LITERAL = re.compile(r"[A-Za-z0-9_.:+ -]{0,64}")  # text written as a literal: no quotes


def _driver(conn: sa.Connection) -> Any:
    return conn.connection.driver_connection


def constant_literals(frame: pl.DataFrame) -> dict[str, str]:
    """SQL literals for the columns (never the first) holding one value in every row:
    ``NULL``, an integer, or a short text of letters, digits and ``_.:+ -`` only
    (nothing to escape); other columns are left to be bound."""
    found: dict[str, str] = {}
    if frame.height < 2:
        return found
    for name in frame.columns[1:]:  # at least one column stays bound: one row per tuple
        series = frame[name]
        nulls = series.null_count()
        if nulls == frame.height:
            found[name] = "NULL"
            continue
        first = series[0]
        if nulls:
            continue
        if type(first) is int:
            literal = str(first)
        elif isinstance(first, str) and SAFE_LITERAL.fullmatch(first):
            literal = f"'{first}'"
        else:
            continue
        if (series == first).all():
            found[name] = literal
    return found


def insert_frame(conn: sa.Connection, table: sa.Table, frame: pl.DataFrame) -> int:
    """Insert every row of ``frame`` (columns named as ``table``'s); returns the row count."""
    if frame.height == 0:
        return 0
    unknown = set(frame.columns) - set(table.c.keys())
    if unknown:
        raise ValueError(f"{table.name} has no columns {sorted(unknown)}")
    columns = ", ".join(frame.columns)
    if conn.dialect.name == "postgresql":
        buffer = io.BytesIO()
        frame.write_csv(buffer, include_header=False, null_value="")
        with (
            _driver(conn).cursor() as cursor,
            cursor.copy(f"COPY {table.name} ({columns}) FROM STDIN WITH (FORMAT csv)") as copy,
        ):
            copy.write(buffer.getvalue())
        return frame.height
    literals = constant_literals(frame)
    values = ", ".join(literals.get(c, "?") for c in frame.columns)
    statement = f"INSERT INTO {table.name} ({columns}) VALUES ({values})"  # noqa: S608
    bound = [c for c in frame.columns if c not in literals]
    cursor = _driver(conn).cursor()
    try:
        cursor.executemany(statement, zip(*(frame[c].to_list() for c in bound), strict=True))
    finally:
        cursor.close()
    return frame.height


def in_list(conn: sa.Connection, sql_type: str | None = None) -> str:
    """``IN (…)`` of one list parameter (``list_param``) for ``conn``'s dialect.

    ``sql_type`` is the PostgreSQL element type of the list (``uuid``, ``text``);
    SQLite compares the JSON values as text.
    """
    if conn.dialect.name == "postgresql":
        return f"= ANY(CAST(%s AS {sql_type or 'text'}[]))"
    return "IN (SELECT value FROM json_each(?))"


def list_param(conn: sa.Connection, values: Iterable[str], uuids: bool = False) -> Any:
    """``values`` as the one parameter of ``in_list``: JSON text on SQLite (UUIDs as the
    32 hex digits SQLite stores), a list on PostgreSQL."""
    if conn.dialect.name == "postgresql":
        return list(values)
    if uuids:
        import polars as pl  # noqa: PLC0415 - loaded on first use

        series = pl.Series(list(values), dtype=pl.String)
        return json.dumps(
            series.str.replace_all("-", "", literal=True).str.to_lowercase().to_list()
        )
    return json.dumps(list(values))


def insert_ids(
    conn: sa.Connection,
    table: sa.Table,
    column: str,
    ids: Sequence[str],
    constants: Mapping[str, Any],
) -> int:
    """Insert a row ``{column: id, **constants}`` per id (a UUID column), skipping ids
    already there (``on conflict (column) do nothing``); returns how many were new.

    ``constants`` go through their columns' own bind processing, so they are
    stored exactly as Core would store them."""
    if not ids:
        return 0
    dialect = conn.dialect
    names = list(constants)
    values = []
    for name in names:
        process = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        values.append(process(constants[name]) if process else constants[name])
    columns = ", ".join([column, *names])
    if dialect.name == "postgresql":
        marks = "".join(", %s" for _ in names)
        sql = (
            f"INSERT INTO {table.name} ({columns}) SELECT x{marks} "  # noqa: S608
            f"FROM unnest(CAST(%s AS uuid[])) AS x ON CONFLICT ({column}) DO NOTHING"
        )
    else:
        marks = "".join(", ?" for _ in names)
        sql = (
            f"INSERT INTO {table.name} ({columns}) SELECT value{marks} "  # noqa: S608
            f"FROM json_each(?) WHERE true ON CONFLICT ({column}) DO NOTHING"
        )
    params = (*values, list_param(conn, ids, uuids=True))
    return int(conn.exec_driver_sql(sql, params).rowcount)
