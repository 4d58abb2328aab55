"""``/api/v1/tracking-links``: managers for anyone, affiliates for themselves and their subs."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends

from clickledger.domain.roles import Principal, Role
from clickledger.http.api.deps import ConnDep, ReaderDep, RuntimeDep, require
from clickledger.http.api.paging import PageDep, page_out
from clickledger.http.api.schemas.common import IdText, PageOut
from clickledger.http.api.schemas.links import LinkCreate, LinkRead, LinkUpdate
from clickledger.services import programme
from clickledger.store import tables as t

router = APIRouter(prefix="/api/v1/tracking-links", tags=["tracking links"])

LinkWriterDep = Annotated[Principal, Depends(require(Role.MANAGER, Role.AFFILIATE))]


@router.post("", status_code=201, response_model=LinkRead)
def create_link(
    principal: LinkWriterDep, body: LinkCreate, conn: ConnDep, runtime: RuntimeDep
) -> LinkRead:
    """Affiliates may create links for themselves and their subs, on active offers only."""
    row = programme.create_link(conn, body.model_dump(), principal, runtime.clock.now())
    return LinkRead.model_validate(row)


@router.get("", response_model=PageOut[LinkRead])
def list_links(
    principal: ReaderDep, page: PageDep, conn: ConnDep,
    affiliate_id: IdText | None = None,
    offer_id: IdText | None = None,
    status: Literal["active", "paused"] | None = None,
) -> PageOut[LinkRead]:
    filters = {"affiliate_id": affiliate_id, "offer_id": offer_id, "status": status}
    rows = programme.list_visible(conn, t.tracking_links, principal, filters,
                                  limit=page.limit, cursor=page.cursor)
    return page_out(LinkRead, rows)


@router.get("/{link_id}", response_model=LinkRead)
def get_link(principal: ReaderDep, link_id: str, conn: ConnDep) -> LinkRead:
    return LinkRead.model_validate(
        programme.get_visible(conn, t.tracking_links, link_id, principal, "tracking link")
    )


@router.patch("/{link_id}", response_model=LinkRead)
def update_link(
    principal: LinkWriterDep, link_id: str, body: LinkUpdate, conn: ConnDep, runtime: RuntimeDep
) -> LinkRead:
    row = programme.update_link(conn, link_id, body.changes(), principal, runtime.clock.now())
    return LinkRead.model_validate(row)
