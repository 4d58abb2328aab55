"""Bulk insert of freshly keyed rows from a polars frame, below the Core compiler.

For large, new rows only (reconciliation items, …): SQLite gets a driver
``executemany``, PostgreSQL a ``COPY``.  Values must already be in database
form: UUIDs as 32 hex digits, times as UTC text, JSON as text.  The caller
owns the transaction.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

if TYPE_CHECKING:
    import polars as pl  # only for annotations: the caller already has the frame


def _driver(conn: sa.Connection) -> Any:
    return conn.connection.driver_connection


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
        with _driver(conn).cursor() as cursor, cursor.copy(
                f"COPY {table.name} ({columns}) FROM STDIN WITH (FORMAT csv)") as copy:
            copy.write(buffer.getvalue())
        return frame.height
    marks = ", ".join("?" for _ in frame.columns)
    statement = f"INSERT INTO {table.name} ({columns}) VALUES ({marks})"  # noqa: S608
    cursor = _driver(conn).cursor()
    try:
        cursor.executemany(statement, zip(*(frame[c].to_list() for c in frame.columns),
                                          strict=True))
    finally:
        cursor.close()
    return frame.height
