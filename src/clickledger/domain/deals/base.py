"""What every deal shares: its kind, versions with effective dates and affiliate assignments.

The version in force at an event's time applies; an assignment links an
affiliate to a deal for a time range and may override any term.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from clickledger.domain.terms import merge


class DealKind(StrEnum):
    CPA = "cpa"
    CPL = "cpl"
    REVSHARE = "revshare"
    HYBRID = "hybrid"
    IB_REBATE = "ib_rebate"
    SUB_AFFILIATE = "sub_affiliate"


@dataclass(frozen=True, slots=True)
class DealVersion:
    """One immutable version of a deal's terms."""

    id: str
    deal_id: str
    deal_name: str
    brand_id: str
    kind: DealKind
    currency: str
    version: int
    effective_from: datetime
    terms: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Assignment:
    """An affiliate on a deal from ``effective_from`` until ``effective_to`` (open if None)."""

    id: str
    affiliate_id: str
    deal_id: str
    effective_from: datetime
    effective_to: datetime | None = None
    overrides: Mapping[str, Any] = field(default_factory=dict)

    def active_at(self, moment: datetime) -> bool:
        return self.effective_from <= moment and (
            self.effective_to is None or moment < self.effective_to
        )


def version_at(versions: Sequence[DealVersion], moment: datetime) -> DealVersion | None:
    """The version in force at ``moment``: the latest ``effective_from`` not after it."""
    best: DealVersion | None = None
    for version in versions:
        if version.effective_from <= moment and (
            best is None or (version.effective_from, version.version)
            > (best.effective_from, best.version)
        ):
            best = version
    return best


def effective_terms(version: DealVersion, assignment: Assignment) -> dict[str, Any]:
    """The version's terms with the affiliate's overrides applied."""
    return merge(version.terms, assignment.overrides)


def override_note(assignment: Assignment) -> str:
    """Text added to explanations when an affiliate-specific override is in force."""
    if not assignment.overrides:
        return ""
    return " (affiliate override: " + ", ".join(sorted(assignment.overrides)) + ")"
