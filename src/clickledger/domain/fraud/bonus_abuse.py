"""Bonus abuse: deposit, minimal play, withdrawal.

A player who takes a bonus, wagers less than the deposit once over and
withdraws most of it within days was after the bonus (or the affiliate's CPA),
not the game.  Limits: withdrawal ≥ ``withdrawn_pct`` (80 %) of deposits,
wagering < ``min_turnover_pct`` (100 %) of deposits, within ``max_hours`` (72)
of the first deposit: 70 points (hold) when a bonus was credited.  Without a
bonus the same shape is also a player who changed their mind and cashed out,
so it only flags (35) unless another signal joins it.
"""

from __future__ import annotations

from dataclasses import dataclass

from clickledger.domain.fraud.signals import Signal

FAMILY = "bonus_abuse"


@dataclass(frozen=True, slots=True)
class BonusLimits:
    withdrawn_pct: int = 80
    min_turnover_pct: int = 100
    max_hours: int = 72
    points: int = 35
    with_bonus_points: int = 70


@dataclass(frozen=True, slots=True)
class BonusFacts:
    """Amounts in minor units of one currency, from the first deposit to the withdrawal."""

    deposited_minor: int
    wagered_minor: int
    withdrawn_minor: int
    bonus_minor: int
    hours_deposit_to_withdrawal: int


def bonus_abuse(facts: BonusFacts, limits: BonusLimits | None = None) -> list[Signal]:
    """A signal when the deposit came back out with minimal play in between."""
    limits = limits or BonusLimits()
    deposited = facts.deposited_minor
    if deposited <= 0 or facts.withdrawn_minor <= 0:
        return []
    if facts.withdrawn_minor * 100 < deposited * limits.withdrawn_pct:
        return []
    if facts.wagered_minor * 100 >= deposited * limits.min_turnover_pct:
        return []
    if facts.hours_deposit_to_withdrawal > limits.max_hours:
        return []
    with_bonus = facts.bonus_minor > 0
    turnover_pct = facts.wagered_minor * 100 // deposited
    withdrawn_pct = facts.withdrawn_minor * 100 // deposited
    return [Signal(
        FAMILY, "deposit_minimal_play_withdrawal",
        limits.with_bonus_points if with_bonus else limits.points,
        f"withdrew {withdrawn_pct}% of the deposits {facts.hours_deposit_to_withdrawal} h after "
        f"depositing, having wagered only {turnover_pct}% of them"
        + (" after a bonus was credited" if with_bonus else ""),
        {"deposited_minor": deposited, "wagered_minor": facts.wagered_minor,
         "withdrawn_minor": facts.withdrawn_minor, "bonus_minor": facts.bonus_minor,
         "hours": facts.hours_deposit_to_withdrawal, "turnover_pct": turnover_pct},
    )]
