"""The fraud worker's durable inputs: the queue of accepted events and the click cursor.

``fraud_queue`` gets one row per accepted event in the transaction that
accepted it (``enqueue``: one prepared multi-row ``insert … on conflict do
nothing``, the only fraud cost on the postback path).  The worker ``claim``s
the oldest rows (event ids are UUIDv7, so the primary key is arrival order)
with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL — several workers take disjoint
rows — and deletes them in the same transaction that assesses them, so a
crash rolls everything back and nothing is lost or half-assessed.

``fraud_cursors`` holds, per name, the (created_at, id) of the last click
folded into the fraud counters; ``clicks_after`` reads the next clicks in that
order, never newer than a given moment.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from clickledger.clock import utc
from clickledger.store import tables as t
from clickledger.store.inserts import PreparedInsert

NIL_ID = "00000000-0000-0000-0000-000000000000"
_ENQUEUE = PreparedInsert(t.fraud_queue, ("event_id", "enqueued_at"), ["event_id"])


def enqueue(conn: sa.Connection, event_ids: Sequence[str], now: datetime) -> int:
    """Queue ``event_ids`` for assessment (idempotent); returns how many were new."""
    if not event_ids:
        return 0
    return _ENQUEUE.run(conn, [(event_id, now) for event_id in dict.fromkeys(event_ids)])


def claim(conn: sa.Connection, limit: int) -> list[str]:
    """Up to ``limit`` of the oldest queued event ids, for ``conn``'s transaction to assess and
    then ``remove``.  PostgreSQL locks them (``SKIP LOCKED``: another worker takes others);
    SQLite reads them without a lock — its single write lock is taken by the assessment's
    first write — so a second worker on one SQLite file at worst assesses an event twice,
    which writes nothing new (assessments are idempotent)."""
    q = t.fraud_queue
    query = sa.select(q.c.event_id).order_by(q.c.event_id).limit(limit)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return [str(value) for value in conn.execute(query).scalars()]


def remove(conn: sa.Connection, event_ids: Sequence[str]) -> None:
    """Delete assessed events from the queue (in the transaction that assessed them)."""
    q = t.fraud_queue
    for start in range(0, len(event_ids), 500):
        conn.execute(q.delete().where(q.c.event_id.in_(list(event_ids[start:start + 500]))))


def has_work(conn: sa.Connection) -> bool:
    """Whether any event is queued (a read: no lock taken)."""
    return conn.execute(sa.select(t.fraud_queue.c.event_id).limit(1)).first() is not None


def depth(conn: sa.Connection) -> tuple[int, datetime | None]:
    """(events waiting, when the oldest was queued)."""
    q = t.fraud_queue
    count, oldest = conn.execute(sa.select(sa.func.count(), sa.func.min(q.c.enqueued_at))).one()
    return int(count), utc(oldest) if isinstance(oldest, datetime) else None


@dataclass(frozen=True, slots=True)
class Cursor:
    """The last click folded in: its creation time and id."""

    at: datetime
    last_id: str


def read_cursor(conn: sa.Connection, name: str, *, lock: bool = False) -> Cursor | None:
    c = t.fraud_cursors
    query = sa.select(c.c.at, c.c.last_id).where(c.c.name == name)
    if lock and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = conn.execute(query).first()
    return Cursor(utc(row.at), str(row.last_id)) if row else None


def _insert(conn: sa.Connection) -> Any:
    return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert


def create_cursor(conn: sa.Connection, name: str, start: Cursor, now: datetime) -> None:
    """Insert the cursor at ``start`` unless it exists (a write: it takes SQLite's lock)."""
    c = t.fraud_cursors
    conn.execute(_insert(conn)(c).values(name=name, at=start.at, last_id=start.last_id,
                                         updated_at=now)
                 .on_conflict_do_nothing(index_elements=["name"]))


def write_cursor(conn: sa.Connection, name: str, cursor: Cursor, now: datetime) -> None:
    c = t.fraud_cursors
    conn.execute(c.update().where(c.c.name == name)
                 .values(at=cursor.at, last_id=cursor.last_id, updated_at=now))


def clicks_after(conn: sa.Connection, cursor: Cursor, before: datetime,
                 limit: int) -> list[Any]:
    """Up to ``limit`` clicks after ``cursor`` in (created_at, id) order, created before
    ``before``: rows of (id, created_at, ip, link_id, sub1, affiliate_id)."""
    c = t.clicks
    after = sa.or_(c.c.created_at > cursor.at,
                   sa.and_(c.c.created_at == cursor.at, c.c.id > cursor.last_id))
    query = (sa.select(c.c.id, c.c.created_at, c.c.ip, c.c.link_id, c.c.sub1, c.c.affiliate_id)
             .where(c.c.created_at >= cursor.at, c.c.created_at < before, after)
             .order_by(c.c.created_at, c.c.id).limit(limit))
    return list(conn.execute(query))


def has_clicks_after(conn: sa.Connection, cursor: Cursor, before: datetime) -> bool:
    """Whether a click newer than ``cursor`` and created before ``before`` exists (a read)."""
    return bool(clicks_after(conn, cursor, before, 1))
