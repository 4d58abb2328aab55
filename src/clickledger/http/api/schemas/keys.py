"""API key, caller and audit log schemas."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator

from clickledger.clock import utc
from clickledger.domain.roles import Role
from clickledger.http.api.schemas.common import IdText, Name, ReadModel, StrictInput, UtcTime


def _utc_or_none(value: datetime | None) -> datetime | None:
    return utc(value) if value is not None else None


OptionalUtcTime = Annotated[datetime | None, AfterValidator(_utc_or_none)]


class ApiKeyCreate(StrictInput):
    """``affiliate_id`` only and always for affiliate keys, ``integration_id`` for
    integration keys."""

    role: Role
    name: Name
    affiliate_id: IdText | None = None
    integration_id: IdText | None = None


class ApiKeyRead(ReadModel):
    id: str
    prefix: str
    role: str
    name: str
    affiliate_id: str | None
    integration_id: str | None
    created_at: UtcTime
    revoked_at: OptionalUtcTime


class ApiKeyIssued(ApiKeyRead):
    """The new key; ``token`` is shown only here, once, and never stored."""

    token: str


class MeRead(ReadModel):
    key_id: str
    name: str
    role: str
    affiliate_id: str | None
    integration_id: str | None
    visible_affiliate_ids: list[str] | None


class AuditRead(ReadModel):
    id: str
    at: UtcTime
    actor: str
    action: str
    entity: str
    entity_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
