"""``/api/v1/brands``: managers set brands up; finance and affiliates read them."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter

from clickledger.http.api.deps import ConnDep, ManagerDep, ReaderDep, RuntimeDep
from clickledger.http.api.paging import PageDep, page_out
from clickledger.http.api.schemas.brands import BrandCreate, BrandRead, BrandUpdate
from clickledger.http.api.schemas.common import PageOut
from clickledger.services import programme
from clickledger.store import tables as t

router = APIRouter(prefix="/api/v1/brands", tags=["brands"])


@router.post("", status_code=201, response_model=BrandRead)
def create_brand(
    principal: ManagerDep, body: BrandCreate, conn: ConnDep, runtime: RuntimeDep
) -> BrandRead:
    row = programme.create_brand(conn, body.model_dump(), programme.actor_label(principal),
                                 runtime.clock.now())
    return BrandRead.model_validate(row)


@router.get("", response_model=PageOut[BrandRead])
def list_brands(
    principal: ReaderDep, page: PageDep, conn: ConnDep,
    kind: Literal["casino", "sportsbook", "forex"] | None = None,
    status: Literal["active", "inactive"] | None = None,
) -> PageOut[BrandRead]:
    rows = programme.list_visible(conn, t.brands, principal, {"kind": kind, "status": status},
                                  limit=page.limit, cursor=page.cursor)
    return page_out(BrandRead, rows)


@router.get("/{brand_id}", response_model=BrandRead)
def get_brand(principal: ReaderDep, brand_id: str, conn: ConnDep) -> BrandRead:
    return BrandRead.model_validate(
        programme.get_visible(conn, t.brands, brand_id, principal, "brand")
    )


@router.patch("/{brand_id}", response_model=BrandRead)
def update_brand(
    principal: ManagerDep, brand_id: str, body: BrandUpdate, conn: ConnDep, runtime: RuntimeDep
) -> BrandRead:
    row = programme.update_brand(conn, brand_id, body.changes(),
                                 programme.actor_label(principal), runtime.clock.now())
    return BrandRead.model_validate(row)
