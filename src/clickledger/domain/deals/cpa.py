"""CPA and tiered CPA: a fixed amount per qualified player, capped per period.

Tiers are progressive by the player's rank among the affiliate's qualified
players of the period: with tiers ``[{min_players: 11, amount: 250}]`` players
1–10 earn the base amount and the 11th onwards 250.  Players beyond
``cap_per_period`` are not paid (their conversion is rejected with a reason).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from clickledger.domain.money import format_money
from clickledger.domain.qualification import QualificationRule
from clickledger.domain.terms import TermsError, opt_int, req_decimal


@dataclass(frozen=True, slots=True)
class CpaTerms:
    amount: Decimal
    tiers: tuple[tuple[int, Decimal], ...]  # (from rank, amount), ascending
    qualification: QualificationRule
    cap_per_period: int | None

    @classmethod
    def parse(cls, terms: Mapping[str, Any]) -> CpaTerms:
        amount = req_decimal(terms, "amount")
        if amount < 0:
            raise TermsError("amount must not be negative")
        tiers: list[tuple[int, Decimal]] = []
        for index, tier in enumerate(terms.get("tiers") or []):
            if not isinstance(tier, Mapping):
                raise TermsError(f"tiers[{index}] must be an object")
            rank = opt_int(tier, "min_players")
            if rank is None or rank < 1:
                raise TermsError(f"tiers[{index}].min_players must be ≥ 1")
            tiers.append((rank, req_decimal(tier, "amount")))
        cap = opt_int(terms, "cap_per_period")
        if cap is not None and cap < 0:
            raise TermsError("cap_per_period must not be negative")
        return cls(amount, tuple(sorted(tiers)),
                   QualificationRule.parse(terms.get("qualification")), cap)


@dataclass(frozen=True, slots=True)
class CpaOutcome:
    paid: bool
    amount: Decimal
    text: str


def cpa_for_rank(terms: CpaTerms, rank: int, currency: str, reason: str) -> CpaOutcome:
    """The CPA for the ``rank``-th qualified player of the period (1-based)."""
    if terms.cap_per_period is not None and rank > terms.cap_per_period:
        return CpaOutcome(False, Decimal(0),
                          f"cap of {terms.cap_per_period} qualified players per period reached "
                          f"(player {rank})")
    amount, tier_text = terms.amount, ""
    for from_rank, tier_amount in terms.tiers:
        if rank >= from_rank:
            amount, tier_text = tier_amount, f" (tier from player {from_rank}, player {rank})"
    return CpaOutcome(True, amount, f"CPA {format_money(amount, currency)}{tier_text}: {reason}")
