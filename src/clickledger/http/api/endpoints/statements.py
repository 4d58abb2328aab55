"""``/api/v1/affiliates/{id}/statement``: a period's ledger lines and balances, as JSON,
HTML (printable) or PDF.  An affiliate sees its own tree only; anything else is 404.
Without ``period_start``/``period_end`` the period is the current calendar month (UTC)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from clickledger.domain.roles import Principal
from clickledger.http.api.deps import ConnDep, ReaderDep, RuntimeDep
from clickledger.http.api.errors import not_found
from clickledger.http.api.schemas.common import UtcTime
from clickledger.services import statements
from clickledger.store.paging import canonical_uuid, is_uuid

router = APIRouter(prefix="/api/v1/affiliates/{affiliate_id}", tags=["statements"])


def _period(now: datetime, start: datetime | None,
            end: datetime | None) -> tuple[datetime, datetime]:
    month = datetime(now.year, now.month, 1, tzinfo=UTC)
    following = datetime(now.year + now.month // 12, now.month % 12 + 1, 1, tzinfo=UTC)
    return start or month, end or following


def _visible(principal: Principal, affiliate_id: str) -> str:
    if not is_uuid(affiliate_id) or not principal.can_see_affiliate(canonical_uuid(affiliate_id)):
        raise not_found("affiliate")
    return canonical_uuid(affiliate_id)


@router.get("/statement")
def statement_json(principal: ReaderDep, affiliate_id: str, conn: ConnDep,
                   runtime: RuntimeDep, period_start: UtcTime | None = None,
                   period_end: UtcTime | None = None) -> dict[str, Any]:
    built = statements.build_statement(conn, _visible(principal, affiliate_id),
                                       *_period(runtime.clock.now(), period_start, period_end))
    return statements.statement_json(built)


@router.get("/statement.html", response_class=HTMLResponse)
def statement_html(principal: ReaderDep, affiliate_id: str, conn: ConnDep,
                   runtime: RuntimeDep, period_start: UtcTime | None = None,
                   period_end: UtcTime | None = None) -> HTMLResponse:
    built = statements.build_statement(conn, _visible(principal, affiliate_id),
                                       *_period(runtime.clock.now(), period_start, period_end))
    return HTMLResponse(statements.render_html(built))


@router.get("/statement.pdf")
def statement_pdf(principal: ReaderDep, affiliate_id: str, conn: ConnDep,
                  runtime: RuntimeDep, period_start: UtcTime | None = None,
                  period_end: UtcTime | None = None) -> Response:
    built = statements.build_statement(conn, _visible(principal, affiliate_id),
                                       *_period(runtime.clock.now(), period_start, period_end))
    return Response(statements.render_pdf(built), media_type="application/pdf")
