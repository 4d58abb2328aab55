"""Ledger rows: idempotent posting (insert … on conflict do nothing) and batch reads."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from clickledger.clock import utc
from clickledger.domain.ledger import PostedLine
from clickledger.store import tables as t
from clickledger.store.deals import chunks

INSERT_CHUNK_ROWS = 500


@dataclass(frozen=True, slots=True)
class _Prepared:
    """An insert compiled once for a dialect: driver SQL, parameter order, bind processors."""

    sql: str
    names: tuple[str, ...]
    processors: tuple[Callable[[Any], Any] | None, ...]
    positional: bool


_PREPARED: dict[tuple[Any, ...], _Prepared] = {}


def _prepare(conn: sa.Connection, table: sa.Table, columns: tuple[str, ...],
             index_elements: tuple[str, ...]) -> _Prepared:
    dialect = conn.dialect
    key = (type(dialect), dialect.paramstyle, table.name, columns, index_elements)
    prepared = _PREPARED.get(key)
    if prepared is None:
        dialect_insert: Any = (postgresql.insert if dialect.name == "postgresql"
                               else sqlite.insert)
        statement = (dialect_insert(table)
                     .values({name: sa.bindparam(name) for name in columns})
                     .on_conflict_do_nothing(index_elements=list(index_elements)))
        compiled = statement.compile(dialect=dialect)
        names = tuple(compiled.positiontup or columns)
        processors = tuple(table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
                           for name in names)
        prepared = _PREPARED[key] = _Prepared(compiled.string, names, processors,
                                              compiled.positiontup is not None)
    return prepared


def insert_ignoring(conn: sa.Connection, table: sa.Table, rows: Sequence[dict[str, Any]],
                    index_elements: list[str]) -> int | None:
    """Insert ``rows``, skipping those whose unique key already exists (both dialects).

    The statement is compiled once per dialect and column set; rows go to the
    driver's ``executemany`` through the columns' own bind processors, without
    building SQLAlchemy parameters row by row.  Returns how many rows were new
    where the driver counts them exactly (SQLite), else ``None``.
    """
    if not rows:
        return 0
    columns = tuple(sorted({name for row in rows for name in row}))
    prepared = _prepare(conn, table, columns, tuple(index_elements))
    pairs = tuple(zip(prepared.names, prepared.processors, strict=True))
    params: list[Any]
    if prepared.positional:
        params = [tuple(row.get(name) if process is None else process(row.get(name))
                        for name, process in pairs) for row in rows]
    else:
        params = [{name: row.get(name) if process is None else process(row.get(name))
                   for name, process in pairs} for row in rows]
    added = 0
    for start in range(0, len(params), INSERT_CHUNK_ROWS):
        added += conn.exec_driver_sql(prepared.sql,
                                      params[start:start + INSERT_CHUNK_ROWS]).rowcount
    return added if conn.dialect.name == "sqlite" else None


def _line(row: Any) -> PostedLine:
    return PostedLine(
        entry_id=row.id, entry_key=row.entry_key, kind=row.kind, affiliate_id=row.affiliate_id,
        player_id=row.player_id, amount_minor=row.amount_minor, currency=row.currency,
        deal_type=row.deal_type, deal_version_id=row.deal_version_id,
        source_event_ids=tuple(row.source_event_ids or ()), explanation=row.explanation,
    )


def lines_for_players(conn: sa.Connection, player_ids: Iterable[str]) -> list[PostedLine]:
    """Every ledger line about the given players."""
    e = t.ledger_entries
    found: list[PostedLine] = []
    for chunk in chunks(set(player_ids)):
        found += [_line(r) for r in conn.execute(sa.select(e).where(e.c.player_id.in_(chunk)))]
    return found


def lines_by_keys(conn: sa.Connection, keys: Iterable[str]) -> dict[str, PostedLine]:
    e = t.ledger_entries
    found: dict[str, PostedLine] = {}
    for chunk in chunks(set(keys)):
        for row in conn.execute(sa.select(e).where(e.c.entry_key.in_(chunk))):
            found[row.entry_key] = _line(row)
    return found


def sub_lines_of(conn: sa.Connection, entry_key: str,
                 player_id: str | None = None) -> list[PostedLine]:
    """Sub-affiliate lines paid on top of ``entry_key``.

    Sub-affiliate lines carry the player of the line they share, so a known
    ``player_id`` narrows the search to that player's lines (an indexed look-up).
    """
    e = t.ledger_entries
    query = sa.select(e).where(e.c.entry_key.like(f"sub:%:{entry_key}"))
    if player_id is not None:
        query = query.where(e.c.player_id == player_id)
    rows = conn.execute(query)
    return [_line(r) for r in rows if r.entry_key.endswith(":" + entry_key)]


def closed_period_starts(conn: sa.Connection) -> frozenset[datetime]:
    p = t.periods
    rows = conn.execute(sa.select(p.c.starts_at).where(p.c.status == "closed")).scalars()
    return frozenset(utc(r) for r in rows)


def ensure_period(conn: sa.Connection, starts_at: datetime, ends_at: datetime, new_id: str) -> None:
    insert_ignoring(conn, t.periods, [{"id": new_id, "starts_at": starts_at,
                                       "ends_at": ends_at, "status": "open"}], ["starts_at"])
