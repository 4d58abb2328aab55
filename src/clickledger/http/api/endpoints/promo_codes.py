"""``/api/v1/promo-codes``: managers hand codes out; affiliates see their tree's codes."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter

from clickledger.http.api.deps import ConnDep, ManagerDep, ReaderDep, RuntimeDep
from clickledger.http.api.paging import PageDep, page_out
from clickledger.http.api.schemas.common import IdText, PageOut
from clickledger.http.api.schemas.links import PromoCodeCreate, PromoCodeRead, PromoCodeUpdate
from clickledger.services import programme
from clickledger.store import tables as t

router = APIRouter(prefix="/api/v1/promo-codes", tags=["promo codes"])


@router.post("", status_code=201, response_model=PromoCodeRead)
def create_promo_code(
    principal: ManagerDep, body: PromoCodeCreate, conn: ConnDep, runtime: RuntimeDep
) -> PromoCodeRead:
    row = programme.create_promo_code(conn, body.model_dump(), programme.actor_label(principal),
                                      runtime.clock.now())
    return PromoCodeRead.model_validate(row)


@router.get("", response_model=PageOut[PromoCodeRead])
def list_promo_codes(
    principal: ReaderDep, page: PageDep, conn: ConnDep,
    affiliate_id: IdText | None = None,
    brand_id: IdText | None = None,
    status: Literal["active", "paused"] | None = None,
) -> PageOut[PromoCodeRead]:
    filters = {"affiliate_id": affiliate_id, "brand_id": brand_id, "status": status}
    rows = programme.list_visible(conn, t.promo_codes, principal, filters,
                                  limit=page.limit, cursor=page.cursor)
    return page_out(PromoCodeRead, rows)


@router.get("/{promo_id}", response_model=PromoCodeRead)
def get_promo_code(principal: ReaderDep, promo_id: str, conn: ConnDep) -> PromoCodeRead:
    return PromoCodeRead.model_validate(
        programme.get_visible(conn, t.promo_codes, promo_id, principal, "promo code")
    )


@router.patch("/{promo_id}", response_model=PromoCodeRead)
def update_promo_code(
    principal: ManagerDep, promo_id: str, body: PromoCodeUpdate, conn: ConnDep,
    runtime: RuntimeDep,
) -> PromoCodeRead:
    row = programme.update_promo_code(conn, promo_id, body.changes(),
                                      programme.actor_label(principal), runtime.clock.now())
    return PromoCodeRead.model_validate(row)
