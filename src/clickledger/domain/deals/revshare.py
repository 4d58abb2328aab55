"""RevShare: a % of the period's NGR, flat or tiered, with the deal's negative-carryover mode.

NGR per brand formula: ``GGR − bonuses − chargebacks − admin fee % × GGR``,
each deduction switched on or off by the brand.  Tiers select the rate for
the whole period NGR by the NGR reached (``tier_basis: ngr``) or by the
number of qualified players in the period (``tier_basis: qualified_players``).

Carryover modes (per deal):
- ``carry_forward``: a negative period pays nothing and its NGR is deducted
  from the following periods until recovered;
- ``reset``: a negative period pays nothing and is forgotten at period end;
- ``none``: no floor — a negative period posts a negative RevShare line that
  nets against the affiliate's other earnings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from clickledger.domain.money import format_money
from clickledger.domain.terms import TermsError, fmt_number, opt_decimal, opt_int, pct, req_decimal

ZERO = Decimal(0)


class Carryover(StrEnum):
    CARRY_FORWARD = "carry_forward"
    RESET = "reset"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class RevShareTerms:
    pct: Decimal
    tiers: tuple[tuple[Decimal, Decimal], ...]  # (threshold, pct), ascending
    tier_basis: str  # ngr | qualified_players
    carryover: Carryover

    @classmethod
    def parse(cls, terms: Mapping[str, Any]) -> RevShareTerms:
        basis = str(terms.get("tier_basis") or "ngr")
        if basis not in ("ngr", "qualified_players"):
            raise TermsError("tier_basis must be ngr or qualified_players")
        try:
            carry = Carryover(str(terms.get("carryover") or "carry_forward"))
        except ValueError as exc:
            raise TermsError("carryover must be carry_forward, reset or none") from exc
        tiers: list[tuple[Decimal, Decimal]] = []
        for index, tier in enumerate(terms.get("tiers") or []):
            if not isinstance(tier, Mapping):
                raise TermsError(f"tiers[{index}] must be an object")
            if basis == "ngr":
                threshold = opt_decimal(tier, "min_ngr")
            else:
                players = opt_int(tier, "min_players")
                threshold = None if players is None else Decimal(players)
            if threshold is None:
                raise TermsError(f"tiers[{index}] needs min_ngr or min_players (per tier_basis)")
            tiers.append((threshold, req_decimal(tier, "pct")))
        rate = req_decimal(terms, "pct")
        if not ZERO <= rate <= Decimal(100):
            raise TermsError("pct must be between 0 and 100")
        return cls(rate, tuple(sorted(tiers)), basis, carry)


@dataclass(frozen=True, slots=True)
class NgrFormula:
    """A brand's NGR formula."""

    deduct_bonuses: bool = True
    deduct_chargebacks: bool = True
    admin_fee_pct: Decimal = ZERO


@dataclass(frozen=True, slots=True)
class NgrParts:
    """Summed activity in the deal currency."""

    bets: Decimal = ZERO
    wins: Decimal = ZERO
    bonus: Decimal = ZERO
    chargebacks: Decimal = ZERO

    def __add__(self, other: NgrParts) -> NgrParts:
        return NgrParts(self.bets + other.bets, self.wins + other.wins,
                        self.bonus + other.bonus, self.chargebacks + other.chargebacks)


@dataclass(frozen=True, slots=True)
class Ngr:
    ggr: Decimal
    bonuses: Decimal
    chargebacks: Decimal
    admin_fee: Decimal
    admin_fee_pct: Decimal

    @property
    def value(self) -> Decimal:
        return self.ggr - self.bonuses - self.chargebacks - self.admin_fee

    def describe(self, currency: str) -> str:
        text = f"GGR {format_money(self.ggr, currency)}"
        text += f" − bonuses {format_money(self.bonuses, currency)}"
        text += f" − chargebacks {format_money(self.chargebacks, currency)}"
        if self.admin_fee_pct:
            text += (f" − admin fee {fmt_number(self.admin_fee_pct)}% of GGR "
                     f"{format_money(self.admin_fee, currency)}")
        return text


def ngr_of(parts: NgrParts, formula: NgrFormula) -> Ngr:
    """Apply the brand's formula to summed activity."""
    ggr = parts.bets - parts.wins
    return Ngr(
        ggr=ggr,
        bonuses=parts.bonus if formula.deduct_bonuses else ZERO,
        chargebacks=parts.chargebacks if formula.deduct_chargebacks else ZERO,
        admin_fee=ggr * pct(formula.admin_fee_pct),
        admin_fee_pct=formula.admin_fee_pct,
    )


def rate_for(terms: RevShareTerms, total_ngr: Decimal, qualified_players: int) -> Decimal:
    """The % for the period: the highest tier whose threshold is reached, else the base."""
    measure = total_ngr if terms.tier_basis == "ngr" else Decimal(qualified_players)
    rate = terms.pct
    for threshold, tier_pct in terms.tiers:
        if measure >= threshold:
            rate = tier_pct
    return rate


@dataclass(frozen=True, slots=True)
class Segment:
    """The part of a period under one deal version (a deal can change mid-period)."""

    key: str
    terms: RevShareTerms
    ngr: Ngr
    rows: int
    label: str  # e.g. "v2 from 2026-01-15"


@dataclass(frozen=True, slots=True)
class Line:
    key: str
    amount: Decimal
    text: str


@dataclass(frozen=True, slots=True)
class PeriodResult:
    lines: tuple[Line, ...]
    carry_out: Decimal  # ≤ 0, NGR still to recover in later periods


def close_period(segments: Sequence[Segment], carried_in: Decimal, qualified_players: int,
                 currency: str, period_label: str, name: str = "RevShare") -> PeriodResult:
    """The period's RevShare lines (one per version segment, plus carryover) and what carries."""
    if not segments:
        return PeriodResult((), carried_in)
    last = segments[-1].terms
    total = sum((s.ngr.value for s in segments), ZERO)
    if last.carryover is not Carryover.CARRY_FORWARD:
        carried_in = ZERO
    effective = total + carried_in
    if last.carryover is not Carryover.NONE and effective < 0:
        return PeriodResult((), effective if last.carryover is Carryover.CARRY_FORWARD else ZERO)
    lines: list[Line] = []
    for seg in segments:
        rate = rate_for(seg.terms, total, qualified_players)
        amount = seg.ngr.value * pct(rate)
        tier = "" if rate == seg.terms.pct else f" (tier at period NGR {fmt_number(total)})"
        lines.append(Line(seg.key, amount,
                          f"{name} {format_money(amount, currency)}: {fmt_number(rate)}% of NGR "
                          f"{format_money(seg.ngr.value, currency)}{tier} "
                          f"({seg.ngr.describe(currency)}) for {period_label}, {seg.label}, "
                          f"{seg.rows} activity rows"))
    if carried_in < 0:
        rate = rate_for(last, total, qualified_players)
        amount = carried_in * pct(rate)
        lines.append(Line("carry", amount,
                          f"{name} carryover {format_money(amount, currency)}: {fmt_number(rate)}% "
                          f"of negative NGR {format_money(carried_in, currency)} carried from "
                          f"earlier periods into {period_label}"))
    return PeriodResult(tuple(lines), ZERO)
