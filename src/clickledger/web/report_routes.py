"""The report pages both areas serve (dashboard, one affiliate's dashboard, breakdown and its
CSV, players): one definition, registered on the portal's and the console's routers."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from clickledger.web import report_views as rv
from clickledger.web.guard import page, runtime_of


def add_report_routes(router: APIRouter, area: str) -> None:
    """Register the shared report pages on ``router`` for ``area`` (portal or console)."""

    @router.get("")
    def dashboard(request: Request) -> Response:
        query = rv.parse(request)
        now = runtime_of(request).clock.now()
        return page(request, area,
                    lambda s, c: rv.dashboard_page(s, c, area, query, now), reports=True)

    @router.get("/affiliates/{affiliate_id}")
    def affiliate_dashboard(request: Request, affiliate_id: str) -> Response:
        query = rv.parse(request)
        query = rv.ReportQuery(query.period, query.start, query.end, affiliate_id, query.by,
                               query.sort, query.order)
        now = runtime_of(request).clock.now()
        return page(request, area,
                    lambda s, c: rv.dashboard_page(s, c, area, query, now), reports=True)

    @router.get("/breakdown")
    def breakdown(request: Request) -> Response:
        query = rv.parse(request)
        now = runtime_of(request).clock.now()
        return page(request, area,
                    lambda s, c: rv.breakdown_page(s, c, area, query, now), reports=True)

    @router.get("/breakdown.csv")
    def breakdown_csv(request: Request) -> Response:
        query = rv.parse(request)
        now = runtime_of(request).clock.now()
        return page(request, area, lambda s, c: rv.breakdown_csv(s, c, query, now), reports=True)

    @router.get("/players")
    def players(request: Request) -> Response:
        return page(request, area, lambda s, c: rv.players_page(s, c, area, request), reports=True)
