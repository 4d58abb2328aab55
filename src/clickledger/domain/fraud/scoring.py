"""The scorer: weighted rule points → one score and an action by thresholds.

Points are integers.  Each family's points are summed, capped at
``family_cap_points`` (so one noisy family cannot reject alone through many
checks), then scaled by the family's weight in percent.  The action is the
highest threshold the score reaches: ``reject_at`` ≥ ``hold_at`` ≥ ``flag_at``.

Default thresholds, and why: a single weak signal (a traveller's geo mismatch,
a shared NAT address, a missing Accept-Language: 20–40 points) only flags for
review; one strong signal (headless browser, a registration seconds after the
click, the affiliate's own login IP, a card or device shared by three players,
a bonus taken and cashed out unplayed, wash trades: 50–80) or two weak ones
together hold the commission; only independent strong signals together
(≥ 100) reject.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from clickledger.domain.fraud.signals import RULE_FAMILIES, Signal


class Action(StrEnum):
    ALLOW = "allow"
    FLAG = "flag"
    HOLD = "hold"
    REJECT = "reject"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {Action.ALLOW: 0, Action.FLAG: 1, Action.HOLD: 2, Action.REJECT: 3}


def _default_weights() -> dict[str, int]:
    return dict.fromkeys(RULE_FAMILIES, 100)


@dataclass(frozen=True, slots=True)
class FraudPolicy:
    """Thresholds (in weighted points) and per-family weights (percent)."""

    flag_at: int = 25
    hold_at: int = 50
    reject_at: int = 100
    family_cap_points: int = 100
    weights_pct: Mapping[str, int] = field(default_factory=_default_weights)

    def __post_init__(self) -> None:
        if not 0 < self.flag_at <= self.hold_at <= self.reject_at:
            raise ValueError("thresholds must satisfy 0 < flag_at <= hold_at <= reject_at")
        if any(weight < 0 for weight in self.weights_pct.values()):
            raise ValueError("weights must not be negative")

    def action_for(self, score_points: int) -> Action:
        if score_points >= self.reject_at:
            return Action.REJECT
        if score_points >= self.hold_at:
            return Action.HOLD
        if score_points >= self.flag_at:
            return Action.FLAG
        return Action.ALLOW


@dataclass(frozen=True, slots=True)
class Verdict:
    """The combined score, the action it leads to and the signals behind it."""

    score: int
    action: Action
    signals: tuple[Signal, ...]
    family_points: Mapping[str, int]


def merge_signals(*groups: Iterable[Signal]) -> list[Signal]:
    """One signal per check (the highest points win), in first-seen order."""
    best: dict[str, Signal] = {}
    for group in groups:
        for signal in group:
            current = best.get(signal.key)
            if current is None or signal.points > current.points:
                best[signal.key] = signal
    return list(best.values())


def score(signals: Iterable[Signal], policy: FraudPolicy) -> Verdict:
    """Combine ``signals`` (merged per check) into a verdict under ``policy``."""
    merged = merge_signals(signals)
    raw: dict[str, int] = {}
    for signal in merged:
        raw[signal.family] = raw.get(signal.family, 0) + max(signal.points, 0)
    family_points = {
        family: min(points, policy.family_cap_points) * policy.weights_pct.get(family, 100) // 100
        for family, points in raw.items()
    }
    total = sum(family_points.values())
    return Verdict(
        score=total, action=policy.action_for(total), signals=tuple(merged),
        family_points=family_points,
    )
