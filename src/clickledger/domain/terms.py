"""Reading deal terms (JSON) into exact values, with one clear error for bad input."""

from __future__ import annotations

import decimal
from collections.abc import Mapping
from decimal import Decimal
from typing import Any


class TermsError(ValueError):
    """Deal terms that cannot be used; the message names the field."""


def to_decimal(value: Any, name: str) -> Decimal:
    """An exact Decimal from JSON text or an integer (floats are refused: they are not exact)."""
    if isinstance(value, bool) or isinstance(value, float):
        raise TermsError(f"{name} must be a decimal string such as \"12.50\", not {value!r}")
    try:
        result = Decimal(str(value).strip())
    except decimal.InvalidOperation as exc:
        raise TermsError(f"{name} is not a number: {value!r}") from exc
    if not result.is_finite():
        raise TermsError(f"{name} must be finite")
    return result


def opt_decimal(data: Mapping[str, Any], key: str) -> Decimal | None:
    value = data.get(key)
    return None if value is None else to_decimal(value, key)


def req_decimal(data: Mapping[str, Any], key: str) -> Decimal:
    if data.get(key) is None:
        raise TermsError(f"{key} is required")
    return to_decimal(data[key], key)


def opt_int(data: Mapping[str, Any], key: str) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise TermsError(f"{key} must be a whole number")
    try:
        return int(value)
    except ValueError as exc:
        raise TermsError(f"{key} must be a whole number") from exc


def pct(value: Decimal) -> Decimal:
    """A percentage as a factor (25 → 0.25)."""
    return value / Decimal(100)


def fmt_number(value: Decimal) -> str:
    """A Decimal as plain text without exponent or trailing zeros (``0.5``, ``25``)."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def merge(base: Mapping[str, Any], overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    """Deal terms with a per-affiliate override applied (nested objects merged key by key)."""
    result: dict[str, Any] = dict(base)
    for key, value in (overrides or {}).items():
        current = result.get(key)
        if isinstance(value, Mapping) and isinstance(current, Mapping):
            result[key] = merge(current, value)
        else:
            result[key] = value
    return result
