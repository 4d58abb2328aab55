"""Ledger rows: idempotent posting (``store.inserts.insert_ignoring``) and batch reads."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from clickledger.clock import utc
from clickledger.domain.ledger import PostedLine
from clickledger.store import tables as t
from clickledger.store.deals import chunks
from clickledger.store.inserts import insert_ignoring

__all__ = ["closed_period_starts", "ensure_period", "insert_ignoring", "lines_by_keys",
           "lines_for_players", "sub_lines_of"]


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
