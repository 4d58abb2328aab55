"""Ledger entries as the domain produces them: exact amounts, keys, sources and a sentence.

A draft carries the exact ``Decimal`` amount; the posting step quantizes it
once, half-up, to the currency's minor unit.  ``entry_key`` makes posting
idempotent and is stable across live evaluation and rebuild.  Corrections are
new entries that point at what they reverse.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from clickledger.domain.money import format_money, to_minor


class EntryKind(StrEnum):
    COMMISSION = "commission"
    REVERSAL = "reversal"
    ADJUSTMENT = "adjustment"
    PAYOUT = "payout"


@dataclass(frozen=True, slots=True)
class EntryDraft:
    """One ledger line before posting."""

    entry_key: str
    kind: EntryKind
    affiliate_id: str
    amount: Decimal
    currency: str
    deal_type: str
    caused_at: datetime  # decides the natural period
    explanation: str
    source_event_ids: tuple[str, ...] = ()
    player_id: str | None = None
    deal_version_id: str | None = None
    reverses_key: str | None = None
    conversion_kind: str | None = None  # cpa | cpl when the line pays a conversion

    @property
    def amount_minor(self) -> int:
        return to_minor(self.amount, self.currency)

    def as_late_adjustment(self, period_label: str) -> EntryDraft:
        """The same line booked into a later open period because its own is closed."""
        kind = EntryKind.ADJUSTMENT if self.kind is EntryKind.COMMISSION else self.kind
        note = f" [late: belongs to closed period {period_label}]"
        return replace(self, kind=kind, explanation=(self.explanation + note)[:1000])


@dataclass(frozen=True, slots=True)
class PostedLine:
    """A line already in the ledger, as much as the domain needs to reverse or share it."""

    entry_id: str
    entry_key: str
    kind: str
    affiliate_id: str
    player_id: str | None
    amount_minor: int
    currency: str
    deal_type: str | None
    deal_version_id: str | None
    source_event_ids: tuple[str, ...]
    explanation: str


def reversal_of(line: PostedLine, cause: str, cause_event_id: str | None, at: datetime,
                amount: Decimal) -> EntryDraft:
    """The entry cancelling ``line`` (``amount`` is the exact posted amount, negated here)."""
    sources = (*line.source_event_ids, cause_event_id) if cause_event_id else line.source_event_ids
    text = (f"Reversal {format_money(-amount, line.currency)} of {line.deal_type or 'entry'} "
            f"line {line.entry_key}: {cause}")
    return EntryDraft(
        entry_key=f"rev:{line.entry_key}", kind=EntryKind.REVERSAL,
        affiliate_id=line.affiliate_id, amount=-amount, currency=line.currency,
        deal_type=line.deal_type or "", caused_at=at, explanation=text[:1000],
        source_event_ids=tuple(dict.fromkeys(sources)), player_id=line.player_id,
        deal_version_id=line.deal_version_id, reverses_key=line.entry_key,
    )
