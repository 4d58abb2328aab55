"""Batch reads below the Core compiler, for the look-ups a hot-path batch makes.

A Core ``select`` with an expanding ``IN`` costs a few hundred µs of CPU per
execution (the statement is re-rendered for the list's length, every parameter
and result value passes through SQLAlchemy), and a group-commit batch makes
several.  A ``BatchRead`` is SQL written once, with the batch's keys as ONE
parameter — SQLite: a JSON array read with ``json_each``; PostgreSQL: an array
compared with ``= ANY`` — executed by the driver; ``Codec`` encodes the
parameters and decodes the raw values for the connection's dialect.

In the SQL, ``?`` is a parameter and ``{ids}`` / ``{texts}`` stand after a
column for "is one of the listed ids / texts" (each takes one parameter).

``driver_execute`` runs such prepared SQL on the driver's own cursor (through
SQLAlchemy a read costs about 35 µs of CPU more, an ``executemany`` about 12, and
a batch makes a couple of dozen): the connection's transaction is begun as SQLAlchemy
would, and a driver error is raised as SQLAlchemy's (``OperationalError`` for a
lock or deadlock, which the callers retry).  A connection or engine with event
listeners (tests counting statements) gets SQLAlchemy's execution, as before.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

_LISTS = {
    "sqlite": {
        "ids": "IN (SELECT value FROM json_each(?))",
        "texts": "IN (SELECT value FROM json_each(?))",
    },
    "postgresql": {"ids": "= ANY(?::uuid[])", "texts": "= ANY(?)"},
}


class Codec:
    """Parameters in, values out, as one dialect's driver takes and gives them."""

    def __init__(self, dialect_name: str) -> None:
        self.sqlite = dialect_name == "sqlite"

    def id_param(self, value: str) -> str:
        """A canonical id as a parameter (SQLite stores 32 hex digits)."""
        return value.replace("-", "") if self.sqlite else value

    def id_list(self, values: Iterable[str]) -> Any:
        if self.sqlite:
            return json.dumps([value.replace("-", "") for value in values])
        return list(values)

    def text_list(self, values: Iterable[str]) -> Any:
        return json.dumps(list(values)) if self.sqlite else list(values)

    def id_text(self, value: Any) -> str:
        """A raw id (not NULL) as canonical text."""
        if not self.sqlite:
            return str(value)
        if len(value) == 32:
            return f"{value[:8]}-{value[8:12]}-{value[12:16]}-{value[16:20]}-{value[20:]}"
        return str(uuid.UUID(value))  # stored in another form

    def id_or_none(self, value: Any) -> str | None:
        return None if value is None else self.id_text(value)

    def moment(self, value: Any) -> datetime:
        """A raw time (not NULL) as an aware UTC datetime."""
        moment: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)

    def json(self, value: Any) -> Any:
        """A raw JSON column as Python values (PostgreSQL's driver has parsed it already)."""
        return json.loads(value) if isinstance(value, str) else value


_CODECS = {name: Codec(name) for name in _LISTS}


def codec(conn: sa.Connection) -> Codec:
    return _CODECS[conn.dialect.name]


def driver_execute(conn: sa.Connection, sql: str, params: Any, many: bool = False) -> Any:
    """Execute driver SQL with ``params`` (a sequence; with ``many``, a sequence of them) on
    the connection's driver cursor; returns the cursor (``fetchall``, ``rowcount``)."""
    if conn._has_events or conn.engine._has_events:  # someone listens: SQLAlchemy runs it
        return _Rows(conn.exec_driver_sql(sql, params))
    if not conn.in_transaction():
        conn.begin()  # what SQLAlchemy's own execution would do (autobegin)
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        if many:
            cursor.executemany(sql, params)
        else:
            cursor.execute(sql, params)
    except conn.dialect.loaded_dbapi.Error as exc:
        raise sa.exc.DBAPIError.instance(sql, params, exc, conn.dialect.loaded_dbapi.Error,
                                         dialect=conn.dialect, ismulti=many) from exc
    return cursor


class _Rows:
    """A SQLAlchemy result seen as a driver cursor (``fetchall``, ``rowcount``)."""

    def __init__(self, result: sa.CursorResult[Any]) -> None:
        self.result = result
        self.rowcount = result.rowcount

    def fetchall(self) -> Sequence[Any]:
        return self.result.fetchall()


class BatchRead:
    """One read, its SQL rendered once per dialect (see the module doc for the markers)."""

    def __init__(self, sql: str) -> None:
        self.sql = {
            "sqlite": sql.format(**_LISTS["sqlite"]),
            "postgresql": sql.format(**_LISTS["postgresql"]).replace("?", "%s"),
        }

    def rows(self, conn: sa.Connection, *params: Any) -> Sequence[Any]:
        """Every row, as the driver's tuples of raw values."""
        rows: Sequence[Any] = driver_execute(conn, self.sql[conn.dialect.name],
                                             params).fetchall()
        return rows
