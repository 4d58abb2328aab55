"""``simulate``: what an affiliate would have earned over a past period under another deal.

The affiliate's players and their events of the period are replayed in a
scratch database where the affiliate holds only the hypothetical deal; the
period is then closed (RevShare).  The live ledger is never touched.
Sub-affiliate shares are out of scope: the simulation is about the
affiliate's own deal.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from clickledger.domain.deals.registry import parse_terms
from clickledger.domain.money import format_money, from_minor, normalize_currency
from clickledger.domain.periods import period_of
from clickledger.domain.terms import TermsError
from clickledger.ids import new_id
from clickledger.services import period_close, replay
from clickledger.services.errors import invalid, missing
from clickledger.services.posting import period_length
from clickledger.store import tables as t

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class SimulatedLine:
    entry_key: str
    kind: str
    amount: str
    currency: str
    explanation: str


@dataclass
class Simulation:
    affiliate_id: str
    period_start: datetime
    period_end: datetime
    deal: dict[str, Any]
    lines: list[SimulatedLine] = field(default_factory=list)
    simulated_totals: dict[str, str] = field(default_factory=dict)
    actual_totals: dict[str, str] = field(default_factory=dict)


def simulate(conn: sa.Connection, *, affiliate_id: str, period_start: datetime, kind: str,
             terms: dict[str, Any], currency: str, brand_id: str, now: datetime) -> Simulation:
    """Replay the affiliate's period under ``kind``/``terms`` and total it beside reality."""
    try:
        parse_terms(kind, terms)
        currency = normalize_currency(currency)
    except (TermsError, ValueError) as exc:
        raise invalid("invalid_terms", str(exc)) from exc
    period = period_of(period_start, period_length())
    if now < period.end:
        raise invalid("period_not_over", "simulate a period that has ended")
    if conn.execute(sa.select(t.affiliates.c.id).where(t.affiliates.c.id == affiliate_id)
                    ).first() is None:
        raise missing("affiliate")
    deal = {"kind": kind, "terms": terms, "currency": currency, "brand_id": brand_id}
    result = Simulation(affiliate_id, period.start, period.end, deal)
    scratch = replay.scratch_engine()
    try:
        with scratch.begin() as target:
            _seed(conn, target, affiliate_id, deal, now)
            e, p = t.player_events, t.players
            mine = sa.and_(e.c.occurred_at >= period.start, e.c.occurred_at < period.end,
                           e.c.player_id.in_(sa.select(p.c.id)
                                             .where(p.c.affiliate_id == affiliate_id)))
            replay.run(target, replay.merged(replay.arrivals(conn, mine)))
            period_close.close(target, period.start, max(now, period.end))
            _collect(target, result)
    finally:
        scratch.dispose()
    result.actual_totals = _actual(conn, affiliate_id, period.start)
    return result


def _seed(conn: sa.Connection, target: sa.Connection, affiliate_id: str, deal: dict[str, Any],
          now: datetime) -> None:
    replay.copy_rows(conn, target, t.brands)
    replay.copy_rows(conn, target, t.fx_rates)
    replay.copy_rows(conn, target, t.affiliates, t.affiliates.c.id == affiliate_id,
                     {"parent_id": None})
    replay.copy_rows(conn, target, t.players, t.players.c.affiliate_id == affiliate_id)
    deal_id, version_id = new_id(), new_id()
    target.execute(t.deals.insert().values(
        id=deal_id, name="simulated deal", brand_id=deal["brand_id"], kind=deal["kind"],
        currency=deal["currency"], created_at=now, updated_at=now))
    target.execute(t.deal_versions.insert().values(
        id=version_id, deal_id=deal_id, version=1, effective_from=EPOCH, terms=deal["terms"],
        created_at=now))
    target.execute(t.deal_assignments.insert().values(
        id=new_id(), affiliate_id=affiliate_id, deal_id=deal_id, effective_from=EPOCH,
        created_at=now))


def _collect(target: sa.Connection, result: Simulation) -> None:
    e = t.ledger_entries
    totals: dict[str, int] = defaultdict(int)
    for row in target.execute(sa.select(e).where(e.c.affiliate_id == result.affiliate_id)
                              .order_by(e.c.entry_key)):
        totals[row.currency] += row.amount_minor
        result.lines.append(SimulatedLine(row.entry_key, row.kind,
                                          str(from_minor(row.amount_minor, row.currency)),
                                          row.currency, row.explanation))
    result.simulated_totals = {c: format_money(from_minor(v, c), c) for c, v in totals.items()}


def _actual(conn: sa.Connection, affiliate_id: str, start: datetime) -> dict[str, str]:
    e = t.ledger_entries
    rows = conn.execute(sa.select(e.c.currency, sa.func.sum(e.c.amount_minor))
                        .where(e.c.affiliate_id == affiliate_id, e.c.period_start == start,
                               e.c.kind != "payout")
                        .group_by(e.c.currency))
    return {r[0]: format_money(from_minor(int(r[1]), r[0]), r[0]) for r in rows}
