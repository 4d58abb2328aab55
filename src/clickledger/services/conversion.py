"""Conversion: turns accepted, attributed player events into commission ledger entries.

Contract with ingestion (postback, pixel, batch import): after events are
stored and attributed, ingestion calls ``evaluate_events`` in the same
transaction with the ids of every event whose consequences may have changed
(the new events, and a newly registered player's earlier events).  The
evaluation is idempotent: ledger entries carry a unique ``entry_key``, so
passing an event twice never pays twice.

One call gives the same ledger as calling it once per event, in arrival order
(``received_at``, then the time-ordered event id; a player's events that came
before its registration count as arriving with it, since until then the
player had no affiliate).  So the way ingestion happens to batch events never
changes what is paid, and ``ledger rebuild`` may replay them in any grouping:

* a CPA decision (paid, rejected for good, or on hold) is taken at the first
  arrival after which the player's history decides it, and is final;
* CPA and CPL ranks (tiers, caps) are counted in the order of those arrivals;
* a chargeback or reversal undoes only lines made before it arrived, and a
  trade is not paid when a reversal of it arrived first.

One call costs a fixed handful of queries whatever the batch size: the
events with their players, existing conversions, the history of players
still able to qualify, the reversals pointing at the batch's trades and the
lines a chargeback or reversal touches (assignments, deal versions and
parents come from the shared catalogue).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from clickledger.domain.deals.base import DealKind, DealVersion
from clickledger.domain.deals.cpa import CpaTerms, cpa_for_rank
from clickledger.domain.deals.cpl import CplTerms, cpl_for_lead
from clickledger.domain.deals.ib_rebate import IbTerms, Trade, rebate_for
from clickledger.domain.deals.registry import ParsedTerms, cpa_terms
from clickledger.domain.fx import FxError
from clickledger.domain.ledger import EntryDraft, EntryKind
from clickledger.domain.qualification import PlayerFacts, Qualification, Step, evaluate
from clickledger.ids import new_id
from clickledger.services import audit, evaluation_order
from clickledger.services.posting import Context, as_decimal, ensure_periods, post, reversals_for
from clickledger.store import deals as deal_store
from clickledger.store import evaluation_reads as reads
from clickledger.store import ledger as ledger_store
from clickledger.store import tables as t
from clickledger.store.evaluation_reads import Event, moment

CPA_KINDS = (DealKind.CPA, DealKind.HYBRID)
CPA_KIND_SET = frozenset(CPA_KINDS)
CONVERSION_KINDS = frozenset({DealKind.CPA, DealKind.HYBRID, DealKind.CPL})
DEPOSIT_KINDS = frozenset({"ftd", "deposit"})
UNDO_KINDS = frozenset({"chargeback", "reversal"})
BASE_STEP_KINDS = ("chargeback", "deposit", "ftd", "reversal")
LOTS_SCALE = Decimal(1000)
FINAL_STATUSES = frozenset({"approved", "rejected", "reversed"})

Arrival = tuple[Any, str]  # (received_at as stored, event id): the order events arrived in
Order = tuple[Arrival, Arrival]  # (the arrival an event counts at, its own arrival)


def _at(event: Event) -> datetime:
    return moment(event.occurred)


@dataclass(slots=True)
class _Player:
    id: str
    affiliate_id: str
    brand_id: str
    registered: Any  # registered_at as the driver gives it, or None
    country: str | None
    events: list[Event] = field(default_factory=list)  # this call's, in arrival order
    order: dict[str, Order] = field(default_factory=dict)  # event id → when it counts
    _registered_at: datetime | None = None  # ``registered`` read once

    def first(self) -> Order:
        """When the player's first event of this call counts."""
        return min(self.order.values())

    @property
    def registered_at(self) -> datetime | None:
        if self._registered_at is None and self.registered is not None:
            self._registered_at = moment(self.registered)
        return self._registered_at


@dataclass(frozen=True, slots=True)
class _Rule:
    """A player's CPA rule as of one history: the deal version at its start and its terms."""

    version: DealVersion
    terms: ParsedTerms
    cpa: CpaTerms


@dataclass(frozen=True, slots=True)
class _Decision:
    """A CPA outcome taken at ``order``: paid (``result.qualified``), rejected or on hold."""

    order: Order
    player: _Player
    status: str | None  # the conversion's status before this call
    rule: _Rule
    result: Qualification | None  # None: on hold (``hold`` says why)
    hold: str = ""


@dataclass
class _Batch:
    ctx: Context
    now: datetime
    drafts: list[EntryDraft] = field(default_factory=list)
    conversions: list[dict[str, Any]] = field(default_factory=list)
    held: list[dict[str, Any]] = field(default_factory=list)
    ranks: dict[tuple[str, str, str, datetime], int] = field(default_factory=dict)
    rank_periods: set[datetime] = field(default_factory=set)
    # paid in this call in periods not loaded: ranks that decided nothing (no tier, no cap)
    unloaded: dict[tuple[str, str, str, datetime], int] = field(default_factory=dict)
    rank_affiliates: set[str] = field(default_factory=set)
    orders: dict[str, Order] = field(default_factory=dict)  # every event of the call
    made: dict[str, Order] = field(default_factory=dict)  # entry key → when this call made it
    kinds: dict[str, frozenset[DealKind]] = field(default_factory=dict)  # affiliate's deal kinds
    steps: dict[tuple[str, str], Step] = field(default_factory=dict)  # (event, currency)


def evaluate_events(conn: sa.Connection, event_ids: Sequence[str], now: datetime) -> None:
    """Post the commission consequences of ``event_ids`` (idempotent, batch-loaded)."""
    if not event_ids:
        return
    players = _load_players(conn, event_ids)
    if not players:
        return
    batch = _Batch(Context(conn), now)
    affiliates = {p.affiliate_id for p in players}
    batch.ctx.load_affiliates(affiliates)
    batch.ctx.load_parents(affiliates)
    for player in players:
        batch.orders.update(player.order)
    existing = reads.conversion_statuses(
        conn, [p.id for p in players if _kinds(batch, p.affiliate_id) & CONVERSION_KINDS])
    batch.rank_affiliates = affiliates  # ranks load on first use, per period
    _evaluate_cpl(batch, players, existing)
    _evaluate_cpa(batch, players, existing)
    _evaluate_trades(batch, players)
    _write(batch)
    _evaluate_reversals(batch, players)
    _write(batch)


def _load_players(conn: sa.Connection, event_ids: Sequence[str]) -> list[_Player]:
    found: dict[str, _Player] = {}
    for event, row in reads.attributed_events(conn, event_ids):
        player = found.get(row.id)
        if player is None:
            player = found[row.id] = _Player(row.id, row.affiliate_id, row.brand_id,
                                             row.registered, row.country)
        player.events.append(event)
    for player in found.values():
        registered = next(((e.received, e.id) for e in player.events
                           if e.kind == "registration"), None)
        for event in player.events:
            own = (event.received, event.id)
            player.order[event.id] = (own if registered is None or own > registered
                                      else registered, own)
    return list(found.values())


def _kinds(batch: _Batch, affiliate_id: str) -> frozenset[DealKind]:
    """The kinds of deal the affiliate has ever been on (none: nothing to evaluate)."""
    kinds = batch.kinds.get(affiliate_id)
    if kinds is None:
        ctx = batch.ctx
        kinds = batch.kinds[affiliate_id] = frozenset(
            version.kind for assignment in ctx.assignments.get(affiliate_id, [])
            for version in ctx.versions.get(assignment.deal_id, [])[:1])
    return kinds


def _load_ranks(batch: _Batch, affiliate_ids: set[str], at: datetime) -> None:
    """Paid conversions so far per (kind, affiliate, deal) in the period of ``at``, with
    those this call counted before it needed them."""
    start = batch.ctx.period(at).start
    for (kind, affiliate_id, deal_id), count in reads.paid_conversions(
            batch.ctx.conn, affiliate_ids, start).items():
        batch.ranks[(kind, affiliate_id, deal_id, start)] = count
    for key in [key for key in batch.unloaded if key[3] == start]:
        batch.ranks[key] = batch.ranks.get(key, 0) + batch.unloaded.pop(key)
    batch.rank_periods.add(start)


def _rank(batch: _Batch, kind: str, affiliate_id: str, deal_id: str, at: datetime,
          ranked: bool = True) -> int:
    """1-based rank of the next paid conversion of ``kind`` in the period of ``at``.

    ``ranked=False``: the terms have no tier and no cap, so the rank decides nothing
    and is not read (0 is returned); the conversion is still counted for a later
    decision of the call that needs ranks (a version with tiers in force later on).
    The read counts an affiliate's paid conversions of the period: skipping it keeps
    flat deals from paying for a count that grows all month.
    """
    start = batch.ctx.period(at).start
    key = (kind, affiliate_id, deal_id, start)
    if start not in batch.rank_periods:
        if not ranked:
            batch.unloaded[key] = batch.unloaded.get(key, 0) + 1
            return 0
        _load_ranks(batch, batch.rank_affiliates, at)  # the call's affiliates in that period
    batch.ranks[key] = batch.ranks.get(key, 0) + 1
    return batch.ranks[key]


def _unrank(batch: _Batch, kind: str, affiliate_id: str, deal_id: str, at: datetime) -> None:
    """Take back the count ``_rank`` just made (the conversion was not paid)."""
    start = batch.ctx.period(at).start
    key = (kind, affiliate_id, deal_id, start)
    counts = batch.ranks if start in batch.rank_periods else batch.unloaded
    counts[key] -= 1


def _conversion(batch: _Batch, player: _Player, kind: str, status: str, reason: str,
                version_id: str | None, deal_id: str | None, at: datetime | None,
                event_id: str | None, was: str | None) -> None:
    row = {"id": new_id(), "player_id": player.id, "affiliate_id": player.affiliate_id,
           "deal_version_id": version_id, "kind": kind, "status": status,
           "reason": reason[:500], "event_id": event_id, "deal_id": deal_id,
           "period_start": batch.ctx.period(at).start if at else None,
           "qualified_at": at, "created_at": batch.now, "updated_at": batch.now}
    (batch.held if was == "on_hold" else batch.conversions).append(row)


# --- CPL ------------------------------------------------------------------------------


def _evaluate_cpl(batch: _Batch, players: list[_Player],
                  existing: dict[tuple[str, str], str]) -> None:
    """A registered player's lead is decided at its first arrival: ranks in that order."""
    leads: list[tuple[Order, _Player, datetime, DealVersion, CplTerms]] = []
    for player in players:
        if DealKind.CPL not in _kinds(batch, player.affiliate_id) \
                or (player.id, "cpl") in existing:
            continue
        registered_at = player.registered_at
        if registered_at is None:
            continue
        for _a, version, terms in batch.ctx.deals_at(player.affiliate_id, registered_at,
                                                     player.brand_id, (DealKind.CPL,)):
            if isinstance(terms, CplTerms):
                leads.append((player.first(), player, registered_at, version, terms))
                break
    leads.sort(key=lambda lead: lead[0])
    for order, player, registered_at, version, terms in leads:
        _pay_lead(batch, order, player, registered_at, version, terms)


def _pay_lead(batch: _Batch, order: Order, player: _Player, registered_at: datetime,
              version: DealVersion, terms: CplTerms) -> None:
    rank = _rank(batch, "cpl", player.affiliate_id, version.deal_id, registered_at,
                 ranked=terms.cap_per_period is not None)
    outcome = cpl_for_lead(terms, player.country, rank, version.currency)
    registration = next((e.id for e in player.events if e.kind == "registration"), None)
    if not outcome.paid:
        _unrank(batch, "cpl", player.affiliate_id, version.deal_id, registered_at)
    _conversion(batch, player, "cpl", "approved" if outcome.paid else "rejected",
                outcome.text, version.id, version.deal_id, registered_at, registration, None)
    if outcome.paid:
        key = f"cpl:{player.id}"
        batch.made[key] = order
        batch.drafts.append(EntryDraft(
            entry_key=key, kind=EntryKind.COMMISSION, affiliate_id=player.affiliate_id,
            amount=outcome.amount, currency=version.currency, deal_type="cpl",
            caused_at=registered_at,
            explanation=outcome.text + f" ({version.deal_name} v{version.version})",
            source_event_ids=(registration,) if registration else (),
            player_id=player.id, deal_version_id=version.id, conversion_kind="cpl"))


# --- CPA ------------------------------------------------------------------------------


def _evaluate_cpa(batch: _Batch, players: list[_Player],
                  existing: dict[tuple[str, str], str]) -> None:
    candidates: list[tuple[_Player, str | None]] = []
    kinds = set(BASE_STEP_KINDS)
    for player in players:
        status = existing.get((player.id, "cpa"))
        if status in FINAL_STATUSES or not _kinds(batch, player.affiliate_id) & CPA_KIND_SET:
            continue
        needs = _cpa_needs(batch.ctx, player)
        if needs is None:
            continue
        candidates.append((player, status))
        kinds |= needs
    if not candidates:
        return
    history = reads.history(batch.ctx.conn, [p.id for p, _ in candidates], sorted(kinds))
    decisions = [decision for player, status in candidates
                 if (decision := _decide(batch, player, history.get(player.id, []), status))]
    decisions.sort(key=lambda d: d.order)  # ranks in the order the decisions arrived
    for decision in decisions:
        _apply(batch, decision)


def _cpa_needs(ctx: Context, player: _Player) -> set[str] | None:
    """The event kinds the player's CPA rules read (beyond deposits), or None: no CPA deal."""
    needs: set[str] | None = None
    for assignment in ctx.assignments.get(player.affiliate_id, []):
        for version in ctx.versions.get(assignment.deal_id, []):
            if version.kind not in CPA_KINDS or version.brand_id != player.brand_id:
                continue
            parsed = cpa_terms(version.kind, deal_store.parsed_terms(version, assignment))
            if parsed is None:
                continue
            needs = needs or set()
            if parsed.qualification.min_lots > 0:
                needs.add("trade")
            if parsed.qualification.min_wagering > 0:
                needs.add("activity")
    return needs


def _decide(batch: _Batch, player: _Player, history: list[Event],
            status: str | None) -> _Decision | None:
    """The first arrival of this call after which the player's history decides the CPA.

    Events stored before this call were evaluated then (and decided nothing),
    so only the histories ending at each of this call's events are tried, in
    arrival order; a call with none of them tries the whole history once.
    """
    known = [h for h in history if h.id not in player.order]
    arrived = sorted((h for h in history if h.id in player.order),
                     key=lambda h: player.order[h.id])
    if not arrived:
        return _decide_on(batch, player, known, player.first(), status)
    for count, last in enumerate(arrived, start=1):
        decision = _decide_on(batch, player, known + arrived[:count], player.order[last.id],
                              status)
        if decision is not None:
            return decision
    return None


def _decide_on(batch: _Batch, player: _Player, history: list[Event], order: Order,
               status: str | None) -> _Decision | None:
    """The CPA outcome of one history, if it is decided (else None: wait for more)."""
    rule = _rule(batch.ctx, player, history)
    if rule is None:
        return None
    currency = rule.version.currency
    qualification = rule.cpa.qualification
    undone = {(h.integration_id, h.reverses_txn_id) for h in history if h.reverses_txn_id}
    steps = []
    try:
        for h in history:
            if h.kind in UNDO_KINDS or (h.kind == "trade" and qualification.min_lots <= 0) \
                    or (h.kind == "activity" and qualification.min_wagering <= 0):
                continue
            charged_back = (h.integration_id, h.txn_id) in undone
            if charged_back and h.kind not in DEPOSIT_KINDS:
                continue  # a reversed trade or activity row counts for nothing
            steps.append(_step(batch, h, currency, charged_back))
    except FxError as exc:
        return _Decision(order, player, status, rule, None, str(exc))
    facts = PlayerFacts(player.id, player.registered_at, player.country, steps)
    result = evaluate(qualification, facts, currency)
    if (result.qualified and result.at is not None) or result.final:
        return _Decision(order, player, status, rule, result)
    return None


def _rule(ctx: Context, player: _Player, history: list[Event]) -> _Rule | None:
    """The CPA deal in force when the player started: registration or first deposit."""
    times = [_at(h) for h in history if h.kind in DEPOSIT_KINDS]
    if player.registered_at is not None:
        times.append(player.registered_at)
    if not times:
        times = [_at(h) for h in history if h.kind not in UNDO_KINDS]
    if not times:
        return None
    for _a, version, terms in ctx.deals_at(player.affiliate_id, min(times), player.brand_id,
                                           CPA_KINDS):
        parsed = cpa_terms(version.kind, terms)
        if parsed is not None:
            return _Rule(version, terms, parsed)
    return None


def _step(batch: _Batch, row: Event, currency: str, charged_back: bool) -> Step:
    cached = batch.steps.get((row.id, currency))
    if cached is None:
        at = _at(row)
        amount = as_decimal(row.amount_minor, row.currency)
        wagered = as_decimal(row.bets_minor, row.currency)
        if row.currency and row.currency != currency and (amount or wagered):
            fx = batch.ctx.fx()
            amount = fx.convert(amount, row.currency, currency, at.date()).amount
            wagered = fx.convert(wagered, row.currency, currency, at.date()).amount
        lots = Decimal(row.lots_milli or 0) / LOTS_SCALE
        cached = batch.steps[(row.id, currency)] = Step(
            row.id, at, row.kind, amount if row.kind in DEPOSIT_KINDS else Decimal(0), lots,
            wagered)
    if charged_back:
        return Step(cached.event_id, cached.at, cached.kind, cached.amount, cached.lots,
                    cached.wagered, charged_back=True)
    return cached


def _apply(batch: _Batch, decision: _Decision) -> None:
    player, rule, result = decision.player, decision.rule, decision.result
    first = rule.version
    if result is None:
        _conversion(batch, player, "cpa", "on_hold", decision.hold, first.id, first.deal_id,
                    None, None, decision.status)
        return
    if not result.qualified or result.at is None:
        _conversion(batch, player, "cpa", "rejected", result.reason, first.id, first.deal_id,
                    None, None, decision.status)
        return
    version, parsed = _version_at(batch.ctx, player, result.at, rule)
    rank = _rank(batch, "cpa", player.affiliate_id, version.deal_id, result.at,
                 ranked=bool(parsed.tiers) or parsed.cap_per_period is not None)
    outcome = cpa_for_rank(parsed, rank, version.currency, result.reason)
    last_event = result.source_event_ids[-1] if result.source_event_ids else None
    if not outcome.paid:
        _unrank(batch, "cpa", player.affiliate_id, version.deal_id, result.at)
    _conversion(batch, player, "cpa", "approved" if outcome.paid else "rejected", outcome.text,
                version.id, version.deal_id, result.at, last_event, decision.status)
    if outcome.paid:
        key = f"cpa:{player.id}"
        batch.made[key] = decision.order
        batch.drafts.append(EntryDraft(
            entry_key=key, kind=EntryKind.COMMISSION,
            affiliate_id=player.affiliate_id, amount=outcome.amount, currency=version.currency,
            deal_type=version.kind.value, caused_at=result.at,
            explanation=f"{outcome.text} ({version.deal_name} v{version.version})",
            source_event_ids=result.source_event_ids, player_id=player.id,
            deal_version_id=version.id, conversion_kind="cpa"))


def _version_at(ctx: Context, player: _Player, at: datetime,
                rule: _Rule) -> tuple[DealVersion, CpaTerms]:
    """The same deal's version in force at the qualifying moment (its amount and tiers)."""
    for _a, version, terms in ctx.deals_at(player.affiliate_id, at, player.brand_id, CPA_KINDS):
        if version.deal_id == rule.version.deal_id:
            return version, cpa_terms(version.kind, terms) or rule.cpa
    return rule.version, rule.cpa


# --- IB rebates -----------------------------------------------------------------------


def _evaluate_trades(batch: _Batch, players: list[_Player]) -> None:
    trades = [(p, e) for p in players if DealKind.IB_REBATE in _kinds(batch, p.affiliate_id)
              for e in p.events if e.kind == "trade" and e.lots_milli]
    if not trades:
        return
    undone = reads.undoing(batch.ctx.conn, [e for _p, e in trades])
    for player, event in trades:
        order = player.order[event.id]
        if any(_before(batch, undo_id, order)
               for undo_id in undone.get((event.integration_id, event.txn_id), ())):
            continue  # reversed before it was paid: never paid
        at = _at(event)
        for _a, version, terms in batch.ctx.deals_at(player.affiliate_id, at, player.brand_id,
                                                     (DealKind.IB_REBATE,)):
            if isinstance(terms, IbTerms):
                _pay_trade(batch, player, event, (order, at), version, terms)
                break


def _pay_trade(batch: _Batch, player: _Player, event: Event, when: tuple[Order, datetime],
               version: DealVersion, terms: IbTerms) -> None:
    order, at = when
    spread = as_decimal(event.spread_minor, event.currency)
    if spread and event.currency and event.currency != version.currency:
        try:
            spread = batch.ctx.fx().convert(spread, event.currency, version.currency,
                                            at.date()).amount
        except FxError:
            spread = Decimal(0)
    trade = Trade(event.instrument or "", Decimal(event.lots_milli or 0) / LOTS_SCALE,
                  event.account_type, spread)
    rebate = rebate_for(terms, trade, version.currency)
    key = f"ib:{event.id}"
    batch.made[key] = order
    batch.drafts.append(EntryDraft(
        entry_key=key, kind=EntryKind.COMMISSION, affiliate_id=player.affiliate_id,
        amount=rebate.amount, currency=version.currency, deal_type="ib_rebate", caused_at=at,
        explanation=f"{rebate.text} ({version.deal_name} v{version.version})",
        source_event_ids=(event.id,), player_id=player.id, deal_version_id=version.id))


def _before(batch: _Batch, event_id: str, order: Order) -> bool:
    """Whether ``event_id`` arrived before ``order`` (an event of no earlier call: yes)."""
    other = batch.orders.get(event_id)
    return other is None or other < order


# --- chargebacks and reversals --------------------------------------------------------


def _evaluate_reversals(batch: _Batch, players: list[_Player]) -> None:
    undo = [(p, e) for p in players for e in p.events if e.kind in UNDO_KINDS]
    if not undo:
        return
    undo.sort(key=lambda pair: pair[0].order[pair[1].id])
    conn = batch.ctx.conn
    lines = ledger_store.lines_for_players(conn, {p.id for p, _ in undo})
    already = {line.entry_key for line in lines if line.kind == EntryKind.REVERSAL.value}
    targets = reads.named_events(conn, [e for _p, e in undo])
    for player, event in undo:
        order = player.order[event.id]
        target = targets.get((event.integration_id, event.reverses_txn_id or ""))
        if target is not None and not _before(batch, target, order):
            target = None  # what it names had not arrived when it came
        touched = [line for line in lines if line.player_id == player.id
                   and line.kind != EntryKind.REVERSAL.value
                   and not line.entry_key.startswith("sub:")
                   and (target in line.source_event_ids if target
                        else line.entry_key.startswith("cpa:"))
                   and _made_before(batch, line.entry_key, order)]
        if not touched:
            continue
        cause = f"{event.kind} {event.txn_id}"
        batch.drafts += reversals_for(batch.ctx, touched, cause, event.id,
                                      _at(event), already)
        for line in touched:
            if line.entry_key.startswith(("cpa:", "cpl:")):
                _mark_reversed(conn, player.id, line.entry_key.split(":")[0], cause, batch.now)


def _made_before(batch: _Batch, entry_key: str, order: Order) -> bool:
    made = batch.made.get(entry_key)
    return made is None or made < order


def _mark_reversed(conn: sa.Connection, player_id: str, kind: str, cause: str,
                   now: datetime) -> None:
    c = t.conversions
    conn.execute(c.update().where(c.c.player_id == player_id, c.c.kind == kind,
                                  c.c.status == "approved")
                 .values(status="reversed", reason=f"reversed: {cause}"[:500], updated_at=now))


# --- writing --------------------------------------------------------------------------


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
    evaluation_order.record_reject(conn, now, player_id=player_id, kind=kind, reason=reason)
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
