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
   posted since, and the outbound postbacks of held or rejected players are
   brought up to date (``fraud_postbacks``: unsent ones rendered again, sent
   ones followed by one saying the new status) — all in one transaction.
   An exception rolls everything back and the events stay queued.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa

from clickledger.clock import utc
from clickledger.services import fraud, fraud_postbacks
from clickledger.store import fraud_queue as queue

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
        outcome = fraud.assess_events(conn, event_ids, now, config, enforce=False)
        enforced = fraud.enforce_holds(conn, event_ids, now, after=outcome)
        rerendered = rerender_postbacks(conn, event_ids, now, outcome)
        queue.remove(conn, event_ids)
        return QueueStep(len(event_ids), dict(outcome.written), outcome.enforced + enforced,
                         rerendered)


def rerender_postbacks(conn: sa.Connection, event_ids: list[str], now: datetime,
                       outcome: fraud.Outcome) -> int:
    """Bring the outbound postbacks up to date (``fraud_postbacks.announce``) for the events
    of the batch whose player is held or rejected, and for every event of the players whose
    commission this round held, released or reversed (a peer held by someone else's batch
    too); returns how many rows were rendered again or queued as follow-ups."""
    held = {player for player, row in outcome.latest.items() if fraud.holds_or_rejects(row)}
    scope = [event for event in event_ids if outcome.players_of.get(event) in held]
    if outcome.changed:
        scope += fraud_postbacks.events_of_players(conn, outcome.changed)
    if not scope:
        return 0
    return fraud_postbacks.announce(conn, scope, now).total
