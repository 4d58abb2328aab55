"""``/api/v1/offers``: managers set offers up; finance and affiliates read them."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter

from clickledger.http.api.deps import ConnDep, ManagerDep, ReaderDep, RuntimeDep
from clickledger.http.api.paging import PageDep, page_out
from clickledger.http.api.schemas.common import IdText, PageOut
from clickledger.http.api.schemas.offers import OfferCreate, OfferRead, OfferUpdate
from clickledger.services import programme
from clickledger.store import tables as t

router = APIRouter(prefix="/api/v1/offers", tags=["offers"])


@router.post("", status_code=201, response_model=OfferRead)
def create_offer(
    principal: ManagerDep, body: OfferCreate, conn: ConnDep, runtime: RuntimeDep
) -> OfferRead:
    row = programme.create_offer(conn, body.model_dump(), programme.actor_label(principal),
                                 runtime.clock.now())
    return OfferRead.model_validate(row)


@router.get("", response_model=PageOut[OfferRead])
def list_offers(
    principal: ReaderDep, page: PageDep, conn: ConnDep,
    brand_id: IdText | None = None,
    status: Literal["active", "paused"] | None = None,
) -> PageOut[OfferRead]:
    rows = programme.list_visible(conn, t.offers, principal,
                                  {"brand_id": brand_id, "status": status},
                                  limit=page.limit, cursor=page.cursor)
    return page_out(OfferRead, rows)


@router.get("/{offer_id}", response_model=OfferRead)
def get_offer(principal: ReaderDep, offer_id: str, conn: ConnDep) -> OfferRead:
    return OfferRead.model_validate(
        programme.get_visible(conn, t.offers, offer_id, principal, "offer")
    )


@router.patch("/{offer_id}", response_model=OfferRead)
def update_offer(
    principal: ManagerDep, offer_id: str, body: OfferUpdate, conn: ConnDep, runtime: RuntimeDep
) -> OfferRead:
    row = programme.update_offer(conn, offer_id, body.changes(),
                                 programme.actor_label(principal), runtime.clock.now())
    return OfferRead.model_validate(row)
