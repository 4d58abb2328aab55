"""``/api/v1/integrations``: operator integrations (managers) and their health.

Creating an integration answers its signing secret, API key and pixel key
once; they are never shown again.  ``GET …/{id}/health`` is open to managers
and to the integration's own API key (any other caller gets 404).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import Field, StringConstraints

from clickledger.domain.roles import Role
from clickledger.http.api.deps import ConnDep, ManagerDep, PrincipalDep, RuntimeDep
from clickledger.http.api.errors import ApiError, not_found
from clickledger.http.api.schemas.common import IdText, Name, StrictInput
from clickledger.services import integration_health as ih
from clickledger.services.programme import actor_label

router = APIRouter(prefix="/api/v1/integrations", tags=["integrations"])

MapKey = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class IntegrationCreate(StrictInput):
    brand_id: IdText
    name: Name
    ip_allowlist: list[Annotated[str, StringConstraints(max_length=64)]] | None = Field(
        default=None, max_length=100)
    parameter_map: dict[MapKey, MapKey] | None = Field(default=None, max_length=100)
    status_map: dict[MapKey, MapKey] | None = Field(default=None, max_length=100)
    require_signature: bool = True
    pixel: bool = False


@router.post("", status_code=201)
def create_integration(
    principal: ManagerDep, body: IntegrationCreate, conn: ConnDep, runtime: RuntimeDep
) -> dict[str, Any]:
    """Create an integration; the answer holds its secrets, shown this once."""
    spec = ih.NewIntegration(**body.model_dump())
    try:
        return ih.create_integration(conn, spec, actor=actor_label(principal),
                                     now=runtime.clock.now())
    except ih.IntegrationError as exc:
        if exc.code == "unknown_brand":
            raise not_found("brand") from exc
        raise ApiError(422, exc.code, str(exc)) from exc


@router.get("")
def list_integrations(principal: ManagerDep, conn: ConnDep) -> dict[str, Any]:
    return {"items": ih.list_integrations(conn)}


@router.get("/{integration_id}")
def get_integration(principal: ManagerDep, integration_id: IdText, conn: ConnDep) -> dict[str, Any]:
    row = ih.get_integration(conn, integration_id)
    if row is None:
        raise not_found("integration")
    return ih.describe(row)


@router.get("/{integration_id}/health")
def integration_health(
    principal: PrincipalDep, integration_id: IdText, conn: ConnDep, runtime: RuntimeDep,
    hours: Annotated[int, Query(ge=1, le=ih.MAX_HEALTH_HOURS)] = 24,
) -> dict[str, Any]:
    """Last event, events per hour, duplicates, rejections and lag."""
    own = principal.role is Role.INTEGRATION and principal.integration_id == integration_id
    if principal.role is not Role.MANAGER and not own:
        raise not_found("integration")
    if ih.get_integration(conn, integration_id) is None:
        raise not_found("integration")
    return ih.health(conn, integration_id, now=runtime.clock.now(), hours=hours)
