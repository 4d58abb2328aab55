"""Queues outbound postbacks for accepted events, in the ingesting transaction (outbox).

Contract with ingestion: after ``services.conversion.evaluate_events``, ingestion
calls ``enqueue_for_events`` in the same transaction with the same event ids.
Rows are keyed by a unique ``dedupe_key`` (event, template), so a repeat call
queues nothing twice.

Cost: four statements per call whatever the batch size (events with their
player and click; the affiliates' active templates; those players' ledger
entries, only when a template matched — each a ``store.batch_reads.BatchRead``
with the ids as one parameter; one insert prepared once per dialect and
executed for all rows), never one per event.  A template is split into text and
macros once (``templates.CompiledTemplate``, cached by its text and words) and
each event's facts are worked out once for all its templates.  Unattributed
events queue nothing.

Payout: the sum of the affiliate's ledger entries (any kind but payouts) that
name the event among their sources.  An entry citing several events counts
once, toward the newest of them (ids are time-ordered UUIDv7), which is the
event that triggered it; so a CPA paid on [ftd, trade] is reported with the
trade.  Entries in a second currency for the same event are left out.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from clickledger.ids import new_id
from clickledger.outbound import templates as tpl
from clickledger.outbound import webhooks
from clickledger.settings import get_settings
from clickledger.store import tables as t
from clickledger.store.batch_reads import BatchRead, codec
from clickledger.store.inserts import PreparedInsert

COMPILED_TEMPLATES_MAX = 1024


@dataclass(slots=True)
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


@dataclass(frozen=True, slots=True)
class _Template:
    id: str
    affiliate_id: str
    offer_id: str | None
    event_kind: str | None
    is_webhook: bool
    words: dict[str, str]
    compiled: tpl.CompiledTemplate


@dataclass(slots=True)
class _Payout:
    amount_minor: int = 0
    currency: str | None = None
    statuses: set[str] = field(default_factory=set)


_EVENTS = BatchRead(
    "SELECT e.id, e.kind, e.amount_minor, e.currency, e.occurred_at, p.id, p.affiliate_id,"
    " p.click_id, COALESCE(c.offer_id, pc.offer_id), c.sub1, c.sub2, c.sub3, c.sub4, c.sub5"
    " FROM player_events e JOIN players p ON p.id = e.player_id"
    " LEFT OUTER JOIN clicks c ON c.id = p.click_id"
    " LEFT OUTER JOIN promo_codes pc ON pc.id = p.promo_code_id"
    " WHERE p.affiliate_id IS NOT NULL AND e.id {ids}")
_TEMPLATES = BatchRead(
    "SELECT id, affiliate_id, offer_id, event_kind, kind, url_template, status_words"
    " FROM postback_templates WHERE status = 'active' AND affiliate_id {ids}")
_PAYOUT_LINES = BatchRead(
    "SELECT player_id, affiliate_id, amount_minor, currency, status, source_event_ids, kind"
    " FROM ledger_entries WHERE kind <> 'payout' AND player_id {ids}")  # payouts: not commission
OUTBOX_COLUMNS = (
    "id", "dedupe_key", "template_id", "affiliate_id", "event_id", "method", "url", "body",
    "headers", "status", "attempts", "next_attempt_at", "resend_count", "created_at",
    "updated_at",
)
_INSERT_OUTBOX = PreparedInsert(t.outbox, OUTBOX_COLUMNS, ["dedupe_key"])
_COMPILED: dict[tuple[str, str], tpl.CompiledTemplate] = {}


def _load_events(conn: sa.Connection, event_ids: Sequence[str]) -> list[_EventRow]:
    """The attributed events among ``event_ids``, with their player's click or promo code."""
    c = codec(conn)
    text, maybe = c.id_text, c.id_or_none
    return [
        _EventRow(text(event_id), kind, amount_minor, currency, c.moment(occurred_at),
                  text(player_id), text(affiliate_id), maybe(click_id), maybe(offer_id),
                  (sub1, sub2, sub3, sub4, sub5))
        for (event_id, kind, amount_minor, currency, occurred_at, player_id, affiliate_id,
             click_id, offer_id, sub1, sub2, sub3, sub4, sub5)
        in _EVENTS.rows(conn, c.id_list(dict.fromkeys(event_ids)))
    ]


def _compiled(url_template: str, words: dict[str, str]) -> tpl.CompiledTemplate:
    key = (url_template, json.dumps(words, sort_keys=True))
    found = _COMPILED.get(key)
    if found is None:
        if len(_COMPILED) >= COMPILED_TEMPLATES_MAX:
            _COMPILED.clear()
        found = _COMPILED[key] = tpl.CompiledTemplate(url_template, words)
    return found


def _load_templates(conn: sa.Connection, affiliate_ids: set[str]) -> dict[str, list[_Template]]:
    """The affiliates' active templates, compiled (a template's compiled form is cached)."""
    c = codec(conn)
    by_affiliate: dict[str, list[_Template]] = defaultdict(list)
    for template_id, affiliate_id, offer_id, event_kind, kind, url_template, words in (
            _TEMPLATES.rows(conn, c.id_list(sorted(affiliate_ids)))):
        status_words = c.json(words) or {}
        template = _Template(c.id_text(template_id), c.id_text(affiliate_id),
                             c.id_or_none(offer_id), event_kind, kind == "webhook", status_words,
                             _compiled(url_template, status_words))
        by_affiliate[template.affiliate_id].append(template)
    return by_affiliate


def _matches(template: _Template, event: _EventRow) -> bool:
    return (template.offer_id is None or template.offer_id == event.offer_id) and (
        template.event_kind is None or template.event_kind == event.kind
    )


def _load_payouts(conn: sa.Connection, events: list[_EventRow]) -> dict[str, _Payout]:
    """Per event id: the affiliate's commission for it (see the module doc)."""
    c = codec(conn)
    wanted = {event.id for event in events}
    affiliate_of = {event.player_id: event.affiliate_id for event in events}
    payouts: dict[str, _Payout] = {}
    for player_id, affiliate_id, amount_minor, currency, status, sources, kind in (
            _PAYOUT_LINES.rows(conn, c.id_list(sorted(affiliate_of)))):
        if c.id_or_none(affiliate_id) != affiliate_of.get(c.id_text(player_id)):
            continue
        source_ids = [str(s) for s in (c.json(sources) or ())]
        if not source_ids:
            continue
        owner = max(source_ids)
        if owner not in wanted:
            continue
        payout = payouts.get(owner)
        if payout is None:
            payout = payouts[owner] = _Payout(currency=currency)
        if payout.currency != currency:
            continue
        payout.amount_minor += int(amount_minor)
        payout.statuses.add("reversed" if kind == "reversal" else status)
    return payouts


def _facts(event: _EventRow, payout: _Payout | None, player_key: str) -> tpl.PostbackFacts:
    amount_minor = payout.amount_minor if payout else 0
    currency = payout.currency if payout else event.currency
    statuses = frozenset(payout.statuses) if payout else frozenset()
    return tpl.PostbackFacts(
        event_id=event.id,
        event_kind=event.kind,
        status=tpl.canonical_status(event.kind, amount_minor, statuses),
        occurred_at=event.occurred_at.isoformat(),
        click_id=event.click_id,
        subs=event.subs,
        payout=tpl.money_text(amount_minor, currency) if payout else tpl.zero_text(currency),
        currency=currency or "",
        player_id=player_key,
        amount=tpl.money_text(event.amount_minor, event.currency),
        amount_currency=(event.currency or "") if event.amount_minor is not None else "",
        offer_id=event.offer_id,
    )


def _outbox_row(template: _Template, facts: tpl.PostbackFacts, event: _EventRow,
                now: datetime) -> tuple[Any, ...]:
    """The delivery's ``outbox`` values in ``OUTBOX_COLUMNS`` order."""
    url = template.compiled.render(facts)
    if template.is_webhook:
        body = webhooks.encode_body(tpl.webhook_payload(facts, template.words))
        method = "POST"
    else:
        body, method = None, "GET"
    return (
        new_id(), f"{event.id}:{template.id}", template.id, event.affiliate_id, event.id,
        method, url, body, None, "pending", 0, now, 0, now, now,
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
