"""Qualification: when a referred player becomes a qualified (paid) player.

A rule combines a minimum first deposit, a minimum number and sum of
deposits, minimum wagering, minimum lots traded, a window in days after
registration and allowed countries.  Every amount is compared in the deal's
currency (the caller converts).  The result says whether and when the player
qualified and gives the words for the ledger line.

The player's first deposit (by time, whatever the operator labelled it) is its
FTD.  A deposit charged back before the player qualified counts for nothing
(neither the number nor the sum of deposits); when it is the FTD itself the
player can never qualify: a later deposit does not become the FTD.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from clickledger.domain.money import quantize
from clickledger.domain.terms import TermsError, fmt_number, opt_decimal, opt_int

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class QualificationRule:
    """What a player must do, within ``window_days`` of registering, to qualify."""

    min_ftd: Decimal = ZERO
    min_deposits_count: int = 1
    min_deposits_sum: Decimal = ZERO
    min_wagering: Decimal = ZERO
    min_lots: Decimal = ZERO
    window_days: int | None = None
    countries: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def parse(cls, terms: Mapping[str, Any] | None) -> QualificationRule:
        data = dict(terms or {})
        countries = data.get("countries") or []
        if not isinstance(countries, list):
            raise TermsError("qualification.countries must be a list of ISO country codes")
        window = opt_int(data, "window_days")
        if window is not None and window < 1:
            raise TermsError("qualification.window_days must be at least 1")
        return cls(
            min_ftd=opt_decimal(data, "min_ftd") or ZERO,
            min_deposits_count=opt_int(data, "min_deposits_count") or 1,
            min_deposits_sum=opt_decimal(data, "min_deposits_sum") or ZERO,
            min_wagering=opt_decimal(data, "min_wagering") or ZERO,
            min_lots=opt_decimal(data, "min_lots") or ZERO,
            window_days=window,
            countries=frozenset(str(c).upper() for c in countries),
        )


@dataclass(frozen=True, slots=True)
class Step:
    """One dated fact about a player, already in the deal's currency."""

    event_id: str
    at: datetime
    kind: str  # ftd | deposit | trade | activity
    amount: Decimal = ZERO  # deposit amount
    lots: Decimal = ZERO
    wagered: Decimal = ZERO
    charged_back: bool = False  # a deposit a chargeback or reversal undid


@dataclass(frozen=True, slots=True)
class PlayerFacts:
    """What we know about one player: registration, country and dated steps."""

    player_id: str
    registered_at: datetime | None
    country: str | None
    steps: Sequence[Step]


@dataclass(frozen=True, slots=True)
class Qualification:
    qualified: bool
    at: datetime | None
    reason: str
    source_event_ids: tuple[str, ...] = ()
    final: bool = False  # True when the player can never qualify any more


def window_start(facts: PlayerFacts) -> datetime | None:
    """Registration time, or the first step when an FTD arrived before its registration."""
    times = [s.at for s in facts.steps]
    if facts.registered_at is not None:
        times.append(facts.registered_at)
    return min(times) if times else None


def _fmt(value: Decimal) -> str:
    return fmt_number(value)


def evaluate(rule: QualificationRule, facts: PlayerFacts, currency: str) -> Qualification:
    """Walk the player's steps in time order and report the moment every criterion is met."""
    country = (facts.country or "").upper()
    if rule.countries and country not in rule.countries:
        return Qualification(False, None, f"country {country or '??'} not allowed", final=True)
    start = window_start(facts)
    if start is None:
        return Qualification(False, None, "no activity yet")
    deadline = start + timedelta(days=rule.window_days) if rule.window_days else None
    ordered = sorted(facts.steps, key=lambda s: (s.at, s.event_id))
    ftd: Step | None = None
    count, deposits, wagered, lots = 0, ZERO, ZERO, ZERO
    used: list[str] = []
    for step in ordered:
        if deadline is not None and step.at > deadline:
            break
        if step.kind in ("ftd", "deposit"):
            if ftd is None:
                ftd = step
            if step.charged_back:
                if step is ftd:
                    return Qualification(False, None, f"FTD {_fmt(ftd.amount)} charged back",
                                         final=True)
                continue
            count += 1
            deposits += step.amount
        lots += step.lots
        wagered += step.wagered
        used.append(step.event_id)
        if ftd is not None and _met(rule, ftd, count, deposits, wagered, lots):
            return Qualification(True, step.at, _reason(rule, ftd, count, deposits, wagered,
                                                        lots, currency), tuple(used))
    if ftd is not None and ftd.amount < rule.min_ftd:
        return Qualification(False, None, f"FTD {_fmt(ftd.amount)} < {_fmt(rule.min_ftd)}",
                             final=True)
    return Qualification(False, None, "criteria not met yet")


def _met(rule: QualificationRule, ftd: Step, count: int, deposits: Decimal, wagered: Decimal,
         lots: Decimal) -> bool:
    return (ftd.amount >= rule.min_ftd and count >= rule.min_deposits_count
            and deposits >= rule.min_deposits_sum and wagered >= rule.min_wagering
            and lots >= rule.min_lots)


def _reason(rule: QualificationRule, ftd: Step, count: int, deposits: Decimal, wagered: Decimal,
            lots: Decimal, currency: str) -> str:
    def money(value: Decimal) -> str:
        return str(quantize(value, currency))

    parts = [f"FTD {money(ftd.amount)} ≥ {money(rule.min_ftd)}"]
    if rule.min_deposits_count > 1:
        parts.append(f"{count} deposits ≥ {rule.min_deposits_count}")
    if rule.min_deposits_sum > 0:
        parts.append(f"deposits {money(deposits)} ≥ {money(rule.min_deposits_sum)}")
    if rule.min_wagering > 0:
        parts.append(f"wagered {money(wagered)} ≥ {money(rule.min_wagering)}")
    if rule.min_lots > 0:
        parts.append(f"{_fmt(lots)} lots ≥ {_fmt(rule.min_lots)}")
    text = " and ".join(parts)
    if rule.window_days:
        text += f" within {rule.window_days} days"
    if rule.countries:
        text += " (country allowed)"
    return text
