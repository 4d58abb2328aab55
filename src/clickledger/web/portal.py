"""The affiliate portal under ``/portal``: reports, links, promo codes, postbacks,
sub-affiliates, payouts and statements of the signed-in affiliate's own tree."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from clickledger.services import programme
from clickledger.web import lists, pages
from clickledger.web import report_views as rv
from clickledger.web.guard import action, page, runtime_of, see_other
from clickledger.web.render import render
from clickledger.web.report_routes import add_report_routes

router = APIRouter(prefix="/portal", include_in_schema=False)
AREA = "portal"
SUB_CHARS = 255


add_report_routes(router, AREA)


@router.get("/links")
def links(request: Request) -> Response:
    base = runtime_of(request).settings.public_base_url.rstrip("/")

    def build(session: pages.Session, conn: pages.Conn) -> Response:
        return HTMLResponse(render(
            "links.html", session=session, area=AREA,
            tables=[lists.links(conn, session.principal, base, AREA),
                    lists.promo_codes(conn, session.principal)],
            offers=lists.offers(conn), can_create=True))

    return page(request, AREA, build)


@router.post("/links")
def create_link(
    request: Request,
    offer_id: Annotated[str, Form(max_length=64)] = "",
    sub1: Annotated[str, Form(max_length=SUB_CHARS)] = "",
    sub2: Annotated[str, Form(max_length=SUB_CHARS)] = "",
    sub3: Annotated[str, Form(max_length=SUB_CHARS)] = "",
    sub4: Annotated[str, Form(max_length=SUB_CHARS)] = "",
    sub5: Annotated[str, Form(max_length=SUB_CHARS)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    now = runtime_of(request).clock.now()
    subs = {"sub1": sub1, "sub2": sub2, "sub3": sub3, "sub4": sub4, "sub5": sub5}

    def build(session: pages.Session, conn: pages.Conn) -> Response:
        pages.require_uuid(offer_id, "choose an offer")
        values = {"affiliate_id": session.principal.affiliate_id, "offer_id": offer_id,
                  **{k: v.strip() or None for k, v in subs.items()}}
        row = programme.create_link(conn, values, session.principal, now)
        return see_other(f"/portal/links/{row['id']}")

    return action(request, AREA, csrf_token, build)


@router.get("/links/{link_id}")
def link_detail(request: Request, link_id: str) -> Response:
    base = runtime_of(request).settings.public_base_url.rstrip("/")
    return page(request, AREA, lambda s, c: pages.link_page(s, c, AREA, base, link_id))


@router.get("/postbacks")
def postbacks(request: Request) -> Response:
    return page(request, AREA, lambda s, c: pages.tables_page(
        s, "Postbacks", lists.postbacks(c, s.principal)))


@router.get("/sub-affiliates")
def sub_affiliates(request: Request) -> Response:
    return page(request, AREA, lambda s, c: pages.tables_page(
        s, "Sub-affiliates", [lists.affiliates(c, s.principal, AREA)]))


@router.get("/payouts")
def payouts(request: Request) -> Response:
    now = runtime_of(request).clock.now()
    return page(request, AREA, lambda s, c: pages.tables_page(
        s, "Payouts and statements",
        [lists.payouts_of(c, s.principal),
         lists.statement_months(s.principal, rv.affiliate_choices(c, s), now, AREA)]))


@router.get("/statement")
def statement(request: Request, affiliate_id: str = "", month: str = "") -> Response:
    return page(request, AREA, lambda s, c: pages.statement_page(s, c, affiliate_id, month))
