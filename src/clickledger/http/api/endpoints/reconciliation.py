"""``/api/v1/reconciliation``: operator statements matched against our records.

Finance and managers upload a statement (raw body; ``kind``, ``brand``,
``tolerance``, ``from``, ``to`` in the query), read runs and their items
(filter by flag, affiliate, decision), export a run as spreadsheet-safe CSV
and backfill missed events.  Only finance approves or rejects a proposed
adjustment.  Affiliates and integrations get 404 everywhere here.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from clickledger.domain.reconciliation import Flag
from clickledger.domain.roles import Principal, Role
from clickledger.http.api.deps import ConnDep, RuntimeDep, StaffDep, require
from clickledger.http.api.endpoints.imports import _read_limited
from clickledger.http.api.errors import ApiError, not_found
from clickledger.ingest.batch.limits import get_limits
from clickledger.ingest.batch.report import csv_text
from clickledger.services import reconciliation as recon
from clickledger.services.programme import actor_label
from clickledger.services.reconciliation_kinds import StatementKind

router = APIRouter(prefix="/api/v1/reconciliation", tags=["reconciliation"])
FinanceDep = Annotated[Principal, Depends(require(Role.FINANCE))]
MAX_PAGE = 500
DAY_PATTERN = r"^\d{4}-\d{2}-\d{2}$"


def _error(exc: recon.ReconciliationError) -> ApiError:
    if exc.code == "not_found":
        return not_found("reconciliation item")
    status = 409 if exc.code == "already_decided" else 422
    return ApiError(status, exc.code, str(exc), exc.details)


@router.post("/runs", status_code=201)
async def create_run(
    request: Request, principal: StaffDep, runtime: RuntimeDep, kind: StatementKind,
    brand: Annotated[str, Query(min_length=1, max_length=200)],
    tolerance: Annotated[str, Query(max_length=30)] = "0",
    period_from: Annotated[str | None, Query(alias="from", pattern=DAY_PATTERN)] = None,
    period_to: Annotated[str | None, Query(alias="to", pattern=DAY_PATTERN)] = None,
    file_name: Annotated[str, Query(min_length=1, max_length=500)] = "statement.csv",
) -> dict[str, Any]:
    """Match the uploaded statement; answers the run with its summary."""
    limits = get_limits()
    data = await _read_limited(request, limits.max_upload_body_bytes)
    statement = recon.StatementRequest(
        data=data, file_name=file_name, kind=kind, brand=brand, actor=actor_label(principal),
        tolerance=tolerance, period_start=period_from, period_end=period_to)
    try:
        outcome = await run_in_threadpool(recon.run_reconciliation, runtime.engine,
                                          runtime.clock.now(), statement, limits)
    except recon.ReconciliationError as exc:
        if exc.code == "unknown_brand":
            raise not_found("brand") from exc
        raise _error(exc) from exc
    return {"run_id": outcome.run_id, "summary": outcome.summary}


@router.get("/runs")
def list_runs(
    principal: StaffDep, conn: ConnDep,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    return {"items": recon.list_runs(conn, limit, offset)}


def _run(conn: Any, run_id: str) -> dict[str, Any]:
    run = recon.get_run(conn, run_id)
    if run is None:
        raise not_found("reconciliation run")
    return run


@router.get("/runs/{run_id}")
def get_run(principal: StaffDep, run_id: str, conn: ConnDep) -> dict[str, Any]:
    return _run(conn, run_id)


@router.get("/runs/{run_id}/items")
def list_items(
    principal: StaffDep, run_id: str, conn: ConnDep,
    flag: Flag | None = None,
    affiliate_id: Annotated[str | None, Query(max_length=64)] = None,
    decision: Annotated[str | None, Query(pattern="^(none|approved|rejected|backfilled)$")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """Items in line order; ``flag``, ``affiliate_id`` and ``decision`` filter them."""
    _run(conn, run_id)
    filters = {"flag": flag.value if flag else None, "affiliate_id": affiliate_id,
               "decision": decision}
    try:
        items = recon.list_items(conn, run_id, filters, limit, offset)
    except Exception as exc:  # a malformed affiliate id cannot match anything
        raise ApiError(422, "invalid_filter", "affiliate_id is not an id") from exc
    return {"items": items, "limit": limit, "offset": offset}


@router.get("/runs/{run_id}/export.csv")
def export_run(principal: StaffDep, run_id: str, conn: ConnDep) -> Response:
    """Every item as CSV; cells starting with = + - @ are prefixed with a quote."""
    _run(conn, run_id)
    body = csv_text(recon.EXPORT_COLUMNS, recon.export_rows(conn, run_id))
    return Response(body, media_type="text/csv", headers={
        "content-disposition": f'attachment; filename="reconciliation-{run_id}.csv"'})


@router.post("/items/{item_id}/approve")
def approve(principal: FinanceDep, item_id: str, conn: ConnDep,
            runtime: RuntimeDep) -> dict[str, Any]:
    """Post the proposed adjustment to the ledger (once, whatever the retries)."""
    try:
        return recon.decide(conn, item_id, True, actor_label(principal), runtime.clock.now())
    except recon.ReconciliationError as exc:
        raise _error(exc) from exc


@router.post("/items/{item_id}/reject")
def reject(principal: FinanceDep, item_id: str, conn: ConnDep,
           runtime: RuntimeDep) -> dict[str, Any]:
    try:
        return recon.decide(conn, item_id, False, actor_label(principal), runtime.clock.now())
    except recon.ReconciliationError as exc:
        raise _error(exc) from exc


@router.post("/runs/{run_id}/backfill")
def backfill_run(
    principal: StaffDep, run_id: str, runtime: RuntimeDep,
    integration: Annotated[str, Query(min_length=1, max_length=200)],
) -> dict[str, Any]:
    """Import the events the operator listed and we lack, through the normal import path."""
    # backfill runs the batch importer (polars): loaded on first use, not at server start.
    from clickledger.services.reconciliation_backfill import backfill  # noqa: PLC0415

    try:
        result = backfill(runtime.engine, runtime.clock, runtime.settings.attribution_window_days,
                          run_id, integration, actor_label(principal))
    except recon.ReconciliationError as exc:
        if exc.code == "not_found":
            raise not_found("reconciliation run") from exc
        raise _error(exc) from exc
    return {"imported": result.imported, "already_known": result.already_known,
            "not_importable": result.not_importable}
