"""``POST /api/v1/players/{id}/remap``: a manager moves a player to another affiliate (audited)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import StringConstraints

from clickledger.http.api.deps import ConnDep, ManagerDep, RuntimeDep
from clickledger.http.api.errors import not_found
from clickledger.http.api.schemas.common import IdText, StrictInput
from clickledger.services.programme import actor_label
from clickledger.services.registration import RemapError, remap_player

router = APIRouter(prefix="/api/v1/players", tags=["players"])


class Remap(StrictInput):
    affiliate_id: IdText | None  # null = organic
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=500)]


@router.post("/{player_id}/remap")
def remap(
    principal: ManagerDep, player_id: IdText, body: Remap, conn: ConnDep, runtime: RuntimeDep
) -> dict[str, Any]:
    """Rebind the player for life from now on; the change is in the audit log."""
    try:
        return remap_player(conn, player_id=player_id, affiliate_id=body.affiliate_id,
                            actor=actor_label(principal), reason=body.reason,
                            now=runtime.clock.now())
    except RemapError as exc:
        raise not_found(str(exc).removesuffix(" not found")) from exc
