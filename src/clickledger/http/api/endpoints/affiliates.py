"""``/api/v1/affiliates``: managers run the affiliate tree; an affiliate sees itself and its subs.

Payment details are shown to staff and to the affiliate itself only, not to
the parent of a sub-affiliate.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter

from clickledger.domain.roles import Principal, Role
from clickledger.http.api.deps import ConnDep, ManagerDep, ReaderDep, RuntimeDep
from clickledger.http.api.paging import PageDep
from clickledger.http.api.schemas.affiliates import AffiliateCreate, AffiliateRead, AffiliateUpdate
from clickledger.http.api.schemas.common import IdText, PageOut
from clickledger.services import programme
from clickledger.store import tables as t

router = APIRouter(prefix="/api/v1/affiliates", tags=["affiliates"])

PRIVATE_FIELDS = ("payment_method", "payment_details", "pending_payment_details")


def affiliate_out(row: dict[str, Any], principal: Principal) -> AffiliateRead:
    """The affiliate as ``principal`` may see it."""
    if principal.role is Role.AFFILIATE and str(row["id"]) != principal.affiliate_id:
        row = {**row, **dict.fromkeys(PRIVATE_FIELDS)}
    return AffiliateRead.model_validate(row)


@router.post("", status_code=201, response_model=AffiliateRead)
def create_affiliate(
    principal: ManagerDep, body: AffiliateCreate, conn: ConnDep, runtime: RuntimeDep
) -> AffiliateRead:
    row = programme.create_affiliate(conn, body.model_dump(), programme.actor_label(principal),
                                     runtime.clock.now())
    return affiliate_out(row, principal)


@router.get("", response_model=PageOut[AffiliateRead])
def list_affiliates(
    principal: ReaderDep, page: PageDep, conn: ConnDep,
    parent_id: IdText | None = None,
    status: Literal["pending", "active", "suspended"] | None = None,
) -> PageOut[AffiliateRead]:
    rows = programme.list_visible(conn, t.affiliates, principal,
                                  {"parent_id": parent_id, "status": status},
                                  limit=page.limit, cursor=page.cursor)
    return PageOut[AffiliateRead](
        items=[affiliate_out(row, principal) for row in rows.rows], next_cursor=rows.next_cursor
    )


@router.get("/{affiliate_id}", response_model=AffiliateRead)
def get_affiliate(principal: ReaderDep, affiliate_id: str, conn: ConnDep) -> AffiliateRead:
    row = programme.get_visible(conn, t.affiliates, affiliate_id, principal, "affiliate")
    return affiliate_out(row, principal)


@router.patch("/{affiliate_id}", response_model=AffiliateRead)
def update_affiliate(
    principal: ManagerDep, affiliate_id: str, body: AffiliateUpdate, conn: ConnDep,
    runtime: RuntimeDep,
) -> AffiliateRead:
    row = programme.update_affiliate(conn, affiliate_id, body.changes(),
                                     programme.actor_label(principal), runtime.clock.now())
    return affiliate_out(row, principal)
