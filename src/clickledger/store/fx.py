"""FX rates: import with their source (idempotent) and load into the domain's rate table."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa

from clickledger.domain.fx import FxRate, FxTable
from clickledger.ids import new_id
from clickledger.store import tables as t
from clickledger.store.ledger import insert_ignoring


@dataclass(frozen=True, slots=True)
class ImportSummary:
    received: int
    inserted: int
    unchanged: int
    conflicting: list[str]  # same day/pair/source already stored with another rate


def load_table(conn: sa.Connection, currencies: Iterable[str] | None = None) -> FxTable:
    """Rates touching ``currencies`` (all when None) as a deterministic ``FxTable``."""
    r = t.fx_rates
    query = sa.select(r.c.day, r.c.base, r.c.quote, r.c.rate, r.c.source)
    if currencies is not None:
        codes = sorted(set(currencies))
        query = query.where(r.c.base.in_(codes) | r.c.quote.in_(codes))
    return FxTable([FxRate(row.day, row.base, row.quote, Decimal(row.rate), row.source)
                    for row in conn.execute(query)])


def import_rates(conn: sa.Connection, rates: list[FxRate], now: datetime) -> ImportSummary:
    """Store ``rates``; a rate already stored is kept (rates never change once imported)."""
    r = t.fx_rates
    keys = {(x.day, x.base, x.quote, x.source): x for x in rates}
    existing: dict[tuple[date, str, str, str], str] = {}
    days = sorted({k[0] for k in keys})
    if days:
        for row in conn.execute(sa.select(r.c.day, r.c.base, r.c.quote, r.c.source, r.c.rate)
                                .where(r.c.day.in_(days))):
            existing[(row.day, row.base, row.quote, row.source)] = row.rate
    conflicting = [f"{k[0]} {k[1]}/{k[2]} {k[3]}: stored {existing[k]}, given {v.rate}"
                   for k, v in keys.items() if k in existing and Decimal(existing[k]) != v.rate]
    fresh = [{"id": new_id(), "day": v.day, "base": v.base, "quote": v.quote,
              "rate": str(v.rate), "source": v.source, "created_at": now}
             for k, v in keys.items() if k not in existing]
    insert_ignoring(conn, r, fresh, ["day", "base", "quote", "source"])
    return ImportSummary(len(rates), len(fresh), len(keys) - len(fresh) - len(conflicting),
                         conflicting)
