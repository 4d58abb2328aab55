"""Fraud detection off the request path: click counters from a cursor, queued events assessed.

Two steps, each its own transaction, run by the fraud worker (``workers.fraud``):

1. ``count_new_clicks``: the clicks stored since the cursor, up to ``now − lag``
   (clicks committed late by a busy writer still land behind the cursor), are
   folded into the sliding-window counters (``services.fraud.record_clicks``)
   and the cursor moves past them, in one transaction: a click is counted
   exactly once, and the click path itself writes nothing for fraud.
2. ``assess_queued``: up to ``limit`` queued events are taken off
   ``fraud_queue``, assessed (``services.fraud.assess_events``), the holds of
   already-held players are re-asserted over whatever the commission engine
   posted since, and the undelivered outbound postbacks of held or rejected
   players are rendered again with the new status — all in one transaction.
   An exception rolls everything back and the events stay queued.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa

from clickledger.clock import utc
from clickledger.outbound.enqueue import enqueue_for_events
from clickledger.services import fraud
from clickledger.store import fraud_queue as queue
from clickledger.store import tables as t

CLICK_CURSOR = "clicks"
FIRST_CLICK_LOOKBACK = timedelta(days=60)  # hour counters are kept this long (HOUR_RETENTION)


@dataclass(frozen=True, slots=True)
class ClickStep:
    """Clicks folded in by one ``count_new_clicks`` call."""

    counted: int
    caught_up: bool


@dataclass(slots=True)
class QueueStep:
    """What one ``assess_queued`` call did."""

    events: int = 0
    written: dict[str, int] = field(default_factory=dict)
    enforced: int = 0
    rerendered: int = 0


def count_new_clicks(engine: sa.Engine, now: datetime, lag: timedelta,
                     limit: int) -> ClickStep:
    """Fold up to ``limit`` new clicks (created before ``now − lag``) into the counters."""
    before = now - lag
    with engine.connect() as conn:  # an idle poll reads only: no write lock taken
        seen = queue.read_cursor(conn, CLICK_CURSOR)
        if seen is not None and not queue.has_clicks_after(conn, seen, before):
            return ClickStep(0, True)
    with engine.begin() as conn:
        cursor = _locked_cursor(conn, now)
        rows = queue.clicks_after(conn, cursor, before, limit)
        if not rows:
            return ClickStep(0, True)
        fraud.record_clicks(conn, [
            fraud.ClickCount(utc(r.created_at), r.ip, str(r.link_id), r.sub1,
                             str(r.affiliate_id)) for r in rows])
        last = rows[-1]
        queue.write_cursor(conn, CLICK_CURSOR, queue.Cursor(utc(last.created_at), str(last.id)),
                           now)
        return ClickStep(len(rows), len(rows) < limit)


def _locked_cursor(conn: sa.Connection, now: datetime) -> queue.Cursor:
    """The click cursor, created on first use, held for this transaction: its first
    statement is a write, so a second worker (SQLite's write lock, PostgreSQL's row lock)
    waits instead of counting the same clicks."""
    start = queue.Cursor(now - FIRST_CLICK_LOOKBACK, queue.NIL_ID)
    queue.create_cursor(conn, CLICK_CURSOR, start, now)
    found = queue.read_cursor(conn, CLICK_CURSOR, lock=True)
    return found or start


def assess_queued(engine: sa.Engine, now: datetime, limit: int,
                  config: fraud.FraudConfig | None = None) -> QueueStep:
    """Assess up to ``limit`` queued events and take them off the queue, atomically."""
    with engine.connect() as conn:  # an idle poll reads only: no write lock taken
        if not queue.has_work(conn):
            return QueueStep()
    with engine.begin() as conn:
        event_ids = queue.claim(conn, limit)
        if not event_ids:
            return QueueStep()
        outcome = fraud.assess_events(conn, event_ids, now, config)
        enforced = fraud.enforce_holds(conn, event_ids, now)
        rerendered = rerender_postbacks(conn, event_ids, now)
        queue.remove(conn, event_ids)
        return QueueStep(len(event_ids), dict(outcome.written), outcome.enforced + enforced,
                         rerendered)


def rerender_postbacks(conn: sa.Connection, event_ids: list[str], now: datetime) -> int:
    """Queue again, with today's status and payout, the not-yet-sent outbound postbacks of
    those events whose player is now held or rejected; returns how many were rendered."""
    players = _players_of(conn, event_ids)
    held = fraud.held_player_ids(conn, set(players.values()))
    if not held:
        return 0
    stale = [event for event, player in players.items() if player in held]
    o = t.outbox
    unsent = sa.and_(o.c.status == "pending", o.c.attempts == 0, o.c.claimed_by.is_(None))
    for start in range(0, len(stale), 500):
        conn.execute(o.delete().where(o.c.event_id.in_(stale[start:start + 500]), unsent))
    return enqueue_for_events(conn, stale, now)


def _players_of(conn: sa.Connection, event_ids: list[str]) -> dict[str, str]:
    e = t.player_events
    found: dict[str, str] = {}
    for start in range(0, len(event_ids), 500):
        chunk = event_ids[start:start + 500]
        for event_id, player_id in conn.execute(
                sa.select(e.c.id, e.c.player_id).where(e.c.id.in_(chunk))):
            found[str(event_id)] = str(player_id)
    return found
