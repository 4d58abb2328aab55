"""The one thing every rule returns: a scored, explained signal with its evidence."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

EvidenceValue = int | str | bool | None

RULE_FAMILIES: tuple[str, ...] = (
    "click_flooding", "bots", "geo_mismatch", "ctit", "duplicate_players", "self_referral",
    "bonus_abuse", "conversion_rate", "forex_churning",
)


@dataclass(frozen=True, slots=True)
class Signal:
    """One rule that fired: ``family`` (for weights and reports), a ``check`` name within
    it, integer ``points`` before weighting, a sentence for people and its ``evidence``.

    Evidence values are ints and strings only (Decimals as text), so they go to
    JSON unchanged and never mix with floats.
    """

    family: str
    check: str
    points: int
    reason: str
    evidence: Mapping[str, EvidenceValue] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """Identity of the signal for merging: the same check counts once per subject."""
        return f"{self.family}.{self.check}"

    def to_json(self) -> dict[str, Any]:
        return {
            "family": self.family, "check": self.check, "points": self.points,
            "reason": self.reason, "evidence": dict(self.evidence),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Signal:
        return cls(
            family=str(data["family"]), check=str(data["check"]), points=int(data["points"]),
            reason=str(data["reason"]), evidence=dict(data.get("evidence") or {}),
        )
