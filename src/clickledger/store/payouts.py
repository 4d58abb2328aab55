"""Rows behind payout runs: balances from the ledger, payees, deduction rules, rates.

Plain SQL with explicit bounds; the rules live in ``domain.payouts`` and
``services.payouts``.  Ledger entries are written with ``insert … on conflict
do nothing`` on their unique ``entry_key``, so posting twice posts once.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from clickledger.domain.fx import FxRate, FxTable
from clickledger.domain.payouts import DeductionKind, DeductionRule, Payee
from clickledger.store import tables as t
from clickledger.store.ledger import insert_ignoring
from clickledger.store.programme import insert_unique

APPROVED = "approved"
PAYOUT_KIND = "payout"
MAX_RUN_ITEMS = 100_000  # affiliates × currencies in one run


def approved_balances(
    conn: sa.Connection, period_end: datetime | None = None
) -> dict[tuple[str, str], int]:
    """Approved balance per (affiliate, currency).

    With ``period_end``: commission, reversals and adjustments booked before it,
    minus every payout ever posted (so an earlier-period run made later never
    pays twice what a later run already paid).
    """
    e = t.ledger_entries
    query = sa.select(e.c.affiliate_id, e.c.currency, sa.func.sum(e.c.amount_minor)).where(
        e.c.status == APPROVED
    )
    if period_end is not None:
        query = query.where(sa.or_(e.c.kind == PAYOUT_KIND, e.c.period_start < period_end))
    query = query.group_by(e.c.affiliate_id, e.c.currency).limit(MAX_RUN_ITEMS + 1)
    rows = conn.execute(query).all()
    if len(rows) > MAX_RUN_ITEMS:
        raise OverflowError(f"more than {MAX_RUN_ITEMS} balances in one run")
    return {(str(row[0]), str(row[1])): int(row[2] or 0) for row in rows}


def payees(
    conn: sa.Connection, affiliate_ids: Collection[str]
) -> tuple[dict[str, Payee], dict[str, dict[str, Any]]]:
    """Threshold, payout currency and confirmed method of each affiliate, and its details."""
    a = t.affiliates
    found: dict[str, Payee] = {}
    details: dict[str, dict[str, Any]] = {}
    ids = sorted(affiliate_ids)
    for start in range(0, len(ids), 500):
        query = sa.select(a.c.id, a.c.payout_currency, a.c.payout_threshold_minor,
                          a.c.payment_method, a.c.payment_details).where(
            a.c.id.in_(ids[start:start + 500])
        )
        for row in conn.execute(query):
            found[str(row.id)] = Payee(
                affiliate_id=str(row.id), payout_currency=row.payout_currency,
                threshold_minor=int(row.payout_threshold_minor),
                method=row.payment_method, has_confirmed_details=bool(row.payment_details),
            )
            if row.payment_details:
                details[str(row.id)] = dict(row.payment_details)
    return found, details


def active_deduction_rules(conn: sa.Connection) -> list[DeductionRule]:
    d = t.payout_deductions
    rows = conn.execute(sa.select(d).where(d.c.active.is_(True)).order_by(d.c.id).limit(1000))
    return [
        DeductionRule(
            name=row.name, kind=DeductionKind(row.kind), percent=Decimal(row.percent),
            fixed_minor=int(row.fixed_minor), currency=row.currency, method=row.method,
            affiliate_id=str(row.affiliate_id) if row.affiliate_id else None,
        )
        for row in rows
    ]


def fx_table(conn: sa.Connection, currencies: Collection[str], day: date) -> FxTable:
    """Every recorded rate among ``currencies`` on or before ``day``."""
    f = t.fx_rates
    wanted = sorted(currencies)
    query = sa.select(f).where(f.c.base.in_(wanted), f.c.quote.in_(wanted), f.c.day <= day)
    rates = [
        FxRate(day=row.day, base=row.base, quote=row.quote, rate=Decimal(row.rate),
               source=row.source)
        for row in conn.execute(query.order_by(f.c.day.desc()).limit(10_000))
    ]
    return FxTable(rates)


def record_fx_rate(
    conn: sa.Connection, *, day: date, base: str, quote: str, rate: Decimal, source: str,
    now: datetime, row_id: str,
) -> bool:
    """Record a rate (first one per day, pair and source wins)."""
    return insert_unique(conn, t.fx_rates, {
        "id": row_id, "day": day, "base": base, "quote": quote, "rate": str(rate),
        "source": source[:100], "created_at": now,
    })


def post_ledger_entry(conn: sa.Connection, values: Mapping[str, Any]) -> None:
    """Insert one ledger entry unless its ``entry_key`` is already posted (the ledger's writer)."""
    insert_ignoring(conn, t.ledger_entries, [dict(values)], ["entry_key"])


def ledger_entry_by_key(conn: sa.Connection, entry_key: str) -> dict[str, Any] | None:
    e = t.ledger_entries
    row = conn.execute(sa.select(e).where(e.c.entry_key == entry_key)).mappings().first()
    return dict(row) if row is not None else None


def run_items(conn: sa.Connection, run_id: str) -> list[dict[str, Any]]:
    p = t.payouts
    query = sa.select(p).where(p.c.run_id == run_id).order_by(p.c.affiliate_id, p.c.currency)
    return [dict(row) for row in conn.execute(query.limit(MAX_RUN_ITEMS)).mappings()]
