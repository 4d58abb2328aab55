"""Closing a period: RevShare (and hybrid RevShare) per affiliate and deal, with carryover.

Activity counted by a close: rows that occurred before the period's end and
were received by the close, minus those an earlier close already counted
(occurred before its end and received by its close).  Late rows for a closed
period thus land in the next close, as adjustments of the open period.  A
closed period never changes: closing it again returns the stored result.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from clickledger.clock import utc
from clickledger.domain.deals.base import Assignment, DealKind, DealVersion
from clickledger.domain.deals.registry import revshare_terms
from clickledger.domain.deals.revshare import (
    NgrFormula,
    NgrParts,
    Segment,
    close_period,
    ngr_of,
)
from clickledger.domain.fx import FxError
from clickledger.domain.ledger import EntryDraft, EntryKind
from clickledger.domain.money import from_minor
from clickledger.domain.periods import Period, period_of
from clickledger.ids import new_id
from clickledger.services import evaluation_order
from clickledger.services.errors import ServiceError, invalid
from clickledger.services.posting import Context, ensure_periods, post
from clickledger.store import ledger as ledger_store
from clickledger.store import tables as t
from clickledger.store.deals import brand_formulas, parsed_terms

REVSHARE_KINDS = (DealKind.REVSHARE, DealKind.HYBRID)
ZERO = Decimal(0)


@dataclass
class CloseSummary:
    period_start: datetime
    period_end: datetime
    already_closed: bool
    activity_rows: int = 0
    lines: int = 0
    totals_minor: dict[str, int] = field(default_factory=dict)


@dataclass
class _Bucket:
    """Activity of one affiliate under one deal version, in the deal currency."""

    assignment: Assignment
    version: DealVersion
    parts: NgrParts = field(default_factory=NgrParts)  # rows converted from other currencies
    same_minor: list[int] = field(default_factory=lambda: [0, 0, 0, 0])  # deal currency
    rows: int = 0
    late_rows: int = 0
    ids: list[str] = field(default_factory=list)


def close(conn: sa.Connection, period_start: datetime, now: datetime) -> CloseSummary:
    """Close the period starting at ``period_start`` (idempotent once closed)."""
    evaluation_order.record_close(conn, now, period_start)  # first: no evaluation meanwhile
    ctx = Context(conn)
    period = period_of(utc(period_start), ctx.length)
    stored = conn.execute(sa.select(t.periods).where(t.periods.c.starts_at == period.start)).first()
    if stored is not None and stored.status == "closed":
        return CloseSummary(period.start, period.end, already_closed=True)
    if now < period.end:
        raise invalid("period_not_over", f"period {period.label} ends at {period.end.isoformat()}")
    _check_order(conn, period)
    previous = _previous_close(conn, period)
    buckets, activity_rows = _buckets(ctx, period, previous, now)
    drafts, balances = _revshare(ctx, period, buckets, now)
    ensure_periods(ctx, [period.start])
    post(ctx, drafts, now)
    ledger_store.insert_ignoring(conn, t.revshare_balances, balances,
                                 ["affiliate_id", "deal_id", "period_start"])
    conn.execute(t.periods.update().where(t.periods.c.starts_at == period.start)
                 .values(status="closed", closed_at=now))
    totals: dict[str, int] = defaultdict(int)
    for draft in drafts:
        totals[draft.currency] += draft.amount_minor
    return CloseSummary(period.start, period.end, False, activity_rows, len(drafts), dict(totals))


def _check_order(conn: sa.Connection, period: Period) -> None:
    p = t.periods
    earlier_open = conn.execute(sa.select(p.c.starts_at).where(
        p.c.starts_at < period.start, p.c.status != "closed").order_by(p.c.starts_at)).first()
    if earlier_open is not None:
        raise ServiceError("conflict", "earlier_period_open",
                           f"close the period starting {utc(earlier_open[0]).date()} first")


def _previous_close(conn: sa.Connection, period: Period) -> tuple[datetime, datetime] | None:
    p = t.periods
    row = conn.execute(sa.select(p.c.ends_at, p.c.closed_at).where(
        p.c.status == "closed", p.c.starts_at < period.start)
        .order_by(p.c.starts_at.desc()).limit(1)).first()
    return (utc(row.ends_at), utc(row.closed_at)) if row is not None else None


def activity_query(period: Period, previous: tuple[datetime, datetime] | None,
                   now: datetime) -> sa.Select[Any]:
    """Activity rows a close counts, summed per affiliate, brand, currency and moment."""
    e, p = t.player_events, t.players
    ids = (sa.func.string_agg(sa.cast(e.c.id, sa.String), sa.literal_column("','"))
           .label("ids"))
    query = (
        sa.select(p.c.affiliate_id, e.c.brand_id, e.c.currency, e.c.occurred_at,
                  sa.func.coalesce(sa.func.sum(e.c.bets_minor), 0).label("bets"),
                  sa.func.coalesce(sa.func.sum(e.c.wins_minor), 0).label("wins"),
                  sa.func.coalesce(sa.func.sum(e.c.bonus_minor), 0).label("bonus"),
                  sa.func.coalesce(sa.func.sum(e.c.chargebacks_minor), 0).label("chargebacks"),
                  sa.func.count().label("rows"), ids)
        .join(p, p.c.id == e.c.player_id)
        .where(e.c.kind == "activity", p.c.affiliate_id.is_not(None),
               e.c.occurred_at < period.end, e.c.received_at <= now)
        .group_by(p.c.affiliate_id, e.c.brand_id, e.c.currency, e.c.occurred_at)
    )
    if previous is not None:
        prev_end, prev_closed = previous
        query = query.where(sa.not_(sa.and_(e.c.occurred_at < prev_end,
                                            e.c.received_at <= prev_closed)))
    return query


def _buckets(ctx: Context, period: Period, previous: tuple[datetime, datetime] | None,
             now: datetime) -> tuple[dict[tuple[str, str, str], _Bucket], int]:
    query = activity_query(period, previous, now)
    if ctx.conn.dialect.name == "sqlite":
        query = _sqlite_group_concat(query)
    rows = ctx.conn.execute(query).all()
    ctx.load_affiliates({r.affiliate_id for r in rows})
    ctx.load_parents({r.affiliate_id for r in rows})
    seen: dict[tuple[str, str, datetime], Any] = {}
    buckets: dict[tuple[str, str, str], _Bucket] = {}
    total_rows = 0
    for row in rows:
        moment = utc(row.occurred_at)
        cache_key = (row.affiliate_id, row.brand_id, moment)
        if cache_key not in seen:
            seen[cache_key] = ctx.deals_at(row.affiliate_id, moment, row.brand_id,
                                           REVSHARE_KINDS)
        deals = seen[cache_key]
        if not deals:
            continue
        assignment, version, _terms = deals[0]
        key = (row.affiliate_id, version.deal_id, version.id)
        bucket = buckets.get(key)
        if bucket is None:
            bucket = buckets[key] = _Bucket(assignment, version)
        if (row.currency or version.currency) == version.currency:
            sums = bucket.same_minor
            sums[0] += int(row.bets)
            sums[1] += int(row.wins)
            sums[2] += int(row.bonus)
            sums[3] += int(row.chargebacks)
        else:
            bucket.parts += _parts(ctx, row, version.currency, moment)
        bucket.rows += row.rows
        total_rows += row.rows
        if moment < period.start:
            bucket.late_rows += row.rows
        bucket.ids += str(row.ids).split(",")
    for bucket in buckets.values():
        code = bucket.version.currency
        bucket.parts += NgrParts(*(from_minor(v, code) for v in bucket.same_minor))
    return buckets, total_rows


def _sqlite_group_concat(query: sa.Select[Any]) -> sa.Select[Any]:
    """SQLite stores a UUID as 32 hex digits: the ids are given their dashes (as PostgreSQL's
    ``uuid::text`` has them) in SQL, where it costs next to nothing."""
    e = t.player_events
    raw = sa.cast(e.c.id, sa.String)
    dashed = sa.case((sa.func.length(raw) == 32, sa.func.substr(raw, 1, 8) + "-"
                      + sa.func.substr(raw, 9, 4) + "-" + sa.func.substr(raw, 13, 4) + "-"
                      + sa.func.substr(raw, 17, 4) + "-" + sa.func.substr(raw, 21, 12)),
                     else_=raw)
    columns = [c for c in query.selected_columns if c.name != "ids"]
    return query.with_only_columns(*columns, sa.func.group_concat(dashed, ",").label("ids"))


def _parts(ctx: Context, row: Any, currency: str, moment: datetime) -> NgrParts:
    code = row.currency or currency
    values = [from_minor(int(v), code) for v in (row.bets, row.wins, row.bonus, row.chargebacks)]
    if code != currency:
        try:
            rate = ctx.fx().rate(code, currency, moment.date())[0]
        except FxError as exc:
            raise invalid("fx_rate_missing", f"cannot close: {exc}") from exc
        values = [v * rate for v in values]
    return NgrParts(*values)


def _revshare(ctx: Context, period: Period, buckets: dict[tuple[str, str, str], _Bucket],
              now: datetime) -> tuple[list[EntryDraft], list[dict[str, Any]]]:
    by_deal: dict[tuple[str, str], list[_Bucket]] = defaultdict(list)
    for (affiliate_id, deal_id, _v), bucket in buckets.items():
        by_deal[(affiliate_id, deal_id)].append(bucket)
    carried = _carry_in(ctx.conn, period)
    for key in carried:
        by_deal.setdefault(key, [])
    formulas = _formulas(ctx.conn, ctx)
    players = _qualified_players(ctx.conn, period)
    drafts: list[EntryDraft] = []
    balances: list[dict[str, Any]] = []
    for (affiliate_id, deal_id), group in sorted(by_deal.items()):
        carry_in, carry_currency = carried.get((affiliate_id, deal_id), (ZERO, "EUR"))
        group.sort(key=lambda b: (b.version.effective_from, b.version.version))
        if not group:
            balances.append(_balance(affiliate_id, deal_id, period, carry_currency, ZERO,
                                     carry_in, carry_in, now))
            continue
        drafts += _deal_lines(period, group, carry_in, formulas,
                              players.get((affiliate_id, group[-1].version.brand_id), 0),
                              balances, now)
    return drafts, balances


def _deal_lines(period: Period, group: list[_Bucket], carry_in: Decimal,
                formulas: dict[str, NgrFormula], players: int, balances: list[dict[str, Any]],
                now: datetime) -> list[EntryDraft]:
    last = group[-1].version
    affiliate_id = group[0].assignment.affiliate_id
    segments = []
    for bucket in group:
        terms = revshare_terms(_parsed(bucket))
        if terms is None:
            continue
        formula = formulas.get(bucket.version.brand_id, NgrFormula())
        late = f", incl. {bucket.late_rows} late rows" if bucket.late_rows else ""
        segments.append(Segment(bucket.version.id, terms, ngr_of(bucket.parts, formula),
                                bucket.rows,
                                f"{bucket.version.deal_name} v{bucket.version.version}{late}"))
    name = "Hybrid RevShare" if last.kind is DealKind.HYBRID else "RevShare"
    result = close_period(segments, carry_in, players, last.currency, period.label, name)
    ngr_total = sum((s.ngr.value for s in segments), ZERO)
    balances.append(_balance(affiliate_id, last.deal_id, period, last.currency, ngr_total,
                             carry_in, result.carry_out, now))
    ids_by_version = {b.version.id: tuple(b.ids) for b in group}
    drafts = []
    for line in result.lines:
        version_id = line.key if line.key in ids_by_version else last.id
        drafts.append(EntryDraft(
            entry_key=f"rs:{affiliate_id}:{last.deal_id}:{period.label}:{line.key}",
            kind=EntryKind.COMMISSION, affiliate_id=affiliate_id, amount=line.amount,
            currency=last.currency, deal_type=last.kind.value, caused_at=period.start,
            explanation=line.text, source_event_ids=ids_by_version.get(line.key, ()),
            deal_version_id=version_id))
    return drafts


def _parsed(bucket: _Bucket) -> Any:
    return parsed_terms(bucket.version, bucket.assignment)


def _balance(affiliate_id: str, deal_id: str, period: Period, currency: str, ngr: Decimal,
             carry_in: Decimal, carry_out: Decimal, now: datetime) -> dict[str, Any]:
    return {"id": new_id(), "affiliate_id": affiliate_id, "deal_id": deal_id,
            "period_start": period.start, "currency": currency, "ngr": str(ngr),
            "carry_in": str(carry_in), "carry_out": str(carry_out), "created_at": now}


def _carry_in(conn: sa.Connection, period: Period) -> dict[tuple[str, str], tuple[Decimal, str]]:
    """Negative NGR still to recover per (affiliate, deal): the latest earlier balance."""
    b = t.revshare_balances
    latest = (sa.select(b.c.affiliate_id, b.c.deal_id,
                        sa.func.max(b.c.period_start).label("start"))
              .where(b.c.period_start < period.start)
              .group_by(b.c.affiliate_id, b.c.deal_id).subquery())
    rows = conn.execute(sa.select(b.c.affiliate_id, b.c.deal_id, b.c.carry_out, b.c.currency)
                        .join(latest, sa.and_(b.c.affiliate_id == latest.c.affiliate_id,
                                              b.c.deal_id == latest.c.deal_id,
                                              b.c.period_start == latest.c.start)))
    return {(r.affiliate_id, r.deal_id): (Decimal(r.carry_out), r.currency)
            for r in rows if Decimal(r.carry_out) < 0}


def _formulas(conn: sa.Connection, ctx: Context) -> dict[str, NgrFormula]:
    brand_ids = {v.brand_id for versions in ctx.versions.values() for v in versions}
    return {bid: NgrFormula(bool(row.ngr_deduct_bonuses), bool(row.ngr_deduct_chargebacks),
                            Decimal(row.ngr_admin_fee_pct or "0"))
            for bid, row in brand_formulas(conn, brand_ids).items()}


def _qualified_players(conn: sa.Connection, period: Period) -> dict[tuple[str, str], int]:
    """Players with their FTD in the period, per (affiliate, brand): the tier measure."""
    p = t.players
    rows = conn.execute(sa.select(p.c.affiliate_id, p.c.brand_id, sa.func.count())
                        .where(p.c.affiliate_id.is_not(None), p.c.ftd_at >= period.start,
                               p.c.ftd_at < period.end)
                        .group_by(p.c.affiliate_id, p.c.brand_id))
    return {(r[0], r[1]): int(r[2]) for r in rows}
