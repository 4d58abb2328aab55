"""The manager console under ``/console`` (managers and finance): every affiliate's reports,
affiliate approval and deal assignment, fraud review, reconciliation, payout runs,
integration health and the audit log.  Writes are manager-only except payout approval
(finance, as in the API)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from clickledger.domain.roles import Role
from clickledger.services import deals, fraud_review, payouts, programme
from clickledger.services.registration import valid_uuid
from clickledger.web import lists, pages
from clickledger.web import report_views as rv
from clickledger.web.guard import Hidden, action, page, runtime_of, see_other
from clickledger.web.render import render
from clickledger.web.report_routes import add_report_routes

router = APIRouter(prefix="/console", include_in_schema=False)
AREA = "console"
NOTE_CHARS = 1000
Csrf = Annotated[str, Form(max_length=200)]


def _actor(session: pages.Session) -> str:
    return f"user:{session.user_id} {session.email}"[:200]


add_report_routes(router, AREA)


@router.get("/links")
def links(request: Request) -> Response:
    base = runtime_of(request).settings.public_base_url.rstrip("/")

    def build(session: pages.Session, conn: pages.Conn) -> Response:
        return HTMLResponse(render(
            "links.html", session=session, area=AREA,
            tables=[lists.links(conn, session.principal, base, AREA),
                    lists.promo_codes(conn, session.principal)],
            offers=[], can_create=False))

    return page(request, AREA, build)


@router.get("/links/{link_id}")
def link_detail(request: Request, link_id: str) -> Response:
    base = runtime_of(request).settings.public_base_url.rstrip("/")
    return page(request, AREA, lambda s, c: pages.link_page(s, c, AREA, base, link_id))


@router.get("/postbacks")
def postbacks(request: Request) -> Response:
    return page(request, AREA, lambda s, c: pages.tables_page(
        s, "Postbacks", lists.postbacks(c, s.principal)))


@router.get("/affiliates")
def affiliates(request: Request) -> Response:
    return page(request, AREA, lambda s, c: pages.tables_page(
        s, "Affiliates", [lists.affiliates(c, s.principal, AREA)]))


@router.post("/affiliates/{affiliate_id}/approve")
def approve_affiliate(request: Request, affiliate_id: str, csrf_token: Csrf = "") -> Response:
    now = runtime_of(request).clock.now()

    def build(session: pages.Session, conn: pages.Conn) -> Response:
        target = pages.visible_uuid(session, affiliate_id)
        programme.update_affiliate(conn, target, {"status": "active"}, _actor(session), now)
        return see_other("/console/affiliates")

    return action(request, AREA, csrf_token, build, roles=(Role.MANAGER,))


@router.post("/affiliates/{affiliate_id}/assign")
def assign_deal(request: Request, affiliate_id: str, csrf_token: Csrf = "",
                deal_id: Annotated[str, Form(max_length=64)] = "") -> Response:
    now = runtime_of(request).clock.now()

    def build(session: pages.Session, conn: pages.Conn) -> Response:
        target = pages.visible_uuid(session, affiliate_id)
        deal = pages.require_uuid(deal_id, "choose a deal")
        deals.assign(conn, deal_id=deal, affiliate_id=target, overrides=None,
                     effective_from=None, actor=_actor(session), now=now)
        return see_other("/console/affiliates")

    return action(request, AREA, csrf_token, build, roles=(Role.MANAGER,))


@router.get("/fraud")
def fraud(request: Request) -> Response:
    return page(request, AREA, lambda s, c: pages.tables_page(
        s, "Fraud review", [lists.fraud_queue(c, s.principal)]))


@router.post("/fraud/{assessment_id}/{decision}")
def decide_fraud(request: Request, assessment_id: str, decision: str, csrf_token: Csrf = "",
                 note: Annotated[str, Form(max_length=NOTE_CHARS)] = "") -> Response:
    now = runtime_of(request).clock.now()

    def build(session: pages.Session, conn: pages.Conn) -> Response:
        target = pages.require_uuid(assessment_id, "unknown assessment")
        if decision == "confirm":
            fraud_review.confirm(conn, target, actor=_actor(session), note=note or None,
                                 now=now)
        elif decision == "dismiss":
            fraud_review.dismiss(conn, target, actor=_actor(session), note=note or None,
                                 now=now)
        else:
            raise Hidden
        return see_other("/console/fraud")

    return action(request, AREA, csrf_token, build, roles=(Role.MANAGER,))


@router.get("/reconciliation")
def reconciliation_runs(request: Request) -> Response:
    return page(request, AREA, lambda s, c: pages.tables_page(
        s, "Reconciliation", [lists.reconciliation_runs(c)]))


@router.get("/reconciliation/{run_id}")
def reconciliation_run(request: Request, run_id: str) -> Response:
    def build(session: pages.Session, conn: pages.Conn) -> Response:
        from clickledger.services import reconciliation  # noqa: PLC0415

        if valid_uuid(run_id) is None or reconciliation.get_run(conn, run_id) is None:
            raise Hidden
        return pages.tables_page(session, "Reconciliation run",
                                 [lists.reconciliation_items(conn, run_id)])

    return page(request, AREA, build)


@router.get("/payouts")
def payout_runs(request: Request) -> Response:
    now = runtime_of(request).clock.now()
    return page(request, AREA, lambda s, c: pages.tables_page(
        s, "Payouts", [lists.payout_runs(c, s.principal), lists.payouts_of(c, s.principal),
                       lists.statement_months(s.principal, rv.affiliate_choices(c, s), now,
                                              AREA)]))


@router.get("/payouts/{run_id}")
def payout_run(request: Request, run_id: str) -> Response:
    return page(request, AREA, lambda s, c: pages.payout_run_page(s, c, run_id))


@router.post("/payouts/{run_id}/approve")
def approve_run(request: Request, run_id: str, csrf_token: Csrf = "") -> Response:
    now = runtime_of(request).clock.now()

    def build(session: pages.Session, conn: pages.Conn) -> Response:
        target = pages.require_uuid(run_id, "unknown payout run")
        payouts.approve_run(conn, target, actor=_actor(session), now=now)
        return see_other(f"/console/payouts/{target}")

    return action(request, AREA, csrf_token, build, roles=(Role.FINANCE,))


@router.get("/statement")
def statement(request: Request, affiliate_id: str = "", month: str = "") -> Response:
    return page(request, AREA, lambda s, c: pages.statement_page(s, c, affiliate_id, month))


@router.get("/integrations")
def integrations(request: Request) -> Response:
    now = runtime_of(request).clock.now()
    return page(request, AREA, lambda s, c: pages.tables_page(
        s, "Integration health", lists.integrations(c, now)))


@router.get("/audit")
def audit(request: Request) -> Response:
    return page(request, AREA, lambda s, c: pages.tables_page(
        s, "Audit log", [lists.audit_log(c)]))
