"""Hot-path inserts compiled once per dialect and fed plain tuples (no per-row Core work).

``PreparedInsert`` renders ``insert … on conflict do nothing`` for a fixed
column list once per dialect.  On SQLite the rows go as tuples, through the
columns' own bind processors (so the stored values are exactly what Core would
store), to the driver's ``executemany``, whose row count is exact.  On
PostgreSQL the same statement runs through Core with ``RETURNING`` so that the
rows really inserted can be counted (the driver's executemany count is not
reliable there).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

Processor = Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    processors: tuple[tuple[int, Processor], ...]
    order: tuple[int, ...] | None  # positions of ``columns`` in the SQL, if not the same


class PreparedInsert:
    """``insert into table (columns) … on conflict (conflict) do nothing`` for many rows."""

    def __init__(self, table: sa.Table, columns: Sequence[str], conflict: Sequence[str]) -> None:
        self.table = table
        self.columns = tuple(columns)
        self.conflict = list(conflict)
        self._sqlite: _Compiled | None = None
        self._lock = threading.Lock()

    def run(self, conn: sa.Connection, rows: Sequence[Sequence[Any]]) -> int:
        """Insert ``rows`` (values in ``columns`` order); returns how many were new."""
        if not rows:
            return 0
        if conn.dialect.name == "sqlite":
            return self._run_sqlite(conn, rows)
        statement = (postgresql.insert(self.table)
                     .on_conflict_do_nothing(index_elements=self.conflict)
                     .returning(self.table.primary_key.columns.values()[0]))
        params = [dict(zip(self.columns, row, strict=True)) for row in rows]
        return len(conn.execute(statement, params).all())

    def _run_sqlite(self, conn: sa.Connection, rows: Sequence[Sequence[Any]]) -> int:
        compiled = self._sqlite or self._compile_sqlite(conn.dialect)
        params: list[tuple[Any, ...]] = []
        order = compiled.order
        for row in rows:
            values = list(row)
            for index, process in compiled.processors:
                values[index] = process(values[index])
            params.append(tuple(values) if order is None else tuple(values[i] for i in order))
        return int(conn.exec_driver_sql(compiled.sql, params).rowcount)

    def _compile_sqlite(self, dialect: sa.Dialect) -> _Compiled:
        with self._lock:
            if self._sqlite is None:
                statement = (sqlite.insert(self.table)
                             .values({name: sa.bindparam(name) for name in self.columns})
                             .on_conflict_do_nothing(index_elements=self.conflict))
                compiled = statement.compile(dialect=dialect)
                positions = tuple(compiled.positiontup or ())
                if sorted(positions) != sorted(self.columns):
                    raise RuntimeError(f"unexpected parameters for {self.table.name}")
                order = tuple(self.columns.index(name) for name in positions)
                processors = []
                for index, name in enumerate(self.columns):
                    column_type = self.table.c[name].type
                    process = column_type.dialect_impl(dialect).bind_processor(dialect)
                    if process is not None:
                        processors.append((index, _faster(process)))
                same = order == tuple(range(len(order)))
                self._sqlite = _Compiled(compiled.string, tuple(processors),
                                         None if same else order)
            return self._sqlite


_SAMPLES = (datetime(2026, 3, 4, 5, 6, 7, 89, tzinfo=UTC), datetime(999, 1, 2, 3, 4, 5),
            datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=UTC))


def _datetime_text(process: Processor) -> Processor:
    """SQLite's datetime text via ``isoformat`` (C) where it equals ``process``'s."""
    def fast(value: Any) -> Any:
        if type(value) is datetime:
            return value.isoformat(" ", "microseconds")[:26]
        return process(value)

    return fast


def _faster(process: Processor) -> Processor:
    """``process``, or an equivalent that is cheaper: SQLite's datetime formatting is
    replaced only if it gives exactly the same text for sample values (checked here)."""
    try:
        same = all(process(sample) == _datetime_text(process)(sample) for sample in _SAMPLES)
    except (TypeError, ValueError, AttributeError):
        return process
    return _datetime_text(process) if same else process
