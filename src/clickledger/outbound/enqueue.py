"""Queues outbound postbacks for accepted events, in the ingesting transaction (outbox).

Contract with ingestion: after ``services.conversion.evaluate_events``, ingestion
calls ``enqueue_for_events`` in the same transaction with the same event ids.
Rows are keyed by a unique ``dedupe_key`` (event, template), so a repeat call
queues nothing twice.

Cost: four batched statements per call whatever the batch size (events with
their player and click; the affiliates' active templates; those players' ledger
entries, only when a template matched; one insert prepared once per dialect and
executed for all rows), never one per event; statements are built once at import.
Unattributed events queue nothing.

Payout: the sum of the affiliate's ledger entries (any kind but payouts) that
name the event among their sources.  An entry citing several events counts
once, toward the newest of them (ids are time-ordered UUIDv7), which is the
event that triggered it; so a CPA paid on [ftd, trade] is reported with the
trade.  Entries in a second currency for the same event are left out.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from clickledger.clock import utc
from clickledger.ids import new_id
from clickledger.ingest.prepared import PreparedInsert
from clickledger.outbound import templates as tpl
from clickledger.outbound import webhooks
from clickledger.settings import get_settings
from clickledger.store import tables as t

CHUNK_IDS = 500
EXCLUDED_ENTRY_KINDS = ("payout",)


@dataclass
class _EventRow:
    id: str
    kind: str
    amount_minor: int | None
    currency: str | None
    occurred_at: datetime
    player_id: str
    affiliate_id: str
    click_id: str | None
    offer_id: str | None
    subs: tuple[str | None, str | None, str | None, str | None, str | None]


@dataclass
class _Payout:
    amount_minor: int = 0
    currency: str | None = None
    statuses: set[str] = field(default_factory=set)


def _chunks(items: Sequence[str], size: int) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


_e, _p, _c, _pc = t.player_events, t.players, t.clicks, t.promo_codes
_EVENTS = (
    sa.select(
        _e.c.id, _e.c.kind, _e.c.amount_minor, _e.c.currency, _e.c.occurred_at,
        _p.c.id.label("player_id"), _p.c.affiliate_id, _p.c.click_id,
        sa.func.coalesce(_c.c.offer_id, _pc.c.offer_id).label("offer_id"),
        _c.c.sub1, _c.c.sub2, _c.c.sub3, _c.c.sub4, _c.c.sub5,
    )
    .select_from(_e.join(_p, _p.c.id == _e.c.player_id)
                 .outerjoin(_c, _c.c.id == _p.c.click_id)
                 .outerjoin(_pc, _pc.c.id == _p.c.promo_code_id))
    .where(_p.c.affiliate_id.is_not(None), _e.c.id.in_(sa.bindparam("ids", expanding=True)))
)
_pt = t.postback_templates
_TEMPLATES = sa.select(_pt).where(
    _pt.c.affiliate_id.in_(sa.bindparam("affiliates", expanding=True)), _pt.c.status == "active")
_le = t.ledger_entries
_PAYOUT_LINES = sa.select(
    _le.c.player_id, _le.c.affiliate_id, _le.c.amount_minor, _le.c.currency, _le.c.status,
    _le.c.source_event_ids, _le.c.kind,
).where(_le.c.player_id.in_(sa.bindparam("players", expanding=True)),
        _le.c.kind.not_in(EXCLUDED_ENTRY_KINDS))
OUTBOX_COLUMNS = (
    "id", "dedupe_key", "template_id", "affiliate_id", "event_id", "method", "url", "body",
    "headers", "status", "attempts", "next_attempt_at", "resend_count", "created_at",
    "updated_at",
)
_INSERT_OUTBOX = PreparedInsert(t.outbox, OUTBOX_COLUMNS, ["dedupe_key"])


def _load_events(conn: sa.Connection, event_ids: Sequence[str]) -> list[_EventRow]:
    rows: list[_EventRow] = []
    for chunk in _chunks(list(event_ids), CHUNK_IDS):
        for (event_id, kind, amount_minor, currency, occurred_at, player_id, affiliate_id,
             click_id, offer_id, *subs) in conn.execute(_EVENTS, {"ids": chunk}):
            rows.append(_EventRow(event_id, kind, amount_minor, currency, occurred_at,
                                  player_id, affiliate_id, click_id, offer_id,
                                  (subs[0], subs[1], subs[2], subs[3], subs[4])))
    return rows


def _load_templates(conn: sa.Connection, affiliate_ids: set[str]) -> dict[str, list[Any]]:
    by_affiliate: dict[str, list[Any]] = defaultdict(list)
    for chunk in _chunks(sorted(affiliate_ids), CHUNK_IDS):
        for row in conn.execute(_TEMPLATES, {"affiliates": chunk}):
            by_affiliate[row.affiliate_id].append(row)
    return by_affiliate


def _matches(template: Any, event: _EventRow) -> bool:
    return (template.offer_id is None or template.offer_id == event.offer_id) and (
        template.event_kind is None or template.event_kind == event.kind
    )


def _load_payouts(conn: sa.Connection, events: list[_EventRow]) -> dict[str, _Payout]:
    """Per event id: the affiliate's commission for it (see the module doc)."""
    wanted = {event.id for event in events}
    affiliate_of = {event.player_id: event.affiliate_id for event in events}
    payouts: dict[str, _Payout] = {}
    for chunk in _chunks(sorted(affiliate_of), CHUNK_IDS):
        for row in conn.execute(_PAYOUT_LINES, {"players": chunk}):
            if row.affiliate_id != affiliate_of.get(row.player_id):
                continue
            sources = [str(s) for s in (row.source_event_ids or ())]
            if not sources:
                continue
            owner = max(sources)
            if owner not in wanted:
                continue
            payout = payouts.setdefault(owner, _Payout(currency=row.currency))
            if payout.currency != row.currency:
                continue
            payout.amount_minor += int(row.amount_minor)
            payout.statuses.add("reversed" if row.kind == "reversal" else row.status)
    return payouts


def _facts(event: _EventRow, payout: _Payout | None, player_key: str) -> tpl.PostbackFacts:
    amount_minor = payout.amount_minor if payout else 0
    currency = payout.currency if payout else event.currency
    statuses = frozenset(payout.statuses) if payout else frozenset()
    return tpl.PostbackFacts(
        event_id=event.id,
        event_kind=event.kind,
        status=tpl.canonical_status(event.kind, amount_minor, statuses),
        occurred_at=utc(event.occurred_at).isoformat(),
        click_id=event.click_id,
        subs=event.subs,
        payout=tpl.money_text(amount_minor, currency) if payout else tpl.zero_text(currency),
        currency=currency or "",
        player_id=player_key,
        amount=tpl.money_text(event.amount_minor, event.currency),
        amount_currency=(event.currency or "") if event.amount_minor is not None else "",
        offer_id=event.offer_id,
    )


def _outbox_row(template: Any, facts: tpl.PostbackFacts, event: _EventRow,
                now: datetime) -> tuple[Any, ...]:
    """The delivery's ``outbox`` values in ``OUTBOX_COLUMNS`` order."""
    words = template.status_words or {}
    url = tpl.render(template.url_template, facts, words)
    is_webhook = template.kind == "webhook"
    body = webhooks.encode_body(tpl.webhook_payload(facts, words)) if is_webhook else None
    return (
        new_id(), f"{event.id}:{template.id}", template.id, event.affiliate_id, event.id,
        "POST" if is_webhook else "GET", url, body, None, "pending", 0, now, 0, now, now,
    )


def insert_outbox_rows(conn: sa.Connection, rows: list[tuple[Any, ...]]) -> int:
    """``insert … on conflict (dedupe_key) do nothing`` of rows in ``OUTBOX_COLUMNS`` order
    (one prepared statement, executemany); returns how many rows were new."""
    return _INSERT_OUTBOX.run(conn, rows)


def enqueue_for_events(
    conn: sa.Connection, event_ids: Sequence[str], now: datetime, *, secret_key: str | None = None
) -> int:
    """Write outbox rows for ``event_ids``; returns how many were queued (new rows only).

    ``secret_key`` keys the pseudonymous ``{player_id}``; it defaults to the
    process settings' ``secret_key``.
    """
    if not event_ids:
        return 0
    events = _load_events(conn, event_ids)
    if not events:
        return 0
    templates = _load_templates(conn, {event.affiliate_id for event in events})
    matched = [
        (event, template) for event in events
        for template in templates.get(event.affiliate_id, ()) if _matches(template, event)
    ]
    if not matched:
        return 0
    payouts = _load_payouts(conn, list({event.id: event for event, _ in matched}.values()))
    key = secret_key if secret_key is not None else get_settings().secret_key
    facts_by_event: dict[str, tpl.PostbackFacts] = {}
    player_keys: dict[str, str] = {}
    rows = []
    for event, template in matched:
        facts = facts_by_event.get(event.id)
        if facts is None:
            player_key = player_keys.get(event.player_id)
            if player_key is None:
                player_key = player_keys[event.player_id] = tpl.pseudonymous_player_id(
                    key, event.player_id)
            facts = facts_by_event[event.id] = _facts(event, payouts.get(event.id), player_key)
        rows.append(_outbox_row(template, facts, event, now))
    return insert_outbox_rows(conn, rows)
