"""Page builders shared by portal and console: generic table pages, a link, a statement."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from fastapi.responses import HTMLResponse, Response

from clickledger.services import statements
from clickledger.services.registration import valid_uuid
from clickledger.store import tables as t
from clickledger.web import lists
from clickledger.web.auth import Session
from clickledger.web.guard import Hidden, Invalid
from clickledger.web.render import render

Conn = sa.Connection
__all__ = ["Conn", "Session", "link_page", "require_uuid", "statement_page", "tables_page"]


def require_uuid(value: str, message: str) -> str:
    canonical = valid_uuid(value)
    if canonical is None:
        raise Invalid(message)
    return canonical


def visible_uuid(session: Session, value: str) -> str:
    """``value`` as an affiliate id the person may see; 404 otherwise."""
    canonical = valid_uuid(value)
    if canonical is None or not session.principal.can_see_affiliate(canonical):
        raise Hidden
    return canonical


def tables_page(session: Session, title: str, tables: list[dict[str, Any]],
                status: int = 200) -> Response:
    area = "portal" if session.principal.visible_affiliate_ids is not None else "console"
    return HTMLResponse(render("table.html", session=session, area=area, title=title,
                               tables=tables), status_code=status)


def link_page(session: Session, conn: Conn, area: str, base_url: str, link_id: str
              ) -> Response:
    canonical = valid_uuid(link_id)
    if canonical is None:
        raise Hidden
    row = conn.execute(sa.select(t.tracking_links).where(t.tracking_links.c.id == canonical)
                       ).first()
    if row is None or not session.principal.can_see_affiliate(str(row.affiliate_id)):
        raise Hidden
    offer = conn.execute(sa.select(t.offers.c.name).where(t.offers.c.id == row.offer_id)
                         ).scalar()
    subs = [(f"sub{i}", getattr(row, f"sub{i}")) for i in range(1, 6)]
    html = render("link.html", session=session, area=area, link=row, offer=offer or "",
                  url=f"{base_url}/c/{row.code}", subs=subs)
    return HTMLResponse(html)


def _month(text: str, now: datetime) -> tuple[datetime, datetime]:
    try:
        year, month = (int(part) for part in text.split("-")[:2]) if text else (now.year,
                                                                              now.month)
        start = datetime(year, month, 1, tzinfo=UTC)
    except ValueError as exc:
        raise Hidden from exc
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=UTC)
    return start, end


def statement_page(session: Session, conn: Conn, affiliate_id: str, month: str) -> Response:
    """The payouts helper's statement for one affiliate and month (its own template)."""
    own = session.principal.affiliate_id
    target = visible_uuid(session, affiliate_id or own or "")
    start, end = _month(month, datetime.now(UTC))
    statement = statements.build_statement(conn, target, start, end)
    return HTMLResponse(statements.render_html(statement))


def payout_run_page(session: Session, conn: Conn, run_id: str) -> Response:
    from clickledger.services import payouts  # noqa: PLC0415 - only this page needs it

    if valid_uuid(run_id) is None:
        raise Hidden
    view = payouts.get_run(conn, run_id)
    names = lists.affiliate_names(conn)
    run = view.run
    heading = f"Payout run {lists.when(run['period_start'])[:10]} – " \
              f"{lists.when(run['period_end'])[:10]} ({run['status']})"
    return tables_page(session, heading, [lists.payout_items(view.items, names)])
