"""Ledger rows: idempotent posting (insert … on conflict do nothing) and batch reads."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from clickledger.clock import utc
from clickledger.domain.ledger import PostedLine
from clickledger.store import tables as t
from clickledger.store.deals import chunks

INSERT_CHUNK_ROWS = 500


def insert_ignoring(conn: sa.Connection, table: sa.Table, rows: Sequence[dict[str, Any]],
                    index_elements: list[str]) -> None:
    """Insert ``rows``, skipping those whose unique key already exists (both dialects)."""
    if not rows:
        return
    dialect_insert: Any = (postgresql.insert if conn.dialect.name == "postgresql"
                           else sqlite.insert)
    statement = dialect_insert(table).on_conflict_do_nothing(index_elements=index_elements)
    columns = sorted({name for row in rows for name in row})
    for start in range(0, len(rows), INSERT_CHUNK_ROWS):  # executemany: compiled once, cached
        chunk = [{name: row.get(name) for name in columns}
                 for row in rows[start:start + INSERT_CHUNK_ROWS]]
        conn.execute(statement, chunk)


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


def sub_lines_of(conn: sa.Connection, entry_key: str) -> list[PostedLine]:
    """Sub-affiliate lines paid on top of ``entry_key``."""
    e = t.ledger_entries
    rows = conn.execute(sa.select(e).where(e.c.entry_key.like(f"sub:%:{entry_key}")))
    return [_line(r) for r in rows if r.entry_key.endswith(":" + entry_key)]


def closed_period_starts(conn: sa.Connection) -> frozenset[datetime]:
    p = t.periods
    rows = conn.execute(sa.select(p.c.starts_at).where(p.c.status == "closed")).scalars()
    return frozenset(utc(r) for r in rows)


def ensure_period(conn: sa.Connection, starts_at: datetime, ends_at: datetime, new_id: str) -> None:
    insert_ignoring(conn, t.periods, [{"id": new_id, "starts_at": starts_at,
                                       "ends_at": ends_at, "status": "open"}], ["starts_at"])
