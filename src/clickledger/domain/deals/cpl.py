"""CPL: a fixed amount per registered (lead) player from an allowed country, capped per period."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from clickledger.domain.money import format_money
from clickledger.domain.terms import TermsError, opt_int, req_decimal


@dataclass(frozen=True, slots=True)
class CplTerms:
    amount: Decimal
    countries: frozenset[str]
    cap_per_period: int | None

    @classmethod
    def parse(cls, terms: Mapping[str, Any]) -> CplTerms:
        countries = terms.get("countries") or []
        if not isinstance(countries, list):
            raise TermsError("countries must be a list")
        cap = opt_int(terms, "cap_per_period")
        return cls(req_decimal(terms, "amount"), frozenset(str(c).upper() for c in countries), cap)


@dataclass(frozen=True, slots=True)
class CplOutcome:
    paid: bool
    amount: Decimal
    text: str
    final: bool = True


def cpl_for_lead(terms: CplTerms, country: str | None, rank: int, currency: str) -> CplOutcome:
    """The CPL for the ``rank``-th lead of the period from ``country``."""
    code = (country or "").upper()
    if terms.countries and code not in terms.countries:
        return CplOutcome(False, Decimal(0), f"country {code or '??'} not allowed")
    if terms.cap_per_period is not None and rank > terms.cap_per_period:
        return CplOutcome(False, Decimal(0),
                          f"cap of {terms.cap_per_period} leads per period reached (lead {rank})")
    where = f" from {code}" if terms.countries else ""
    return CplOutcome(True, terms.amount,
                      f"CPL {format_money(terms.amount, currency)}: registration{where}")
