"""Brand schemas: a casino, sportsbook or Forex brand and its NGR formula."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated, ClassVar, Literal

from pydantic import AfterValidator, StringConstraints
from pydantic_core import PydanticCustomError

from clickledger.http.api.schemas.common import (
    Currency,
    Name,
    PatchInput,
    PlainUrl,
    ReadModel,
    StrictInput,
    UtcTime,
)

BrandKind = Literal["casino", "sportsbook", "forex"]
BrandStatus = Literal["active", "inactive"]
MAX_FEE_DECIMALS = 4


def _percent(value: str) -> str:
    """A percentage from 0 to 100 as exact decimal text (``"2.5"``), normalised."""
    try:
        number = Decimal(value)
    except InvalidOperation as exc:
        raise PydanticCustomError("invalid_percent", "not a decimal number") from exc
    if not number.is_finite() or not Decimal(0) <= number <= Decimal(100):
        raise PydanticCustomError("invalid_percent", "a percentage between 0 and 100")
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > MAX_FEE_DECIMALS:
        raise PydanticCustomError("invalid_percent", "at most 4 decimal places")
    return format(number.normalize(), "f") if number else "0"


Percent = Annotated[str, StringConstraints(strip_whitespace=True, max_length=20),
                    AfterValidator(_percent)]


class BrandCreate(StrictInput):
    name: Name
    kind: BrandKind
    default_currency: Currency
    fallback_url: PlainUrl | None = None
    ngr_deduct_bonuses: bool = True
    ngr_deduct_chargebacks: bool = True
    ngr_admin_fee_pct: Percent = "0"
    status: BrandStatus = "active"


class BrandUpdate(PatchInput):
    nullable: ClassVar[frozenset[str]] = frozenset({"fallback_url"})

    name: Name | None = None
    kind: BrandKind | None = None
    default_currency: Currency | None = None
    fallback_url: PlainUrl | None = None
    ngr_deduct_bonuses: bool | None = None
    ngr_deduct_chargebacks: bool | None = None
    ngr_admin_fee_pct: Percent | None = None
    status: BrandStatus | None = None


class BrandRead(ReadModel):
    id: str
    name: str
    kind: str
    default_currency: str
    fallback_url: str | None
    ngr_deduct_bonuses: bool
    ngr_deduct_chargebacks: bool
    ngr_admin_fee_pct: str
    status: str
    created_at: UtcTime
    updated_at: UtcTime
