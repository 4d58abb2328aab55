"""Money: ISO-4217 currencies, integer minor units, ``Decimal`` arithmetic.

Amounts live in code as ``Decimal`` at full precision and are quantized once,
half-up, to the currency's minor unit when a ledger entry is posted.  The
database holds integer minor units beside the currency code.
"""

from __future__ import annotations

import decimal
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

# ISO-4217 minor units for the currencies operators, brokers and affiliates use.
MINOR_UNITS: dict[str, int] = {
    "AED": 2, "ARS": 2, "AUD": 2, "BGN": 2, "BHD": 3, "BRL": 2, "BTC": 8, "CAD": 2,
    "CHF": 2, "CLP": 0, "CNY": 2, "COP": 2, "CZK": 2, "DKK": 2, "EUR": 2, "GBP": 2,
    "GEL": 2, "HKD": 2, "HUF": 2, "IDR": 2, "ILS": 2, "INR": 2, "ISK": 0, "JOD": 3,
    "JPY": 0, "KES": 2, "KRW": 0, "KWD": 3, "KZT": 2, "MXN": 2, "MYR": 2, "NGN": 2,
    "NOK": 2, "NZD": 2, "OMR": 3, "PEN": 2, "PHP": 2, "PKR": 2, "PLN": 2, "RON": 2,
    "RSD": 2, "RUB": 2, "SAR": 2, "SEK": 2, "SGD": 2, "THB": 2, "TND": 3, "TRY": 2,
    "TWD": 2, "UAH": 2, "USD": 2, "USDT": 2, "VND": 0, "ZAR": 2,
}

MAX_AMOUNT_MINOR = 10**15  # one quadrillion minor units: beyond any real single amount


class MoneyError(ValueError):
    """A currency or amount that cannot be money."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def normalize_currency(code: str) -> str:
    """Upper-case ``code`` and check it is a known ISO-4217 currency."""
    upper = code.strip().upper()
    if upper not in MINOR_UNITS:
        raise MoneyError("unknown_currency", f"unknown currency {code!r}")
    return upper


def minor_exponent(currency: str) -> int:
    """Number of decimal places of ``currency``'s minor unit (EUR 2, JPY 0, KWD 3)."""
    return MINOR_UNITS[normalize_currency(currency)]


def quantum(currency: str) -> Decimal:
    """The smallest amount of ``currency`` as a Decimal (0.01 for EUR, 1 for JPY)."""
    return Decimal(1).scaleb(-minor_exponent(currency))


def quantize(amount: Decimal, currency: str) -> Decimal:
    """Round ``amount`` half-up to ``currency``'s minor unit: done once, at posting."""
    return amount.quantize(quantum(currency), rounding=ROUND_HALF_UP)


def to_minor(amount: Decimal, currency: str) -> int:
    """Quantize ``amount`` and express it in integer minor units."""
    return int(quantize(amount, currency).scaleb(minor_exponent(currency)))


def from_minor(amount_minor: int, currency: str) -> Decimal:
    """Integer minor units to an exact Decimal in major units."""
    return Decimal(amount_minor).scaleb(-minor_exponent(currency))


def parse_amount(text: str) -> Decimal:
    """Parse a decimal amount from text; a lone decimal comma (``12,34``) is accepted.

    Thousands separators are refused rather than guessed: ``1,234.50`` and
    ``1.234,50`` are ambiguous across locales.
    """
    raw = text.strip()
    if "," in raw:
        if "." in raw or raw.count(",") != 1:
            raise MoneyError("invalid_amount", f"ambiguous amount {text!r}")
        raw = raw.replace(",", ".")
    try:
        value = Decimal(raw)
    except decimal.InvalidOperation as exc:
        raise MoneyError("invalid_amount", f"not a number: {text!r}") from exc
    if not value.is_finite():
        raise MoneyError("invalid_amount", f"not a finite number: {text!r}")
    return value


def format_money(amount: Decimal, currency: str) -> str:
    """``200.00 EUR`` style text with the currency's own number of decimals."""
    return f"{quantize(amount, currency)} {normalize_currency(currency)}"


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in one currency, at full Decimal precision until posted."""

    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount, Decimal):
            raise MoneyError("invalid_amount", "Money needs a Decimal amount")
        object.__setattr__(self, "currency", normalize_currency(self.currency))

    @classmethod
    def of_minor(cls, amount_minor: int, currency: str) -> Money:
        return cls(from_minor(amount_minor, currency), currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(Decimal(0), currency)

    def _same(self, other: Money) -> None:
        if other.currency != self.currency:
            raise MoneyError(
                "currency_mismatch", f"cannot mix {self.currency} and {other.currency}"
            )

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def times(self, factor: Decimal) -> Money:
        return Money(self.amount * factor, self.currency)

    def minor(self) -> int:
        """Quantized integer minor units (the posting step)."""
        return to_minor(self.amount, self.currency)

    def quantized(self) -> Money:
        return Money(quantize(self.amount, self.currency), self.currency)

    def __str__(self) -> str:
        return format_money(self.amount, self.currency)
