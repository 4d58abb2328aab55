"""Idempotent bulk inserts: ``insert … on conflict do nothing``, compiled once, fed tuples.

Every write from outside is idempotent through a unique index; this is the one
place that writes such rows in bulk.  ``PreparedInsert`` renders the statement
for a fixed column list once per dialect (positional parameters on both:
SQLite's ``?``, psycopg's ``%s``) and sends plain tuples, through the columns'
own bind processors (so the stored values are exactly what Core would store),
to the driver's ``executemany`` — no SQLAlchemy parameter handling row by row.
Both drivers count the rows really inserted by an ``executemany`` exactly
(sqlite3, and psycopg from 3.1: the sum over the rows), so ``run`` returns how
many rows were new and a caller can tell a lost race from a clean insert.

``insert_ignoring`` is the same for rows given as dicts (columns: every key).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from clickledger.store.batch_reads import driver_execute

Processor = Callable[[Any], Any]
# (table, the statement's ``excluded`` row) → ``set_`` of ``on conflict … do update``
Update = Callable[[sa.Table, Any], Mapping[str, Any]]


@dataclass(frozen=True, slots=True)
class _Compiled:
    """The statement for one dialect: driver SQL and what each value goes through."""

    sql: str
    # a row's values (``columns`` order) → the driver's tuple; None: the row as it is
    prepare: Callable[[Sequence[Any]], tuple[Any, ...]] | None


class PreparedInsert:
    """``insert into table (columns) values … on conflict (conflict) do nothing`` — or, with
    ``update``, ``do update set …`` (an upsert; ``run`` then counts rows written)."""

    def __init__(
        self,
        table: sa.Table,
        columns: Sequence[str],
        conflict: Sequence[str],
        update: Update | None = None,
    ) -> None:
        unknown = [name for name in (*columns, *conflict) if name not in table.c]
        if unknown:
            raise ValueError(f"{table.name} has no column(s) {', '.join(unknown)}")
        self.table = table
        self.columns = tuple(columns)
        self.conflict = tuple(conflict)
        self.update = update
        self._compiled: dict[tuple[str, str], _Compiled] = {}
        self._lock = threading.Lock()

    def run(self, conn: sa.Connection, rows: Sequence[Sequence[Any]]) -> int:
        """Insert ``rows`` (values in ``columns`` order); returns how many were new."""
        if not rows:
            return 0
        dialect = conn.dialect
        compiled = self._compiled.get((dialect.name, dialect.driver)) or self._compile(dialect)
        prepare = compiled.prepare
        if prepare is not None:
            rows = [prepare(row) for row in rows]
        return int(driver_execute(conn, compiled.sql, rows, many=True).rowcount)

    def _compile(self, dialect: sa.Dialect) -> _Compiled:
        with self._lock:
            key = (dialect.name, dialect.driver)
            found = self._compiled.get(key)
            if found is None:
                found = self._compiled[key] = _compile(
                    self.table, self.columns, self.conflict, self.update, dialect
                )
            return found


def _row_preparer(
    width: int,
    processors: tuple[tuple[int, Processor, Any], ...],
    order: tuple[int, ...],
    dashless: set[int],
) -> Callable[[Sequence[Any]], tuple[Any, ...]] | None:
    """One function turning a row into the driver's tuple: each value through its column's
    processor (None too: JSON's is the text ``null``; a text UUID's, dropping its dashes, is
    written inline), in the SQL's order.  Its source is generated from positions only (no
    value is ever formatted into it), so a row costs one call, not a loop over its columns."""
    if not processors and not dashless and order == tuple(range(width)):
        return None
    scope: dict[str, Any] = {}
    processed = {i: f"(None if r[{i}] is None else r[{i}].replace('-', ''))" for i in dashless}
    for index, process, none_value in processors:
        scope[f"p{index}"], scope[f"n{index}"] = process, none_value
        processed[index] = f"(n{index} if r[{index}] is None else p{index}(r[{index}]))"
    values = ", ".join(processed.get(i, f"r[{i}]") for i in order)
    exec(f"def prepare(r):\n    return ({values},)\n", scope)  # noqa: S102 - positions only
    prepare: Callable[[Sequence[Any]], tuple[Any, ...]] = scope["prepare"]
    return prepare


def _positional(dialect: sa.Dialect) -> sa.Dialect:
    """``dialect``, or a twin of it taking positional parameters (psycopg's ``%s``)."""
    if dialect.positional:
        return dialect
    twin: sa.Dialect = type(dialect)(paramstyle="format")  # type: ignore[call-arg]
    return twin


def _compile(
    table: sa.Table,
    columns: tuple[str, ...],
    conflict: tuple[str, ...],
    update: Update | None,
    dialect: sa.Dialect,
) -> _Compiled:
    dialect_insert: Any = postgresql.insert if dialect.name == "postgresql" else sqlite.insert
    statement = dialect_insert(table).values({name: sa.bindparam(name) for name in columns})
    if update is None:
        statement = statement.on_conflict_do_nothing(index_elements=list(conflict))
    else:
        statement = statement.on_conflict_do_update(
            index_elements=list(conflict), set_=update(table, statement.excluded)
        )
    compiled = statement.compile(dialect=_positional(dialect))
    positions = tuple(compiled.positiontup or ())
    if sorted(positions) != sorted(columns):
        raise RuntimeError(f"unexpected parameters for {table.name}: {positions}")
    order = tuple(columns.index(name) for name in positions)
    processors = []
    dashless = set()
    for index, name in enumerate(columns):
        process = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        if process is None:
            continue
        if _drops_dashes(table.c[name].type, process):
            dashless.add(index)
        else:
            processors.append((index, _faster(process), process(None)))
    return _Compiled(compiled.string,
                     _row_preparer(len(columns), tuple(processors), order, dashless))


_SAMPLE_ID = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"


def _drops_dashes(column_type: Any, process: Processor) -> bool:
    """Whether ``process`` is a text UUID's (stored as 32 hex digits): done inline instead."""
    return (isinstance(column_type, sa.Uuid) and not column_type.as_uuid
            and process(_SAMPLE_ID) == _SAMPLE_ID.replace("-", "") and process(None) is None)


_PREPARED: dict[tuple[str, tuple[str, ...], tuple[str, ...]], PreparedInsert] = {}


def insert_ignoring(
    conn: sa.Connection,
    table: sa.Table,
    rows: Sequence[Mapping[str, Any]],
    index_elements: Sequence[str],
) -> int:
    """Insert ``rows`` (dicts; a key missing from a row is NULL), skipping those whose unique
    key (``index_elements``) already exists; returns how many rows were new."""
    if not rows:
        return 0
    columns = tuple(sorted({name for row in rows for name in row}))
    key = (table.name, columns, tuple(index_elements))
    prepared = _PREPARED.get(key)
    if prepared is None or prepared.table is not table:
        prepared = _PREPARED[key] = PreparedInsert(table, columns, index_elements)
    width = len(columns)
    values = itemgetter(*columns) if width > 1 else None
    return prepared.run(conn, [
        values(row) if values is not None and len(row) == width  # every column: one call
        else tuple([row.get(name) for name in columns]) for row in rows])


# --- a cheaper SQLite datetime formatting ----------------------------------

_SAMPLES = (
    datetime(2026, 3, 4, 5, 6, 7, 89, tzinfo=UTC),
    datetime(999, 1, 2, 3, 4, 5),
    datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    datetime(2026, 1, 2, 3, 4, 5),
)


def _datetime_text(process: Processor) -> Processor:
    """SQLite's datetime text via ``isoformat`` (C) where it equals ``process``'s; the last
    value's text is kept, since a batch's rows often share one moment (its ``now``)."""
    last: tuple[Any, Any] = (None, None)

    def fast(value: Any) -> Any:
        nonlocal last
        seen, text = last
        if value is seen:
            return text
        if type(value) is datetime:
            text = value.isoformat(" ", "microseconds")[:26]
        else:
            text = process(value)
        last = (value, text)
        return text

    return fast


def _faster(process: Processor) -> Processor:
    """``process``, or an equivalent that is cheaper: SQLite's datetime formatting is
    replaced only if it gives exactly the same text for sample values (checked here)."""
    try:
        fast = _datetime_text(process)
        same = all(process(sample) == fast(sample) for sample in _SAMPLES)
    except (TypeError, ValueError, AttributeError):
        return process
    return fast if same else process
