"""Tracking link and promo code schemas."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import StringConstraints

from clickledger.http.api.schemas.common import (
    IdText,
    PatchInput,
    ReadModel,
    StrictInput,
    SubId,
    UtcTime,
)

LinkStatus = Literal["active", "paused"]
PromoStatus = Literal["active", "paused"]

LinkCode = Annotated[str, StringConstraints(
    strip_whitespace=True, min_length=4, max_length=64, pattern=r"^[A-Za-z0-9_-]+$"
)]
PromoCodeText = Annotated[str, StringConstraints(
    strip_whitespace=True, to_upper=True, min_length=3, max_length=64,
    pattern=r"^[A-Za-z0-9_-]+$",
)]


class LinkCreate(StrictInput):
    """``code`` (url-safe, 4-64 characters) is generated when left out."""

    affiliate_id: IdText
    offer_id: IdText
    code: LinkCode | None = None
    sub1: SubId | None = None
    sub2: SubId | None = None
    sub3: SubId | None = None
    sub4: SubId | None = None
    sub5: SubId | None = None
    status: LinkStatus = "active"


class LinkUpdate(PatchInput):
    nullable: ClassVar[frozenset[str]] = frozenset({"sub1", "sub2", "sub3", "sub4", "sub5"})

    sub1: SubId | None = None
    sub2: SubId | None = None
    sub3: SubId | None = None
    sub4: SubId | None = None
    sub5: SubId | None = None
    status: LinkStatus | None = None


class LinkRead(ReadModel):
    id: str
    code: str
    affiliate_id: str
    offer_id: str
    sub1: str | None
    sub2: str | None
    sub3: str | None
    sub4: str | None
    sub5: str | None
    status: str
    created_at: UtcTime
    updated_at: UtcTime


class PromoCodeCreate(StrictInput):
    """The code is stored upper-case and is unique across brands."""

    code: PromoCodeText
    affiliate_id: IdText
    brand_id: IdText
    offer_id: IdText | None = None
    status: PromoStatus = "active"


class PromoCodeUpdate(PatchInput):
    nullable: ClassVar[frozenset[str]] = frozenset({"offer_id"})

    offer_id: IdText | None = None
    status: PromoStatus | None = None


class PromoCodeRead(ReadModel):
    id: str
    code: str
    affiliate_id: str
    brand_id: str
    offer_id: str | None
    status: str
    created_at: UtcTime
    updated_at: UtcTime
