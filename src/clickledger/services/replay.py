"""Replay: re-run the commission engine over raw events in a scratch database.

The scratch space is an in-memory SQLite database with the same tables.  The
programme rows, FX rates and players are copied; events are then inserted in
the order they arrived (``received_at``, then the time-ordered event id), each
arrival evaluated as ingestion did, with period closes and fraud rejections
replayed at the moments they happened.  A player's events stored before its
registration arrive with the registration: ingestion only evaluated them then,
when the player got its affiliate.  Live evaluation and replay run the same
code, and ``conversion.evaluate_events`` pays the same whichever way the
arrivals are grouped into calls, so they produce the same lines.

``simulate`` replays this way.  ``ledger rebuild`` replays the steps live
evaluation recorded, in the order it took them (``services.ordered_replay``),
and uses ``arrivals`` only for rows stored before steps were recorded.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.pool import StaticPool

from clickledger.clock import utc
from clickledger.services import conversion, period_close
from clickledger.store import tables as t

PROGRAMME_TABLES = (t.brands, t.affiliates, t.deals, t.deal_versions, t.deal_assignments,
                    t.fx_rates)
COPY_CHUNK_ROWS = 5_000
REJECT_ACTION = "conversion.reject"


def scratch_engine() -> sa.Engine:
    """An empty in-memory database with every table (foreign keys not enforced)."""
    engine = sa.create_engine("sqlite://", poolclass=StaticPool,
                              connect_args={"check_same_thread": False})
    t.metadata.create_all(engine)
    return engine


def copy_rows(source: sa.Connection, target: sa.Connection, table: sa.Table,
              where: Any = None, changes: dict[str, Any] | None = None) -> int:
    """Copy ``table`` rows (optionally filtered, with column overrides) between databases."""
    query = sa.select(table)
    if where is not None:
        query = query.where(where)
    count = 0
    batch: list[dict[str, Any]] = []
    for row in source.execute(query).mappings():
        batch.append({**dict(row), **(changes or {})})
        if len(batch) >= COPY_CHUNK_ROWS:
            target.execute(table.insert(), batch)
            count += len(batch)
            batch = []
    if batch:
        target.execute(table.insert(), batch)
        count += len(batch)
    return count


@dataclass(frozen=True, slots=True)
class Step:
    """One moment of history: an arrival of events, a period close, a rejection or a remap."""

    at: datetime
    order: int  # arrivals before a close at the same instant: the close counted them
    kind: str  # events | close | reject
    rows: tuple[dict[str, Any], ...] = ()
    period_start: datetime | None = None
    player_id: str = ""
    conversion_kind: str = ""
    reason: str = ""
    seq: int = 0  # a recorded step's number (``evaluation_order``); 0: not recorded
    event_ids: tuple[str, ...] = ()  # recorded events step: the events that arrived
    also: tuple[str, ...] = ()  # … earlier events evaluated with them
    bound: tuple[str, ...] = ()  # … players a registration bound
    affiliate_id: str | None = None  # remap: the new affiliate (None: organic)
    affiliate_before: str | None = None  # remap: the affiliate before it
    audit_id: str = ""  # recorded remap: its audit row


def arrivals(source: sa.Connection, where: Any = None,
             skip: Collection[str] = ()) -> Iterator[Step]:
    """Stored events grouped by their arrival instant, in arrival order (``skip``: ids of
    events to leave out, those a recorded step replays).

    An event of a player whose first registration arrived later is held back
    and arrives with that registration.
    """
    e = t.player_events
    query = sa.select(e).order_by(e.c.received_at, e.c.id)
    if where is not None:
        query = query.where(where)
    registered = _first_registrations(source, where, skip)
    waiting: dict[str, list[dict[str, Any]]] = defaultdict(list)
    current: list[dict[str, Any]] = []
    moment: datetime | None = None
    for row in source.execute(query).mappings():
        if skip and str(row["id"]) in skip:
            continue
        received = utc(row["received_at"])
        if moment is not None and received != moment and current:
            yield Step(moment, 0, "events", tuple(current))
            current = []
        moment = received
        player_id = str(row["player_id"])
        registration = registered.get(player_id)
        key = (received, str(row["id"]))
        if registration is not None and key < registration:
            waiting[player_id].append(dict(row))
            continue
        current += waiting.pop(player_id, [])
        current.append(dict(row))
    for rows in waiting.values():  # (none: every registration passes its own rows) never lost
        current += rows
    if moment is not None and current:
        yield Step(moment, 0, "events", tuple(current))


def _first_registrations(source: sa.Connection, where: Any = None,
                         skip: Collection[str] = ()) -> dict[str, tuple[datetime, str]]:
    """(received_at, id) of each player's first registration event (of those not skipped)."""
    e = t.player_events
    query = (sa.select(e.c.player_id, e.c.received_at, e.c.id)
             .where(e.c.kind == "registration").order_by(e.c.received_at, e.c.id))
    if where is not None:
        query = query.where(where)
    found: dict[str, tuple[datetime, str]] = {}
    for player_id, received_at, event_id in source.execute(query):
        if skip and str(event_id) in skip:
            continue
        found.setdefault(str(player_id), (utc(received_at), str(event_id)))
    return found


def closes(source: sa.Connection) -> list[Step]:
    p = t.periods
    rows = source.execute(sa.select(p.c.starts_at, p.c.closed_at).where(p.c.status == "closed"))
    return [Step(utc(r.closed_at), 1, "close", period_start=utc(r.starts_at)) for r in rows]


def rejections(source: sa.Connection) -> list[Step]:
    a = t.audit_log
    rows = source.execute(sa.select(a.c.at, a.c.entity_id, a.c.after)
                          .where(a.c.action == REJECT_ACTION))
    steps = []
    for row in rows:
        player_id, _, kind = str(row.entity_id).partition(":")
        reason = str((row.after or {}).get("reason", ""))
        steps.append(Step(utc(row.at), 2, "reject", player_id=player_id, conversion_kind=kind,
                          reason=reason))
    return steps


def run(target: sa.Connection, steps: Iterable[Step]) -> None:
    """Apply ``steps`` (already in time order) to the scratch database."""
    for step in steps:
        if step.kind == "events":
            target.execute(t.player_events.insert(), list(step.rows))
            conversion.evaluate_events(target, [r["id"] for r in step.rows], step.at)
        elif step.kind == "close" and step.period_start is not None:
            period_close.close(target, step.period_start, step.at)
        elif step.kind == "reject":
            conversion.reject_conversion(target, step.player_id, step.conversion_kind,
                                         step.reason, step.at)


def merged(*streams: Iterable[Step]) -> list[Step]:
    """Every step of every stream in time order (arrivals, then closes, then rejections)."""
    steps = [s for stream in streams for s in stream]
    steps.sort(key=lambda s: (s.at, s.order))
    return steps
