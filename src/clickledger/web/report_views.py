"""The report pages shared by portal and console: dashboard, breakdown, CSV and players.

They call ``services.reports`` exactly as ``/api/v1/reports`` does, with the
same scope rules, so a page shows the API's numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from clickledger.services import reports
from clickledger.services.registration import valid_uuid
from clickledger.store import tables as t
from clickledger.web.auth import Session
from clickledger.web.guard import Hidden, Invalid
from clickledger.web.render import chart, render

PERIOD_LABELS = {"today": "Today", "yesterday": "Yesterday", "mtd": "Month to date",
                 "last7": "Last 7 days", "last30": "Last 30 days", "range": "Range"}
COLUMNS = (("clicks", "Clicks"), ("unique_clicks", "Unique"), ("registrations", "Regs"),
           ("ftds", "FTDs"), ("qualified_cpas", "CPAs"), ("registration_rate_pct", "Reg %"),
           ("ftd_rate_pct", "FTD %"), ("lots", "Lots"), ("deposits", "Deposits"),
           ("ngr", "NGR"), ("commission", "Commission"))
BREAKDOWN_LABELS = {"day": "Day", "hour": "Hour", "brand": "Brand", "offer": "Offer",
                    "link": "Link", "sub1": "Sub1", "sub2": "Sub2", "sub3": "Sub3",
                    "sub4": "Sub4", "sub5": "Sub5", "country": "Country", "device": "Device"}


@dataclass(frozen=True)
class ReportQuery:
    """What the page's query string asks for, checked."""

    period: str
    start: date | None
    end: date | None
    affiliate_id: str | None
    by: str
    sort: str
    order: str

    def params(self, **changes: str) -> dict[str, str]:
        values = {"period": self.period, "by": self.by, "sort": self.sort, "order": self.order}
        if self.start and self.end:
            values |= {"start": self.start.isoformat(), "end": self.end.isoformat()}
        if self.affiliate_id:
            values["affiliate_id"] = self.affiliate_id
        return values | changes


def _date(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError as exc:
        raise Invalid(f"not a date: {text[:20]!r} (use YYYY-MM-DD)") from exc


def parse(request: Request, default_period: str = "today") -> ReportQuery:
    q = request.query_params
    period = q.get("period", default_period)
    if period not in reports.PRESETS:
        period = default_period
    by = q.get("by", "day")
    sort = q.get("sort", "clicks")
    return ReportQuery(
        period=period, start=_date(q.get("start")), end=_date(q.get("end")),
        affiliate_id=q.get("affiliate_id") or None,
        by=by if by in reports.BREAKDOWNS else "day",
        sort=sort if sort in reports.SORT_KEYS else "clicks",
        order="asc" if q.get("order") == "asc" else "desc",
    )


def scope_of(session: Session, affiliate_id: str | None) -> frozenset[str] | None:
    """The affiliates covered: the visible tree, or one visible affiliate (else 404)."""
    principal = session.principal
    if affiliate_id is None:
        return principal.visible_affiliate_ids
    canonical = valid_uuid(affiliate_id)
    if canonical is None or not principal.can_see_affiliate(canonical):
        raise Hidden
    return frozenset({canonical})


def _span(query: ReportQuery, today: date) -> reports.DayRange:
    try:
        return reports.resolve_range(query.period, today, query.start, query.end)
    except reports.ReportError as exc:
        raise Invalid(str(exc)) from exc


def affiliate_choices(conn: sa.Connection, session: Session) -> list[tuple[str, str]]:
    """(id, name) of the affiliates the person can filter by (at most 500)."""
    a = t.affiliates.c
    query = sa.select(a.id, a.name).order_by(a.name).limit(500)
    visible = session.principal.visible_affiliate_ids
    if visible is not None:
        query = query.where(a.id.in_(sorted(visible)))
    return [(str(row.id), str(row.name)) for row in conn.execute(query)]


def _base(session: Session, area: str, conn: sa.Connection, query: ReportQuery,
          span: reports.DayRange) -> dict[str, Any]:
    return {"session": session, "area": area, "query": query, "span": span,
            "periods": PERIOD_LABELS, "affiliates": affiliate_choices(conn, session),
            "columns": COLUMNS, "breakdowns": BREAKDOWN_LABELS}


def dashboard_page(session: Session, conn: sa.Connection, area: str, query: ReportQuery,
                   now: datetime) -> Response:
    span = _span(query, now.date())
    report = reports.dashboard(conn, scope_of(session, query.affiliate_id), span, now)
    html = render("dashboard.html", **_base(session, area, conn, query, span), report=report,
                  chart=chart(report["series"]))
    return HTMLResponse(html)


def breakdown_page(session: Session, conn: sa.Connection, area: str, query: ReportQuery,
                   now: datetime) -> Response:
    span = _span(query, now.date())
    report = reports.breakdown(conn, scope_of(session, query.affiliate_id), span, query.by,
                               now, query.sort, query.order == "desc")
    html = render("breakdown.html", **_base(session, area, conn, query, span), report=report)
    return HTMLResponse(html)


def breakdown_csv(session: Session, conn: sa.Connection, query: ReportQuery,
                  now: datetime) -> Response:
    span = _span(query, now.date())
    report = reports.breakdown(conn, scope_of(session, query.affiliate_id), span, query.by,
                               now, query.sort, query.order == "desc")
    name = f"breakdown-{query.by}-{span.start.isoformat()}-{span.end.isoformat()}.csv"
    return Response(reports.breakdown_csv(report), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


def players_page(session: Session, conn: sa.Connection, area: str, request: Request
                 ) -> Response:
    query = parse(request)
    try:
        offset = max(0, min(int(request.query_params.get("offset", "0")), 1_000_000))
    except ValueError:
        offset = 0
    visible = scope_of(session, query.affiliate_id)
    items = reports.players(conn, visible, limit=50, offset=offset)
    staff = session.principal.visible_affiliate_ids is None
    html = render("players.html", session=session, area=area, items=items, staff=staff,
                  offset=offset, query=query, affiliates=affiliate_choices(conn, session))
    return HTMLResponse(html)
