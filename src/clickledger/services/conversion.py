"""Conversion: turns accepted, attributed player events into commission ledger entries.

Contract with ingestion (postback, pixel, batch import): after events are
stored and attributed, ingestion calls ``evaluate_events`` in the same
transaction with the ids of every event whose consequences may have changed
(the new events, and a newly registered player's earlier events).  The
evaluation is idempotent: ledger entries carry a unique ``entry_key``, so
passing an event twice never pays twice.

One call costs a fixed handful of queries whatever the batch size: the
events with their players, the affiliates' assignments and deal versions,
existing conversions, the history of players still able to qualify, and the
lines a chargeback or reversal touches.  CPA/CPL ranks (tiers and caps) are
counted per affiliate, deal and period, in arrival order.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import cached_property
from typing import Any

import sqlalchemy as sa

from clickledger.clock import utc
from clickledger.domain.deals.base import DealKind
from clickledger.domain.deals.cpa import cpa_for_rank
from clickledger.domain.deals.cpl import CplTerms, cpl_for_lead
from clickledger.domain.deals.ib_rebate import IbTerms, Trade, rebate_for
from clickledger.domain.deals.registry import cpa_terms
from clickledger.domain.fx import FxError
from clickledger.domain.ledger import EntryDraft, EntryKind
from clickledger.domain.qualification import PlayerFacts, Step, evaluate
from clickledger.ids import new_id
from clickledger.services import audit
from clickledger.services.posting import Context, as_decimal, ensure_periods, post, reversals_for
from clickledger.store import ledger as ledger_store
from clickledger.store import tables as t
from clickledger.store.deals import chunks, text_id

CPA_KINDS = (DealKind.CPA, DealKind.HYBRID)
CONVERSION_KINDS = frozenset({DealKind.CPA, DealKind.HYBRID, DealKind.CPL})
STEP_KINDS = ("ftd", "deposit", "trade", "activity", "chargeback", "reversal")
LOTS_SCALE = Decimal(1000)
FINAL_STATUSES = frozenset({"approved", "rejected", "reversed"})


@dataclass
class _Player:
    id: str
    affiliate_id: str
    brand_id: str
    registered_at: datetime | None
    ftd_at: datetime | None
    country: str | None
    events: list[Any] = field(default_factory=list)

    @cached_property
    def arrived_at(self) -> datetime:
        """The earliest of registration and the batch's events (computed once, after loading)."""
        times = [utc(e.occurred_at) for e in self.events]
        if self.registered_at is not None:
            times.append(self.registered_at)
        return min(times)


@dataclass
class _Batch:
    ctx: Context
    now: datetime
    drafts: list[EntryDraft] = field(default_factory=list)
    conversions: list[dict[str, Any]] = field(default_factory=list)
    held: list[dict[str, Any]] = field(default_factory=list)
    ranks: dict[tuple[str, str, str, datetime], int] = field(default_factory=dict)
    rank_periods: set[datetime] = field(default_factory=set)
    rank_affiliates: set[str] = field(default_factory=set)
    rank_moments: list[datetime] = field(default_factory=list)


def evaluate_events(conn: sa.Connection, event_ids: Sequence[str], now: datetime) -> None:
    """Post the commission consequences of ``event_ids`` (idempotent, batch-loaded)."""
    if not event_ids:
        return
    players = _load_players(conn, event_ids)
    if not players:
        return
    batch = _Batch(Context(conn), now)
    batch.ctx.load_affiliates({p.affiliate_id for p in players})
    batch.ctx.load_parents({p.affiliate_id for p in players})
    existing = _conversions(conn, [p.id for p in players
                                   if _converts(batch.ctx, p.affiliate_id)])
    batch.rank_affiliates = {p.affiliate_id for p in players}  # ranks load on first use
    batch.rank_moments = [p.arrived_at for p in players]
    _evaluate_cpl(batch, players, existing)
    _evaluate_cpa(batch, players, existing)
    _evaluate_trades(batch, players)
    _write(batch)
    _evaluate_reversals(batch, players)
    _write(batch)


def _load_players(conn: sa.Connection, event_ids: Sequence[str]) -> list[_Player]:
    e, p = t.player_events, t.players
    found: dict[str, _Player] = {}
    columns = (text_id(e.c.id), e.c.kind, e.c.occurred_at, e.c.received_at,
               text_id(e.c.integration_id), e.c.txn_id, e.c.amount_minor, e.c.currency,
               e.c.lots_milli, e.c.instrument, e.c.account_type, e.c.spread_minor,
               e.c.reverses_txn_id, text_id(p.c.id, "pid"), text_id(p.c.affiliate_id),
               text_id(p.c.brand_id), p.c.registered_at, p.c.ftd_at, p.c.country)
    rows: list[Any] = []
    for chunk in chunks(dict.fromkeys(event_ids)):
        rows += conn.execute(sa.select(*columns).join(p, p.c.id == e.c.player_id)
                             .where(e.c.id.in_(chunk), p.c.affiliate_id.is_not(None))).all()
    rows.sort(key=lambda r: (r.received_at, r.id))  # one column: all naive or all aware
    for row in rows:
        player = found.get(row.pid)
        if player is None:
            player = found[row.pid] = _Player(
                row.pid, row.affiliate_id, row.brand_id,
                utc(row.registered_at) if row.registered_at else None,
                utc(row.ftd_at) if row.ftd_at else None, row.country)
        player.events.append(row)
    return list(found.values())


def _converts(ctx: Context, affiliate_id: str) -> bool:
    """Whether the affiliate has ever been on a CPL, CPA or hybrid deal (else no conversions)."""
    return any(version.kind in CONVERSION_KINDS
               for assignment in ctx.assignments.get(affiliate_id, [])
               for version in ctx.versions.get(assignment.deal_id, [])[:1])


def _conversions(conn: sa.Connection, player_ids: list[str]) -> dict[tuple[str, str], str]:
    c = t.conversions
    found: dict[tuple[str, str], str] = {}
    for chunk in chunks(player_ids):
        for row in conn.execute(sa.select(c.c.player_id, c.c.kind, c.c.status)
                                .where(c.c.player_id.in_(chunk))):
            found[(row.player_id, row.kind)] = row.status
    return found


def _load_ranks(batch: _Batch, affiliate_ids: set[str], moments: list[datetime]) -> None:
    """Paid conversions so far per (kind, affiliate, deal, period), in one grouped query."""
    c = t.conversions
    starts = sorted({batch.ctx.period(m).start for m in moments})
    for chunk in chunks(affiliate_ids):
        rows = batch.ctx.conn.execute(
            sa.select(c.c.kind, c.c.affiliate_id, c.c.deal_id, c.c.period_start, sa.func.count())
            .where(c.c.affiliate_id.in_(chunk), c.c.period_start.in_(starts),
                   c.c.status.in_(("approved", "reversed")))
            .group_by(c.c.kind, c.c.affiliate_id, c.c.deal_id, c.c.period_start))
        for kind, affiliate_id, deal_id, start, count in rows:
            batch.ranks[(kind, affiliate_id, deal_id, utc(start))] = int(count)
    batch.rank_periods.update(starts)


def _rank(batch: _Batch, kind: str, affiliate_id: str, deal_id: str, moment: datetime) -> int:
    """1-based rank of the next paid conversion of ``kind`` in the period of ``moment``."""
    start = batch.ctx.period(moment).start
    if batch.rank_moments:  # the first rank of the call: counts for the batch's periods
        _load_ranks(batch, batch.rank_affiliates, [*batch.rank_moments, moment])
        batch.rank_moments = []
    if start not in batch.rank_periods:
        _load_ranks(batch, {a for (_k, a, _d, _s) in batch.ranks} | {affiliate_id}, [moment])
        batch.rank_periods.add(start)
    key = (kind, affiliate_id, deal_id, start)
    batch.ranks[key] = batch.ranks.get(key, 0) + 1
    return batch.ranks[key]


def _conversion(batch: _Batch, player: _Player, kind: str, status: str, reason: str,
                version_id: str | None, deal_id: str | None, at: datetime | None,
                event_id: str | None, was: str | None) -> None:
    row = {"id": new_id(), "player_id": player.id, "affiliate_id": player.affiliate_id,
           "deal_version_id": version_id, "kind": kind, "status": status,
           "reason": reason[:500], "event_id": event_id, "deal_id": deal_id,
           "period_start": batch.ctx.period(at).start if at else None,
           "qualified_at": at, "created_at": batch.now, "updated_at": batch.now}
    (batch.held if was == "on_hold" else batch.conversions).append(row)


def _evaluate_cpl(batch: _Batch, players: list[_Player],
                  existing: dict[tuple[str, str], str]) -> None:
    for player in players:
        if player.registered_at is None or (player.id, "cpl") in existing:
            continue
        for _a, version, terms in batch.ctx.deals_at(player.affiliate_id, player.registered_at,
                                                     player.brand_id, (DealKind.CPL,)):
            if not isinstance(terms, CplTerms):
                continue
            rank = _rank(batch, "cpl", player.affiliate_id, version.deal_id,
                         player.registered_at)
            outcome = cpl_for_lead(terms, player.country, rank, version.currency)
            registration = next((e.id for e in player.events if e.kind == "registration"), None)
            if not outcome.paid:
                batch.ranks[("cpl", player.affiliate_id, version.deal_id,
                             batch.ctx.period(player.registered_at).start)] -= 1
            _conversion(batch, player, "cpl", "approved" if outcome.paid else "rejected",
                        outcome.text, version.id, version.deal_id, player.registered_at,
                        registration, None)
            if outcome.paid:
                batch.drafts.append(EntryDraft(
                    entry_key=f"cpl:{player.id}", kind=EntryKind.COMMISSION,
                    affiliate_id=player.affiliate_id, amount=outcome.amount,
                    currency=version.currency, deal_type="cpl", caused_at=player.registered_at,
                    explanation=outcome.text + f" ({version.deal_name} v{version.version})",
                    source_event_ids=(registration,) if registration else (),
                    player_id=player.id, deal_version_id=version.id, conversion_kind="cpl"))
            break


def _evaluate_cpa(batch: _Batch, players: list[_Player],
                  existing: dict[tuple[str, str], str]) -> None:
    candidates = []
    kinds = {"ftd", "deposit", "chargeback", "reversal"}
    for player in players:
        status = existing.get((player.id, "cpa"))
        if status in FINAL_STATUSES:
            continue
        deals = batch.ctx.deals_at(player.affiliate_id, player.arrived_at, player.brand_id,
                                   CPA_KINDS)
        if not deals:
            continue
        candidates.append((player, status))
        for _a, version, terms in deals:
            parsed = cpa_terms(version.kind, terms)
            if parsed is not None and parsed.qualification.min_lots > 0:
                kinds.add("trade")
            if parsed is not None and parsed.qualification.min_wagering > 0:
                kinds.add("activity")
    if not candidates:
        return
    history = _history(batch.ctx.conn, [p.id for p, _ in candidates], tuple(sorted(kinds)))
    for player, status in candidates:
        _qualify(batch, player, history.get(player.id, []), status)


def _history(conn: sa.Connection, player_ids: list[str],
             kinds: tuple[str, ...] = STEP_KINDS) -> dict[str, list[Any]]:
    """The steps that matter to the candidates' rules (activity only for wagering rules)."""
    e = t.player_events
    found: dict[str, list[Any]] = defaultdict(list)
    for chunk in chunks(player_ids):
        for row in conn.execute(
            sa.select(text_id(e.c.id), text_id(e.c.player_id), e.c.kind, e.c.occurred_at,
                      e.c.txn_id, text_id(e.c.integration_id), e.c.amount_minor, e.c.currency,
                      e.c.lots_milli, e.c.bets_minor, e.c.reverses_txn_id)
            .where(e.c.player_id.in_(chunk), e.c.kind.in_(kinds))
        ):
            found[row.player_id].append(row)
    return found


def _qualify(batch: _Batch, player: _Player, history: list[Any], status: str | None) -> None:
    start = min([player.arrived_at, *[utc(h.occurred_at) for h in history]])
    deals = batch.ctx.deals_at(player.affiliate_id, start, player.brand_id, CPA_KINDS)
    _assignment, first_version, _terms = deals[0]
    reversed_txns = {(h.integration_id, h.reverses_txn_id) for h in history if h.reverses_txn_id}
    try:
        steps = [_step(batch, h, first_version.currency) for h in history
                 if h.kind not in ("chargeback", "reversal")
                 and (h.integration_id, h.txn_id) not in reversed_txns]
    except FxError as exc:
        _conversion(batch, player, "cpa", "on_hold", str(exc), first_version.id,
                    first_version.deal_id, None, None, status)
        return
    parsed = cpa_terms(first_version.kind, _terms)
    if parsed is None:
        return
    facts = PlayerFacts(player.id, player.registered_at, player.country, steps)
    result = evaluate(parsed.qualification, facts, first_version.currency)
    if not result.qualified or result.at is None:
        if result.final:
            _conversion(batch, player, "cpa", "rejected", result.reason, first_version.id,
                        first_version.deal_id, None, None, status)
        return
    at_deals = batch.ctx.deals_at(player.affiliate_id, result.at, player.brand_id, CPA_KINDS)
    _a, version, terms = next(
        (d for d in at_deals if d[1].deal_id == first_version.deal_id), deals[0])
    parsed = cpa_terms(version.kind, terms) or parsed
    rank = _rank(batch, "cpa", player.affiliate_id, version.deal_id, result.at)
    outcome = cpa_for_rank(parsed, rank, version.currency, result.reason)
    last_event = result.source_event_ids[-1] if result.source_event_ids else None
    if not outcome.paid:
        batch.ranks[("cpa", player.affiliate_id, version.deal_id,
                     batch.ctx.period(result.at).start)] -= 1
    _conversion(batch, player, "cpa", "approved" if outcome.paid else "rejected", outcome.text,
                version.id, version.deal_id, result.at, last_event, status)
    if outcome.paid:
        batch.drafts.append(EntryDraft(
            entry_key=f"cpa:{player.id}", kind=EntryKind.COMMISSION,
            affiliate_id=player.affiliate_id, amount=outcome.amount, currency=version.currency,
            deal_type=version.kind.value, caused_at=result.at,
            explanation=f"{outcome.text} ({version.deal_name} v{version.version})",
            source_event_ids=result.source_event_ids, player_id=player.id,
            deal_version_id=version.id, conversion_kind="cpa"))


def _step(batch: _Batch, row: Any, currency: str) -> Step:
    at = utc(row.occurred_at)
    amount = as_decimal(row.amount_minor, row.currency)
    wagered = as_decimal(row.bets_minor, row.currency)
    if row.currency and row.currency != currency and (amount or wagered):
        fx = batch.ctx.fx()
        amount = fx.convert(amount, row.currency, currency, at.date()).amount
        wagered = fx.convert(wagered, row.currency, currency, at.date()).amount
    lots = Decimal(row.lots_milli or 0) / LOTS_SCALE
    return Step(row.id, at, row.kind, amount if row.kind in ("ftd", "deposit") else Decimal(0),
                lots, wagered)


def _evaluate_trades(batch: _Batch, players: list[_Player]) -> None:
    trades = [(p, e) for p in players for e in p.events if e.kind == "trade" and e.lots_milli]
    if not trades:
        return
    reversed_txns = _reversed(batch.ctx.conn, [e for _p, e in trades])
    for player, event in trades:
        if (event.integration_id, event.txn_id) in reversed_txns:
            continue
        at = utc(event.occurred_at)
        for _a, version, terms in batch.ctx.deals_at(player.affiliate_id, at, player.brand_id,
                                                     (DealKind.IB_REBATE,)):
            if not isinstance(terms, IbTerms):
                continue
            spread = as_decimal(event.spread_minor, event.currency)
            if spread and event.currency != version.currency:
                try:
                    spread = batch.ctx.fx().convert(spread, event.currency, version.currency,
                                                    at.date()).amount
                except FxError:
                    spread = Decimal(0)
            trade = Trade(event.instrument or "", Decimal(event.lots_milli) / LOTS_SCALE,
                          event.account_type, spread)
            rebate = rebate_for(terms, trade, version.currency)
            batch.drafts.append(EntryDraft(
                entry_key=f"ib:{event.id}", kind=EntryKind.COMMISSION,
                affiliate_id=player.affiliate_id, amount=rebate.amount,
                currency=version.currency, deal_type="ib_rebate", caused_at=at,
                explanation=f"{rebate.text} ({version.deal_name} v{version.version})",
                source_event_ids=(event.id,), player_id=player.id, deal_version_id=version.id))
            break


def _reversed(conn: sa.Connection, events: list[Any]) -> set[tuple[str, str]]:
    """(integration, txn) of the given events that a stored reversal/chargeback points at."""
    e = t.player_events
    txns = [ev.txn_id for ev in events]
    integrations = sorted({ev.integration_id for ev in events})
    found: set[tuple[str, str]] = set()
    for chunk in chunks(txns):  # (integration_id, reverses_txn_id) is indexed
        for row in conn.execute(sa.select(e.c.integration_id, e.c.reverses_txn_id)
                                .where(e.c.integration_id.in_(integrations),
                                       e.c.reverses_txn_id.in_(chunk))):
            found.add((row.integration_id, row.reverses_txn_id))
    return found


def _evaluate_reversals(batch: _Batch, players: list[_Player]) -> None:
    undo = [(p, e) for p in players for e in p.events if e.kind in ("chargeback", "reversal")]
    if not undo:
        return
    conn = batch.ctx.conn
    lines = ledger_store.lines_for_players(conn, {p.id for p, _ in undo})
    already = {line.entry_key for line in lines if line.kind == EntryKind.REVERSAL.value}
    targets = _target_ids(conn, [e for _p, e in undo])
    for player, event in undo:
        target = targets.get((event.integration_id, event.reverses_txn_id or ""))
        touched = [line for line in lines if line.player_id == player.id
                   and line.kind != EntryKind.REVERSAL.value
                   and not line.entry_key.startswith("sub:")
                   and (target in line.source_event_ids if target
                        else line.entry_key.startswith("cpa:"))]
        if not touched:
            continue
        cause = f"{event.kind} {event.txn_id}"
        batch.drafts += reversals_for(batch.ctx, touched, cause, event.id,
                                      utc(event.occurred_at), already)
        for line in touched:
            if line.entry_key.startswith(("cpa:", "cpl:")):
                _mark_reversed(conn, player.id, line.entry_key.split(":")[0], cause, batch.now)


def _target_ids(conn: sa.Connection, events: list[Any]) -> dict[tuple[str, str], str]:
    e = t.player_events
    wanted = [ev.reverses_txn_id for ev in events if ev.reverses_txn_id]
    integrations = sorted({ev.integration_id for ev in events})
    found: dict[tuple[str, str], str] = {}
    for chunk in chunks(wanted):  # the unique (integration_id, txn_id) index
        for row in conn.execute(sa.select(e.c.id, e.c.integration_id, e.c.txn_id)
                                .where(e.c.integration_id.in_(integrations),
                                       e.c.txn_id.in_(chunk))):
            found[(row.integration_id, row.txn_id)] = row.id
    return found


def _mark_reversed(conn: sa.Connection, player_id: str, kind: str, cause: str,
                   now: datetime) -> None:
    c = t.conversions
    conn.execute(c.update().where(c.c.player_id == player_id, c.c.kind == kind,
                                  c.c.status == "approved")
                 .values(status="reversed", reason=f"reversed: {cause}"[:500], updated_at=now))


def _flush_conversions(batch: _Batch) -> None:
    conn = batch.ctx.conn
    ledger_store.insert_ignoring(conn, t.conversions, batch.conversions, ["player_id", "kind"])
    c = t.conversions
    fraud_held = _fraud_held(conn, {row["player_id"] for row in batch.held})
    for row in batch.held:
        if row["player_id"] in fraud_held:
            continue  # held for fraud review: only a manager's decision releases it
        values = {k: v for k, v in row.items() if k not in ("id", "created_at", "player_id",
                                                          "kind")}
        conn.execute(c.update().where(c.c.player_id == row["player_id"], c.c.kind == row["kind"],
                                      c.c.status == "on_hold").values(**values))
    batch.conversions.clear()
    batch.held.clear()


def _fraud_held(conn: sa.Connection, player_ids: set[str]) -> set[str]:
    """Players whose conversions a fraud assessment holds or rejected (none: no query)."""
    if not player_ids:
        return set()
    from clickledger.services.fraud import held_player_ids  # noqa: PLC0415 - import cycle

    return held_player_ids(conn, player_ids)


def _write(batch: _Batch) -> None:
    ensure_periods(batch.ctx, [d.caused_at for d in batch.drafts])
    post(batch.ctx, batch.drafts, batch.now)
    batch.drafts.clear()
    _flush_conversions(batch)


def reject_conversion(conn: sa.Connection, player_id: str, kind: str, reason: str,
                      now: datetime, actor: str | None = None) -> list[str]:
    """Fraud rejection: the conversion becomes rejected and what it paid is reversed.

    With an ``actor`` the rejection is written to the audit log, which is also
    what ``ledger rebuild`` replays.  Returns the keys of the reversal entries.
    """
    if actor is not None:
        audit.record(conn, actor=actor, action="conversion.reject", entity="conversion",
                     entity_id=f"{player_id}:{kind}", now=now, after={"reason": reason})
    ctx = Context(conn)
    lines = [line for line in ledger_store.lines_for_players(conn, [player_id])
             if line.entry_key == f"{kind}:{player_id}"]
    already = {line.entry_key for line in ledger_store.lines_for_players(conn, [player_id])
               if line.kind == EntryKind.REVERSAL.value}
    drafts = reversals_for(ctx, lines, f"rejected: {reason}", None, now, already)
    ensure_periods(ctx, [d.caused_at for d in drafts])
    post(ctx, drafts, now)
    c = t.conversions
    conn.execute(c.update().where(c.c.player_id == player_id, c.c.kind == kind)
                 .values(status="rejected", reason=f"rejected: {reason}"[:500], updated_at=now))
    return [d.entry_key for d in drafts]
