"""``/api/v1/reports``: dashboard, breakdowns (JSON and CSV) and the player list.

Managers and finance see every affiliate; an affiliate sees itself and its
sub-affiliates, and naming any other affiliate answers 404.  Every figure is
read from rollups (``services.reports``).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from clickledger.domain.roles import Principal
from clickledger.http.api.deps import ReaderDep, ReportConnDep, RuntimeDep
from clickledger.http.api.errors import ApiError, not_found
from clickledger.services import reports
from clickledger.services.registration import valid_uuid

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])

Period = Literal["today", "yesterday", "mtd", "last7", "last30", "range"]
Order = Literal["asc", "desc"]


def scope(principal: Principal, affiliate_id: str | None) -> frozenset[str] | None:
    """The affiliates a report covers: all visible ones, or one named (404 if not visible)."""
    if affiliate_id is None:
        return principal.visible_affiliate_ids
    canonical = valid_uuid(affiliate_id)
    if canonical is None or not principal.can_see_affiliate(canonical):
        raise not_found("affiliate")
    return frozenset({canonical})


def span(runtime_today: date, period: str, start: date | None, end: date | None
         ) -> reports.DayRange:
    try:
        return reports.resolve_range(period, runtime_today, start, end)
    except reports.ReportError as exc:
        raise ApiError(422, exc.code, str(exc)) from exc


@router.get("/dashboard")
def dashboard(
    principal: ReaderDep, conn: ReportConnDep, runtime: RuntimeDep,
    period: Period = "today", start: date | None = None, end: date | None = None,
    affiliate_id: str | None = None,
) -> dict[str, Any]:
    """Totals and a chart series for today, month to date or any range (UTC days)."""
    days = span(runtime.clock.now().date(), period, start, end)
    return reports.dashboard(conn, scope(principal, affiliate_id), days, runtime.clock.now())


def _breakdown(principal: Principal, conn: Any, now: datetime, by: str, period: str,
               start: date | None, end: date | None, affiliate_id: str | None, sort: str,
               order: str) -> dict[str, Any]:
    days = span(now.date(), period, start, end)
    try:
        return reports.breakdown(conn, scope(principal, affiliate_id), days, by, now, sort,
                                 order == "desc")
    except reports.ReportError as exc:
        raise ApiError(422, exc.code, str(exc)) from exc


@router.get("/breakdown")
def breakdown(
    principal: ReaderDep, conn: ReportConnDep, runtime: RuntimeDep,
    by: str = "day", period: Period = "today", start: date | None = None,
    end: date | None = None, affiliate_id: str | None = None, sort: str = "clicks",
    order: Order = "desc",
) -> dict[str, Any]:
    """One row per day, hour, brand, offer, link, sub1..sub5, country or device."""
    return _breakdown(principal, conn, runtime.clock.now(), by, period, start, end,
                      affiliate_id, sort, order)


@router.get("/breakdown.csv")
def breakdown_csv(
    principal: ReaderDep, conn: ReportConnDep, runtime: RuntimeDep,
    by: str = "day", period: Period = "today", start: date | None = None,
    end: date | None = None, affiliate_id: str | None = None, sort: str = "clicks",
    order: Order = "desc",
) -> Response:
    """The breakdown as CSV (cells that look like formulas are quoted with ``'``)."""
    report = _breakdown(principal, conn, runtime.clock.now(), by, period, start, end,
                        affiliate_id, sort, order)
    name = f"breakdown-{by}-{report['period']['start']}-{report['period']['end']}.csv"
    return Response(reports.breakdown_csv(report), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/players")
def players(
    principal: ReaderDep, conn: ReportConnDep, affiliate_id: str | None = None,
    limit: int = Query(default=50, ge=1, le=reports.MAX_PLAYERS_PAGE),
    offset: int = Query(default=0, ge=0, le=1_000_000),
) -> dict[str, Any]:
    """Attributed players with registration, FTD, status and commission with explanations.

    Affiliates get pseudonymous ids only; the operator's player id is for staff.
    """
    visible = scope(principal, affiliate_id)
    items = reports.players(conn, visible, limit=limit, offset=offset)
    if principal.visible_affiliate_ids is not None:
        for item in items:
            item.pop("operator_player_id", None)
            item.pop("player_id", None)
    return {"items": items, "limit": limit, "offset": offset}
