"""Offer schemas: a landing URL template with macros and the domains it may point to."""

from __future__ import annotations

from typing import Literal

from clickledger.http.api.schemas.common import (
    DomainList,
    IdText,
    LandingUrl,
    Name,
    PatchInput,
    ReadModel,
    StrictInput,
    UtcTime,
)

OfferStatus = Literal["active", "paused"]


class OfferCreate(StrictInput):
    """``landing_url`` may hold ``{click_id}``, ``{sub1}``..``{sub5}``, ``{affiliate_id}`` and
    ``{offer_id}``; its host must be one of ``allowed_domains`` (``*.example.com`` allowed)."""

    brand_id: IdText
    name: Name
    landing_url: LandingUrl
    allowed_domains: DomainList
    status: OfferStatus = "active"


class OfferUpdate(PatchInput):
    name: Name | None = None
    landing_url: LandingUrl | None = None
    allowed_domains: DomainList | None = None
    status: OfferStatus | None = None


class OfferRead(ReadModel):
    id: str
    brand_id: str
    name: str
    landing_url: str
    allowed_domains: list[str]
    status: str
    created_at: UtcTime
    updated_at: UtcTime
