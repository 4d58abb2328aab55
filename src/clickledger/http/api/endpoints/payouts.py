"""``/api/v1/payout-runs`` and ``/api/v1/payout-deductions``: finance moves the money.

Finance creates a run, another finance user approves it (four eyes, 409
``four_eyes``), then each payout is marked paid (with the bank's reference)
or failed.  Managers may read runs; affiliates see none of this (404).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import AfterValidator, BaseModel, Field, StringConstraints
from pydantic_core import PydanticCustomError

from clickledger.domain.roles import Principal, Role
from clickledger.http.api.deps import ConnDep, RuntimeDep, StaffDep, require
from clickledger.http.api.paging import PageDep
from clickledger.http.api.schemas.common import Currency, IdText, Name, StrictInput, UtcTime
from clickledger.services import payment_files, payout_deductions, payouts
from clickledger.services.programme import actor_label

FinanceDep = Annotated[Principal, Depends(require(Role.FINANCE))]
MAX_RATES = 100


def _rate(value: str) -> str:
    try:
        number = Decimal(value)
    except InvalidOperation as exc:
        raise PydanticCustomError("invalid_fx_rate", "not a decimal number") from exc
    if not number.is_finite() or number <= 0:
        raise PydanticCustomError("invalid_fx_rate", "a rate is a positive number")
    return value


RateText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=40),
                     AfterValidator(_rate)]


class FxRateIn(StrictInput):
    base: Currency
    quote: Currency
    rate: RateText


class RunCreate(StrictInput):
    period_start: UtcTime
    period_end: UtcTime
    fx_rates: list[FxRateIn] = Field(default_factory=list, max_length=MAX_RATES)


class PaidIn(StrictInput):
    reference: Annotated[str, StringConstraints(min_length=1, max_length=200)]


class FailedIn(StrictInput):
    reason: Annotated[str, StringConstraints(min_length=1, max_length=500)]


class DeductionIn(StrictInput):
    name: Name
    kind: Literal["fee", "withholding"]
    percent: Annotated[str, StringConstraints(max_length=20)] = "0"
    fixed_minor: int = 0
    currency: Currency | None = None
    method: Literal["bank", "ewallet", "crypto"] | None = None
    affiliate_id: IdText | None = None


class PayoutItemOut(BaseModel):
    id: str
    run_id: str
    affiliate_id: str
    status: str
    amount_minor: int
    currency: str
    payout_amount_minor: int
    payout_currency: str
    fx_rate: str | None
    gross_minor: int | None
    fees_minor: int | None
    withholding_minor: int | None
    lines: list[dict[str, Any]] | None
    method: str | None
    payment_reference: str | None
    failure_reason: str | None


class RunOut(BaseModel):
    id: str
    period_start: datetime
    period_end: datetime
    status: str
    created_by: str
    approved_by: str | None
    approved_at: datetime | None
    created_at: datetime


class RunDetailOut(RunOut):
    created: bool = False
    items: list[PayoutItemOut]


router = APIRouter(prefix="/api/v1", tags=["payouts"])


def _run_out(view: payouts.RunView) -> RunDetailOut:
    items = [PayoutItemOut.model_validate({**row, "id": str(row["id"]),
                                           "run_id": str(row["run_id"]),
                                           "affiliate_id": str(row["affiliate_id"])})
             for row in view.items]
    return RunDetailOut.model_validate({**view.run, "id": str(view.run["id"]),
                                        "created": view.created, "items": items})


def _item_out(row: dict[str, Any]) -> PayoutItemOut:
    return PayoutItemOut.model_validate({**row, "id": str(row["id"]), "run_id": str(row["run_id"]),
                                         "affiliate_id": str(row["affiliate_id"])})


@router.post("/payout-runs", response_model=RunDetailOut)
def create_run(principal: FinanceDep, body: RunCreate, conn: ConnDep,
               runtime: RuntimeDep, response: Response) -> RunDetailOut:
    rates = {(r.base, r.quote): Decimal(r.rate) for r in body.fx_rates}
    view = payouts.create_run(conn, period_start=body.period_start, period_end=body.period_end,
                              actor=actor_label(principal), now=runtime.clock.now(), rates=rates)
    response.status_code = 201 if view.created else 200
    return _run_out(view)


@router.get("/payout-runs")
def list_runs(principal: StaffDep, page: PageDep, conn: ConnDep,
              status: Literal["draft", "approved", "closed"] | None = None) -> dict[str, Any]:
    found = payouts.list_runs(conn, status=status, limit=page.limit, cursor=page.cursor)
    return {"items": [RunOut.model_validate({**row, "id": str(row["id"])}) for row in found.rows],
            "next_cursor": found.next_cursor}


@router.get("/payout-runs/{run_id}", response_model=RunDetailOut)
def get_run(principal: StaffDep, run_id: str, conn: ConnDep) -> RunDetailOut:
    return _run_out(payouts.get_run(conn, run_id))


@router.post("/payout-runs/{run_id}/approve", response_model=RunDetailOut)
def approve_run(principal: FinanceDep, run_id: str, conn: ConnDep,
                runtime: RuntimeDep) -> RunDetailOut:
    return _run_out(payouts.approve_run(conn, run_id, actor=actor_label(principal),
                                        now=runtime.clock.now()))


@router.post("/payout-runs/{run_id}/refresh", response_model=RunDetailOut)
def refresh_run(principal: FinanceDep, run_id: str, conn: ConnDep,
                runtime: RuntimeDep) -> RunDetailOut:
    return _run_out(payouts.refresh_run(conn, run_id, actor=actor_label(principal),
                                        now=runtime.clock.now()))


@router.post("/payouts/{payout_id}/paid", response_model=PayoutItemOut)
def mark_paid(principal: FinanceDep, payout_id: str, body: PaidIn, conn: ConnDep,
              runtime: RuntimeDep) -> PayoutItemOut:
    return _item_out(payouts.mark_paid(conn, payout_id, reference=body.reference,
                                       actor=actor_label(principal), now=runtime.clock.now()))


@router.post("/payouts/{payout_id}/failed", response_model=PayoutItemOut)
def mark_failed(principal: FinanceDep, payout_id: str, body: FailedIn, conn: ConnDep,
                runtime: RuntimeDep) -> PayoutItemOut:
    return _item_out(payouts.mark_failed(conn, payout_id, reason=body.reason,
                                         actor=actor_label(principal), now=runtime.clock.now()))


@router.get("/payout-runs/{run_id}/payments.csv")
def download_csv(principal: FinanceDep, run_id: str, conn: ConnDep) -> Response:
    return Response(payment_files.run_csv(conn, run_id), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="payouts-{run_id}.csv"'})


@router.get("/payout-runs/{run_id}/pain001.xml")
def download_pain001(
    principal: FinanceDep, run_id: str, conn: ConnDep, runtime: RuntimeDep,
    execution_date: date | None = None,
    debtor_name: Annotated[str | None, Query(max_length=70)] = None,
    debtor_iban: Annotated[str | None, Query(max_length=40)] = None,
    debtor_bic: Annotated[str | None, Query(max_length=11)] = None,
) -> Response:
    body = payment_files.run_pain001(
        conn, run_id, execution_date=execution_date or runtime.clock.now().date(),
        debtor_name=debtor_name, debtor_iban=debtor_iban, debtor_bic=debtor_bic)
    return Response(body, media_type="application/xml",
                    headers={"Content-Disposition": f'attachment; filename="pain001-{run_id}.xml"'})


@router.post("/payout-deductions", status_code=201)
def create_deduction(principal: FinanceDep, body: DeductionIn, conn: ConnDep,
                     runtime: RuntimeDep) -> dict[str, Any]:
    row = payout_deductions.create(conn, **body.model_dump(), actor=actor_label(principal),
                                   now=runtime.clock.now())
    return {**row, "id": str(row["id"])}


@router.get("/payout-deductions")
def list_deductions(principal: StaffDep, conn: ConnDep) -> dict[str, Any]:
    rows = payout_deductions.list_active(conn)
    return {"items": [{**row, "id": str(row["id"]),
                       "affiliate_id": str(row["affiliate_id"]) if row["affiliate_id"] else None}
                      for row in rows]}


@router.post("/payout-deductions/{rule_id}/deactivate")
def deactivate_deduction(principal: FinanceDep, rule_id: str, conn: ConnDep,
                         runtime: RuntimeDep) -> dict[str, Any]:
    row = payout_deductions.deactivate(conn, rule_id, actor=actor_label(principal),
                                       now=runtime.clock.now())
    return {**row, "id": str(row["id"]),
            "affiliate_id": str(row["affiliate_id"]) if row["affiliate_id"] else None}
