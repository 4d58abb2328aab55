"""The one ingestion path: validated events → stored, attributed, evaluated, queued, counted.

Postbacks, batch API items and pixel hits all become ``Submission``s handed
to one ``GroupCommitter``; each group-commit batch runs ``flush`` in one
transaction:

1. look up which (integration, txn_id) already exist (one query per integration);
   an existing one with the same payload hash is a duplicate answered with the
   original event id, with another hash a 409 ``conflict_payload_mismatch``;
2. load the players, clicks and promo codes the new events name, bind
   registrations (``services.registration.PlayerBook``), track FTDs;
3. write players, then events with ``insert … on conflict do nothing`` — if
   another process won a race the batch is retried and then sees its rows;
4. call ``evaluate_events`` and ``enqueue_for_events`` with the new ids and the
   earlier events of players registered now;
5. record rejections and add to the hourly integration health counters.

Each request is answered only after its batch has committed.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from clickledger.clock import Clock
from clickledger.domain.attribution import Attribution, ClickFacts, Method, is_deposit
from clickledger.domain.events import EventKind, PlayerEvent
from clickledger.domain.money import to_minor
from clickledger.ids import new_id
from clickledger.ingest.integrations import IntegrationInfo
from clickledger.ingest.validate import LOTS_SCALE, ValidEvent
from clickledger.outbound.enqueue import enqueue_for_events
from clickledger.services import evaluation_order
from clickledger.services.conversion import evaluate_events
from clickledger.services.registration import (
    PlayerBook,
    PlayerState,
    RaceLost,
    load_clicks,
    load_promos,
    valid_uuid,
)
from clickledger.store import fraud_queue
from clickledger.store import tables as t
from clickledger.store.batch_reads import BatchRead, codec
from clickledger.store.inserts import PreparedInsert
from clickledger.store.reports import deferred_commission_rollups, record_event_rollups

EXCERPT_CHARS = 2000
PIXEL_KINDS = frozenset({EventKind.REGISTRATION, EventKind.FTD, EventKind.DEPOSIT})


@dataclass(slots=True)
class Submission:
    """One validated event from one integration, waiting for its batch."""

    integration: IntegrationInfo
    valid: ValidEvent
    raw: dict[str, str] | None
    received_at: datetime
    pixel: bool = False  # pixel hits must name a known, recent click of the brand


@dataclass(slots=True)
class Rejection:
    """A refused request from a known integration, kept for the health view."""

    integration_id: str | None
    source: str
    reason: str
    message: str
    excerpt: str | None
    at: datetime
    http_status: int = 422


@dataclass(slots=True)
class Tick:
    """Nothing to store: lets pending health counters reach the database."""


Item = Submission | Rejection | Tick


@dataclass(slots=True)
class Answer:
    """What the caller is told: an HTTP status and a JSON body."""

    http_status: int
    body: dict[str, Any]


def rejected(reason: str, message: str, http_status: int = 422, **extra: Any) -> Answer:
    return Answer(http_status, {"status": "rejected", "reason": reason, "message": message,
                                **extra})


def duplicate(event_id: str, txn_id: str) -> Answer:
    """The answer every retry of an accepted event gets."""
    return Answer(200, {"status": "duplicate", "event_id": event_id, "txn_id": txn_id})


def conflict(event_id: str, txn_id: str) -> Answer:
    return rejected("conflict_payload_mismatch",
                    "this txn_id was already accepted with different content; nothing changed",
                    409, event_id=event_id, txn_id=txn_id)


@dataclass(slots=True)
class _Counts:
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    lag_ms_sum: int = 0
    lag_ms_max: int = 0
    last_event_at: datetime | None = None


@dataclass
class HealthCounters:
    """Hourly counts per integration, accumulated and written with each batch."""

    counts: dict[tuple[str, datetime], _Counts] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _slot(self, integration_id: str, at: datetime) -> _Counts:
        key = (integration_id, at.replace(minute=0, second=0, microsecond=0))
        slot = self.counts.get(key)
        if slot is None:
            slot = self.counts[key] = _Counts()
        return slot

    def add(self, integration_id: str, at: datetime, *, accepted: int = 0, duplicates: int = 0,
            rejected: int = 0, lag_ms: int | None = None) -> None:
        with self.lock:
            slot = self._slot(integration_id, at)
            slot.accepted += accepted
            slot.duplicates += duplicates
            slot.rejected += rejected
            if lag_ms is not None:
                slot.lag_ms_sum += lag_ms
                slot.lag_ms_max = max(slot.lag_ms_max, lag_ms)
                if slot.last_event_at is None or at > slot.last_event_at:
                    slot.last_event_at = at

    def drain(self) -> dict[tuple[str, datetime], _Counts]:
        with self.lock:
            counts, self.counts = self.counts, {}
        return counts

    def merge(self, other: dict[tuple[str, datetime], _Counts]) -> None:
        """Put drained counts back (their transaction failed)."""
        with self.lock:
            for key, counts in other.items():
                slot = self.counts.setdefault(key, _Counts())
                slot.accepted += counts.accepted
                slot.duplicates += counts.duplicates
                slot.rejected += counts.rejected
                slot.lag_ms_sum += counts.lag_ms_sum
                slot.lag_ms_max = max(slot.lag_ms_max, counts.lag_ms_max)
                if counts.last_event_at and (slot.last_event_at is None
                                             or counts.last_event_at > slot.last_event_at):
                    slot.last_event_at = counts.last_event_at

    @property
    def pending(self) -> bool:
        return bool(self.counts)


def _health_update(table: sa.Table, new: Any) -> dict[str, Any]:
    """How a batch's counts are added to an hour already stored."""
    return {
        "accepted": table.c.accepted + new.accepted,
        "duplicates": table.c.duplicates + new.duplicates,
        "rejected": table.c.rejected + new.rejected,
        "lag_ms_sum": table.c.lag_ms_sum + new.lag_ms_sum,
        "lag_ms_max": sa.case((new.lag_ms_max > table.c.lag_ms_max, new.lag_ms_max),
                              else_=table.c.lag_ms_max),
        "last_event_at": sa.case(
            (table.c.last_event_at.is_(None), new.last_event_at),
            (new.last_event_at > table.c.last_event_at, new.last_event_at),
            else_=table.c.last_event_at),
    }


HEALTH_COLUMNS = ("integration_id", "hour", "accepted", "duplicates", "rejected", "lag_ms_sum",
                  "lag_ms_max", "last_event_at")
_UPSERT_HEALTH = PreparedInsert(t.integration_health_hourly, HEALTH_COLUMNS,
                                ["integration_id", "hour"], update=_health_update)


def write_health(conn: sa.Connection, counts: dict[tuple[str, datetime], _Counts]) -> None:
    """Add ``counts`` to ``integration_health_hourly`` (one upsert for the batch)."""
    _UPSERT_HEALTH.run(conn, [
        (key[0], key[1], c.accepted, c.duplicates, c.rejected, c.lag_ms_sum, c.lag_ms_max,
         c.last_event_at) for key, c in sorted(counts.items())])


EVENT_COLUMNS = (
    "id", "integration_id", "txn_id", "payload_hash", "source", "kind", "brand_id",
    "operator_player_id", "player_id", "occurred_at", "received_at", "amount_minor", "currency",
    "lots_milli", "instrument", "account_type", "spread_minor", "bets_minor", "wins_minor",
    "bonus_minor", "chargebacks_minor", "activity_day", "country", "click_id", "promo_code",
    "status_raw", "reverses_txn_id", "raw",
)
_INSERT_EVENTS = PreparedInsert(t.player_events, EVENT_COLUMNS, ["integration_id", "txn_id"])
_EXISTING = BatchRead("SELECT id, txn_id, payload_hash FROM player_events"
                      " WHERE integration_id = ? AND txn_id {texts}")


def _minor(value: Any, currency: str | None) -> int | None:
    return to_minor(value, currency) if value is not None and currency else None


def _event_row(sub: Submission, event_id: str, player_id: str) -> tuple[Any, ...]:
    """The event's ``player_events`` values in ``EVENT_COLUMNS`` order."""
    ev = sub.valid.event
    cur = ev.currency
    money = (None,) * 6 if cur is None else (
        _minor(ev.amount, cur), _minor(ev.spread, cur), _minor(ev.bets, cur),
        _minor(ev.wins, cur), _minor(ev.bonus, cur), _minor(ev.chargebacks, cur))
    return (
        event_id, sub.integration.id, ev.txn_id, sub.valid.payload_hash, ev.source.value,
        ev.kind.value, sub.integration.brand_id, ev.operator_player_id, player_id,
        ev.occurred_at, sub.received_at, money[0], cur,
        int(ev.lots * LOTS_SCALE) if ev.lots is not None else None,
        ev.instrument, ev.account_type, money[1], money[2], money[3], money[4], money[5],
        ev.activity_day, ev.country, ev.click_id, ev.promo_code, ev.status_raw,
        ev.reverses_txn_id, sub.raw,
    )


def _load_existing(
    conn: sa.Connection, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], tuple[str, str]]:
    """(integration, txn_id) → (event id, payload hash) for the keys already stored."""
    by_integration: dict[str, list[str]] = {}
    for integration_id, txn_id in keys:
        by_integration.setdefault(integration_id, []).append(txn_id)
    c = codec(conn)
    found: dict[tuple[str, str], tuple[str, str]] = {}
    for integration_id, txns in by_integration.items():
        for event_id, txn_id, payload in _EXISTING.rows(conn, c.id_param(integration_id),
                                                        c.text_list(txns)):
            found[(integration_id, txn_id)] = (c.id_text(event_id), payload)
    return found


def _pixel_problem(sub: Submission, click: ClickFacts | None, now: datetime,
                   window_days: int) -> str | None:
    """Why a pixel hit may not be stored, or None."""
    ev = sub.valid.event
    if ev.kind not in PIXEL_KINDS:
        return "pixel_event_not_allowed"
    if click is None:
        return "unknown_click_id"
    if click.brand_id != sub.integration.brand_id:
        return "click_of_other_brand"
    if (now - click.clicked_at).days >= window_days:
        return "click_outside_window"
    return None


def _accepted_body(event_id: str, ev: PlayerEvent, state: PlayerState,
                   decision: Attribution | None, is_ftd: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "status": "accepted", "event_id": event_id, "txn_id": ev.txn_id,
        "player_id": state.id, "attribution": state.attribution,
        "affiliate_id": state.affiliate_id,
    }
    if ev.kind is EventKind.REGISTRATION:
        body["note"] = decision.note if decision is not None else "already_registered"
    elif state.attribution == Method.PENDING.value:
        body["note"] = "player_not_registered_yet"
    if is_deposit(ev.kind.value):
        body["ftd"] = is_ftd
    return body


class Flusher:
    """The group-commit flush function for ingestion, with its health counters."""

    def __init__(self, clock: Clock, window_days: int) -> None:
        self.clock = clock
        self.window_days = window_days
        self.health = HealthCounters()

    def __call__(self, conn: sa.Connection, items: Sequence[Item]) -> list[Answer | None]:
        pending = self.health.drain()
        try:
            return self._flush(conn, items, pending)
        except BaseException:
            self.health.merge(pending)
            raise

    def _flush(self, conn: sa.Connection, items: Sequence[Item],
               pending: dict[tuple[str, datetime], _Counts]) -> list[Answer | None]:
        now = self.clock.now()
        batch_health = HealthCounters()
        batch_health.merge(pending)
        answers: list[Answer | None] = [None] * len(items)
        rejections: list[Rejection] = [it for it in items if isinstance(it, Rejection)]
        for index, item in enumerate(items):
            if isinstance(item, Rejection):
                answers[index] = rejected(item.reason, item.message, item.http_status)
        subs = [(i, it) for i, it in enumerate(items) if isinstance(it, Submission)]
        if subs:
            self._events(conn, subs, answers, rejections, batch_health, now)
        for rej in rejections:
            if rej.integration_id:
                batch_health.add(rej.integration_id, rej.at, rejected=1)
        if rejections:
            conn.execute(t.ingest_rejections.insert(), [
                {"id": new_id(), "integration_id": r.integration_id, "source": r.source,
                 "reason_code": r.reason, "message": r.message[:1000],
                 "excerpt": r.excerpt[:EXCERPT_CHARS] if r.excerpt else None, "created_at": r.at}
                for r in rejections])
        write_health(conn, batch_health.counts)
        return answers

    def _events(self, conn: sa.Connection, subs: list[tuple[int, Submission]],
                answers: list[Answer | None], rejections: list[Rejection],
                health: HealthCounters, now: datetime) -> None:
        primaries: dict[tuple[str, str], tuple[int, Submission]] = {}
        followers: list[tuple[int, Submission]] = []
        for index, sub in subs:
            key = (sub.integration.id, sub.valid.event.txn_id)
            if key in primaries:
                followers.append((index, sub))
            else:
                primaries[key] = (index, sub)
        existing = _load_existing(conn, sorted(primaries))
        new = [(i, s) for key, (i, s) in primaries.items() if key not in existing]
        for key, (index, sub) in primaries.items():
            if key in existing:
                answers[index] = self._repeat(existing[key], sub, health)
        outcome = self._store_new(conn, new, answers, rejections, health, now) if new else {}
        for index, sub in followers:
            key = (sub.integration.id, sub.valid.event.txn_id)
            first = existing.get(key) or outcome.get(key)
            if first is None:  # the first of the batch was refused: so is the repeat
                answers[index] = answers[primaries[key][0]]
            else:
                answers[index] = self._repeat(first, sub, health)

    @staticmethod
    def _repeat(first: tuple[str, str], sub: Submission, health: HealthCounters) -> Answer:
        event_id, first_hash = first
        if first_hash != sub.valid.payload_hash:
            health.add(sub.integration.id, sub.received_at, rejected=1)
            return conflict(event_id, sub.valid.event.txn_id)
        health.add(sub.integration.id, sub.received_at, duplicates=1)
        return duplicate(event_id, sub.valid.event.txn_id)

    def _store_new(self, conn: sa.Connection, new: list[tuple[int, Submission]],
                   answers: list[Answer | None], rejections: list[Rejection],
                   health: HealthCounters, now: datetime) -> dict[tuple[str, str], tuple[str, str]]:
        """Attribute and insert the batch's new events; returns key → (id, hash) of those stored."""
        book = PlayerBook(self.window_days)
        book.load(conn, {(s.integration.brand_id, s.valid.event.operator_player_id)
                         for _, s in new})
        wants_click = [s.valid.event.click_id for _, s in new if s.valid.event.click_id
                       and (s.pixel or s.valid.event.kind is EventKind.REGISTRATION)]
        clicks = load_clicks(conn, wants_click) if wants_click else {}
        codes = [s.valid.event.promo_code for _, s in new if s.valid.event.promo_code
                 and s.valid.event.kind is EventKind.REGISTRATION]
        promos = load_promos(conn, codes) if codes else {}
        ordered = sorted(new, key=lambda p: (p[1].valid.event.kind is not EventKind.REGISTRATION,
                                             p[1].valid.event.occurred_at))
        rows: list[tuple[Any, ...]] = []
        made: list[tuple[int, str, Submission, PlayerState, Attribution | None, bool]] = []
        for index, sub in ordered:
            ev = sub.valid.event
            click = clicks.get(valid_uuid(ev.click_id) or "")
            if sub.pixel:
                problem = _pixel_problem(sub, click, now, self.window_days)
                if problem is not None:
                    answers[index] = rejected(problem, "the pixel hit was not recorded")
                    rejections.append(Rejection(sub.integration.id, "pixel", problem,
                                                "pixel hit refused", str(sub.raw), now))
                    continue
            state = book.ensure(sub.integration.brand_id, ev.operator_player_id)
            event_id = new_id()
            decision = None
            if ev.kind is EventKind.REGISTRATION:
                decision = book.register(
                    state, registered_at=ev.occurred_at, country=ev.country,
                    click_id=ev.click_id, click=click, promo_code=ev.promo_code,
                    promo=promos.get(ev.promo_code or ""))
            is_ftd = book.note_deposit(state, ev.kind.value, event_id, ev.occurred_at)
            rows.append(_event_row(sub, event_id, state.id))
            made.append((index, event_id, sub, state, decision, is_ftd))
        book.write(conn, now)
        self._insert_events(conn, rows)
        stored: dict[tuple[str, str], tuple[str, str]] = {}
        for index, event_id, sub, state, decision, is_ftd in made:
            ev = sub.valid.event
            answers[index] = Answer(200, _accepted_body(event_id, ev, state, decision, is_ftd))
            stored[(sub.integration.id, ev.txn_id)] = (event_id, sub.valid.payload_hash)
            lag_ms = max(0, int((sub.received_at - ev.occurred_at).total_seconds() * 1000))
            health.add(sub.integration.id, sub.received_at, accepted=1, lag_ms=lag_ms)
        event_ids = [event_id for _, event_id, *_ in made]
        seen = set(event_ids)
        event_ids += [e for e in book.earlier_event_ids(conn) if e not in seen]
        if event_ids:
            evaluation_order.wait_for_registrations(conn, book.pending_ids())
            evaluation_order.record_events(  # the order ``ledger rebuild`` replays
                conn, now, arrived=event_ids[:len(made)], also=event_ids[len(made):],
                bound=book.bound_ids(), lock_for=book.player_ids())
            with deferred_commission_rollups(conn) as rollups:  # written with the events'
                evaluate_events(conn, event_ids, now)
            enqueue_for_events(conn, event_ids, now)
            fraud_queue.enqueue(conn, event_ids, now)  # assessed by the fraud worker
            record_event_rollups(conn, event_ids, rollups)  # report rollups, same transaction
        return stored

    @staticmethod
    def _insert_events(conn: sa.Connection, rows: list[tuple[Any, ...]]) -> None:
        """One prepared statement, executed for many rows; a row that already exists means
        another process stored it since our look-up: ``RaceLost`` and the batch is retried."""
        if not rows:
            return
        rows.sort(key=lambda r: (r[1], r[2]))  # (integration_id, txn_id): a stable lock order
        if _INSERT_EVENTS.run(conn, rows) != len(rows):
            raise RaceLost("an event was stored concurrently")
