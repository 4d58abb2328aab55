"""``/api/v1/api-keys`` (managers), ``/api/v1/me`` (any key), ``/api/v1/audit-log`` (staff)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from clickledger.domain.roles import Principal, Role
from clickledger.http.api.deps import (
    ConnDep,
    ManagerDep,
    PrincipalDep,
    RuntimeDep,
    StaffDep,
    require,
)
from clickledger.http.api.endpoints.affiliates import affiliate_out
from clickledger.http.api.paging import PageDep, page_out
from clickledger.http.api.schemas.affiliates import AffiliateRead, AffiliateSelfUpdate
from clickledger.http.api.schemas.common import IdText, PageOut
from clickledger.http.api.schemas.keys import (
    ApiKeyCreate,
    ApiKeyIssued,
    ApiKeyRead,
    AuditRead,
    MeRead,
)
from clickledger.services import api_keys, programme
from clickledger.store import paging
from clickledger.store import tables as t
from clickledger.store.programme import equality_filters

router = APIRouter(prefix="/api/v1", tags=["access"])

AffiliateDep = Annotated[Principal, Depends(require(Role.AFFILIATE))]


@router.post("/api-keys", status_code=201, response_model=ApiKeyIssued)
def create_api_key(
    principal: ManagerDep, body: ApiKeyCreate, conn: ConnDep, runtime: RuntimeDep
) -> ApiKeyIssued:
    """A new key; the ``token`` in this answer is the only time the secret is shown."""
    issued, row = api_keys.create_key(
        conn, role=body.role, name=body.name, actor=programme.actor_label(principal),
        now=runtime.clock.now(), affiliate_id=body.affiliate_id,
        integration_id=body.integration_id,
    )
    return ApiKeyIssued.model_validate({**row, "token": issued.token})


@router.get("/api-keys", response_model=PageOut[ApiKeyRead])
def list_api_keys(
    principal: ManagerDep, page: PageDep, conn: ConnDep,
    role: Role | None = None,
    affiliate_id: IdText | None = None,
    revoked: bool | None = None,
) -> PageOut[ApiKeyRead]:
    where = equality_filters(t.api_keys, {"role": role.value if role else None,
                                          "affiliate_id": affiliate_id})
    if revoked is not None:
        where.append(t.api_keys.c.revoked_at.is_not(None) if revoked
                     else t.api_keys.c.revoked_at.is_(None))
    rows = paging.fetch_page(conn, t.api_keys, where=where, limit=page.limit, cursor=page.cursor)
    return page_out(ApiKeyRead, rows)


@router.post("/api-keys/{key_id}/revoke", response_model=ApiKeyRead)
def revoke_api_key(
    principal: ManagerDep, key_id: str, conn: ConnDep, runtime: RuntimeDep
) -> ApiKeyRead:
    """Revoke a key at once; revoking a revoked key answers the same and changes nothing."""
    row = api_keys.revoke_key(conn, key_id, programme.actor_label(principal), runtime.clock.now())
    return ApiKeyRead.model_validate(row)


@router.get("/me", response_model=MeRead)
def who_am_i(principal: PrincipalDep) -> MeRead:
    """The caller's key, role and affiliate (for affiliates: the ids of its whole tree)."""
    visible = principal.visible_affiliate_ids
    return MeRead(
        key_id=principal.key_id, name=principal.name, role=principal.role.value,
        affiliate_id=principal.affiliate_id, integration_id=principal.integration_id,
        visible_affiliate_ids=sorted(visible) if visible is not None else None,
    )


@router.patch("/me/affiliate", response_model=AffiliateRead)
def update_my_affiliate(
    principal: AffiliateDep, body: AffiliateSelfUpdate, conn: ConnDep, runtime: RuntimeDep
) -> AffiliateRead:
    """An affiliate's own name and payment details (pending until a manager confirms them)."""
    assert principal.affiliate_id is not None
    row = programme.update_own_profile(conn, principal.affiliate_id, body.changes(),
                                       programme.actor_label(principal), runtime.clock.now())
    return affiliate_out(row, principal)


@router.get("/audit-log", response_model=PageOut[AuditRead])
def list_audit_log(
    principal: StaffDep, page: PageDep, conn: ConnDep,
    entity: Annotated[str | None, Query(max_length=60)] = None,
    entity_id: Annotated[str | None, Query(max_length=64)] = None,
    actor: Annotated[str | None, Query(max_length=200)] = None,
) -> PageOut[AuditRead]:
    """Every manual change, oldest first, filtered by entity, entity id or actor."""
    filters = {"entity": entity, "entity_id": entity_id, "actor": actor}
    rows = paging.fetch_page(conn, t.audit_log, where=equality_filters(t.audit_log, filters),
                             limit=page.limit, cursor=page.cursor)
    return page_out(AuditRead, rows)
