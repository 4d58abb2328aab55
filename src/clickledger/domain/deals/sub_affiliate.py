"""Sub-affiliates: a % of each recruit's commission line, over one or several levels.

Terms ``{"levels_pct": ["5", "2", "1"]}``: the direct parent earns 5 % of its
sub-affiliate's lines, the grandparent 2 %, the great-grandparent 1 %.  Shares
are of the recruit's posted amount, so the affiliate can check them by hand.
Sub-affiliate lines themselves never generate further shares.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from clickledger.domain.ledger import EntryDraft, EntryKind
from clickledger.domain.money import format_money
from clickledger.domain.terms import TermsError, fmt_number, pct, to_decimal

MAX_LEVELS = 10


@dataclass(frozen=True, slots=True)
class SubAffiliateTerms:
    levels_pct: tuple[Decimal, ...]

    @classmethod
    def parse(cls, terms: Mapping[str, Any]) -> SubAffiliateTerms:
        levels = terms.get("levels_pct")
        if not isinstance(levels, list) or not levels or len(levels) > MAX_LEVELS:
            raise TermsError(f"levels_pct must be a list of 1 to {MAX_LEVELS} percentages")
        return cls(tuple(to_decimal(v, f"levels_pct[{i}]") for i, v in enumerate(levels)))


@dataclass(frozen=True, slots=True)
class Ancestor:
    """An affiliate above the earner, at ``level`` (1 = direct parent), with its sub deal."""

    affiliate_id: str
    level: int
    terms: SubAffiliateTerms
    deal_version_id: str
    currency_note: str = ""


def shares_of(line: EntryDraft, posted_amount: Decimal, earner_name: str,
              ancestors: list[Ancestor]) -> list[EntryDraft]:
    """The parents' lines for one commission line of ``earner_name`` (posted amount given)."""
    drafts: list[EntryDraft] = []
    for ancestor in ancestors:
        if ancestor.level > len(ancestor.terms.levels_pct):
            continue
        rate = ancestor.terms.levels_pct[ancestor.level - 1]
        amount = posted_amount * pct(rate)
        text = (f"Sub-affiliate L{ancestor.level} {format_money(amount, line.currency)}: "
                f"{fmt_number(rate)}% of {earner_name}'s {line.deal_type} line "
                f"{format_money(posted_amount, line.currency)}")
        kind = EntryKind.REVERSAL if line.kind is EntryKind.REVERSAL else EntryKind.COMMISSION
        drafts.append(EntryDraft(
            entry_key=f"sub:{ancestor.affiliate_id}:{line.entry_key}", kind=kind,
            affiliate_id=ancestor.affiliate_id, amount=amount, currency=line.currency,
            deal_type="sub_affiliate", caused_at=line.caused_at, explanation=text[:1000],
            source_event_ids=line.source_event_ids, player_id=line.player_id,
            deal_version_id=ancestor.deal_version_id,
            reverses_key=(f"sub:{ancestor.affiliate_id}:{line.reverses_key}"
                          if line.reverses_key else None),
        ))
    return drafts
