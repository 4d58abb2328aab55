"""``/api/v1/ledger`` (read, filtered; affiliates see only their own tree) and
``/api/v1/simulate`` (what an affiliate would have earned under another deal)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from clickledger.clock import utc
from clickledger.domain.money import from_minor
from clickledger.domain.roles import Role
from clickledger.http.api.deps import ConnDep, ReaderDep, RuntimeDep
from clickledger.http.api.errors import not_found
from clickledger.http.api.schemas.common import IdText
from clickledger.services import simulate as simulation
from clickledger.store import tables as t

router = APIRouter(prefix="/api/v1", tags=["ledger"])

MAX_LEDGER_PAGE = 500


def _entry(row: Any) -> dict[str, Any]:
    data = dict(row)
    data["amount"] = str(from_minor(row["amount_minor"], row["currency"]))
    return data


@router.get("/ledger")
def list_ledger(
    principal: ReaderDep, conn: ConnDep,
    affiliate_id: IdText | None = None, player_id: IdText | None = None,
    kind: Literal["commission", "reversal", "adjustment", "payout"] | None = None,
    deal_type: str | None = None, period_start: datetime | None = None,
    currency: str | None = None, after_key: str | None = None,
    limit: int = Query(default=100, ge=1, le=MAX_LEDGER_PAGE),
) -> dict[str, Any]:
    e = t.ledger_entries
    query = sa.select(e).order_by(e.c.entry_key).limit(limit)
    if affiliate_id is not None:
        if not principal.can_see_affiliate(affiliate_id):
            raise not_found("affiliate")
        query = query.where(e.c.affiliate_id == affiliate_id)
    elif principal.role is Role.AFFILIATE:
        query = query.where(e.c.affiliate_id.in_(sorted(principal.visible_affiliate_ids or ())))
    filters = {e.c.player_id: player_id, e.c.kind: kind, e.c.deal_type: deal_type,
               e.c.currency: currency.upper() if currency else None}
    for column, value in filters.items():
        if value is not None:
            query = query.where(column == value)
    if period_start is not None:
        query = query.where(e.c.period_start == utc(period_start))
    if after_key is not None:
        query = query.where(e.c.entry_key > after_key)
    items = [_entry(r) for r in conn.execute(query).mappings()]
    return {"items": items, "next_after_key": items[-1]["entry_key"] if len(items) == limit
            else None}


@router.get("/ledger/{entry_id}")
def get_entry(principal: ReaderDep, entry_id: IdText, conn: ConnDep) -> dict[str, Any]:
    e = t.ledger_entries
    try:
        row = conn.execute(sa.select(e).where(e.c.id == entry_id)).mappings().first()
    except sa.exc.StatementError:
        row = None
    if row is None or not principal.can_see_affiliate(row["affiliate_id"]):
        raise not_found("ledger entry")
    return _entry(row)


class SimulateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    affiliate_id: IdText
    period_start: datetime
    kind: Literal["cpa", "cpl", "revshare", "hybrid", "ib_rebate"]
    terms: dict[str, Any]
    currency: str = Field(min_length=3, max_length=4)
    brand_id: IdText


@router.post("/simulate")
def simulate(principal: ReaderDep, body: SimulateRequest, conn: ConnDep,
             runtime: RuntimeDep) -> dict[str, Any]:
    if not principal.can_see_affiliate(body.affiliate_id):
        raise not_found("affiliate")
    result = simulation.simulate(conn, now=runtime.clock.now(), **body.model_dump())
    return asdict(result)
