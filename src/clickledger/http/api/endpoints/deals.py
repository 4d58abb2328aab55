"""``/api/v1/deals`` and ``/api/v1/fx-rates``: managers write deals, finance reads them.

Create a deal with its first version, add versions with ``effective_from``,
assign the deal to affiliates with per-affiliate overrides; load FX rates
with their source.  Every write is audited by the service.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from clickledger.http.api.deps import ConnDep, ManagerDep, RuntimeDep, StaffDep
from clickledger.http.api.schemas.common import IdText
from clickledger.services import deals
from clickledger.services.programme import actor_label

router = APIRouter(prefix="/api/v1", tags=["deals"])

DealKindText = Literal["cpa", "cpl", "revshare", "hybrid", "ib_rebate", "sub_affiliate"]
MAX_FX_ROWS = 10_000


class DealCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    brand_id: IdText
    kind: DealKindText
    currency: str = Field(min_length=3, max_length=4)
    terms: dict[str, Any]
    effective_from: datetime | None = None


class VersionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    terms: dict[str, Any]
    effective_from: datetime | None = None


class AssignmentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    affiliate_id: IdText
    overrides: dict[str, Any] | None = None
    effective_from: datetime | None = None


class FxRow(BaseModel):
    model_config = ConfigDict(extra="forbid")
    day: date
    base: str = Field(min_length=3, max_length=4)
    quote: str = Field(min_length=3, max_length=4)
    rate: str = Field(min_length=1, max_length=40)


class FxImport(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source: str = Field(min_length=1, max_length=100)
    rates: list[FxRow] = Field(min_length=1, max_length=MAX_FX_ROWS)


@router.post("/deals", status_code=201)
def create_deal(principal: ManagerDep, body: DealCreate, conn: ConnDep,
                runtime: RuntimeDep) -> dict[str, Any]:
    return deals.create_deal(conn, **body.model_dump(), actor=actor_label(principal),
                             now=runtime.clock.now())


@router.get("/deals")
def list_deals(principal: StaffDep, conn: ConnDep, brand_id: IdText | None = None,
               limit: int = Query(default=100, ge=1, le=500)) -> dict[str, Any]:
    del principal
    return {"items": deals.list_deals(conn, brand_id, limit)}


@router.get("/deals/{deal_id}")
def get_deal(principal: StaffDep, deal_id: IdText, conn: ConnDep) -> dict[str, Any]:
    del principal
    deal = deals.deal_row(conn, deal_id)
    return {**deal, "assignments": deals.assignments_of(conn, deal_id)}


@router.post("/deals/{deal_id}/versions", status_code=201)
def add_version(principal: ManagerDep, deal_id: IdText, body: VersionCreate, conn: ConnDep,
                runtime: RuntimeDep) -> dict[str, Any]:
    return deals.add_version(conn, deal_id=deal_id, terms=body.terms,
                             effective_from=body.effective_from, actor=actor_label(principal),
                             now=runtime.clock.now())


@router.post("/deals/{deal_id}/assignments", status_code=201)
def assign_deal(principal: ManagerDep, deal_id: IdText, body: AssignmentCreate, conn: ConnDep,
                runtime: RuntimeDep) -> dict[str, Any]:
    return deals.assign(conn, deal_id=deal_id, affiliate_id=body.affiliate_id,
                        overrides=body.overrides, effective_from=body.effective_from,
                        actor=actor_label(principal), now=runtime.clock.now())


@router.post("/fx-rates", status_code=201)
def import_fx(principal: StaffDep, body: FxImport, conn: ConnDep,
              runtime: RuntimeDep) -> dict[str, Any]:
    rows = [r.model_dump() for r in body.rates]
    return deals.import_fx(conn, rows, body.source, actor_label(principal), runtime.clock.now())
