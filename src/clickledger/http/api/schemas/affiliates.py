"""Affiliate schemas: what a manager sets, what an affiliate may change about itself."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, StringConstraints

from clickledger.http.api.schemas.common import (
    Currency,
    IdText,
    Name,
    PatchInput,
    ReadModel,
    StrictInput,
    UtcTime,
)

AffiliateStatus = Literal["pending", "active", "suspended"]
MAX_PAYMENT_FIELDS = 20

Email = Annotated[str, StringConstraints(
    strip_whitespace=True, to_lower=True, max_length=320,
    pattern=r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$",
)]
PaymentDetails = Annotated[
    dict[Annotated[str, StringConstraints(min_length=1, max_length=40)],
         Annotated[str, StringConstraints(max_length=200)]],
    Field(max_length=MAX_PAYMENT_FIELDS),
]


class AffiliateCreate(StrictInput):
    """``payment_details`` as for the payment-details route: ``{"method": "bank",
    "account_holder", "iban", "bic"}``, ``ewallet`` (provider, account_id) or ``crypto``
    (network, address); checked, and used as confirmed since a manager entered them."""

    name: Name
    email: Email
    parent_id: IdText | None = None
    status: AffiliateStatus = "pending"
    payout_currency: Currency
    payment_details: PaymentDetails | None = None


class AffiliateUpdate(PatchInput):
    """A manager's change; ``parent_id: null`` makes the affiliate a top-level one."""

    nullable: ClassVar[frozenset[str]] = frozenset({"parent_id", "payment_details"})

    name: Name | None = None
    email: Email | None = None
    parent_id: IdText | None = None
    status: AffiliateStatus | None = None
    payout_currency: Currency | None = None
    payment_details: PaymentDetails | None = None


class AffiliateSelfUpdate(PatchInput):
    """What an affiliate may change about itself here: its name; no status, parent or email.

    Payment details go through ``PUT /api/v1/affiliates/{id}/payment-details``
    and wait for a manager's confirmation."""

    name: Name | None = None


class AffiliateRead(ReadModel):
    """Payment details are shown to staff and to the affiliate itself, not to its parent."""

    id: str
    name: str
    email: str
    parent_id: str | None
    status: str
    payout_currency: str
    payment_method: str | None
    payment_details: dict[str, Any] | None
    pending_payment_details: dict[str, Any] | None
    created_at: UtcTime
    updated_at: UtcTime
