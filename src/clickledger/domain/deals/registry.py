"""The registry: deal kind → terms parser; used to validate terms before they are stored."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from clickledger.domain.deals.base import DealKind
from clickledger.domain.deals.cpa import CpaTerms
from clickledger.domain.deals.cpl import CplTerms
from clickledger.domain.deals.hybrid import HybridTerms
from clickledger.domain.deals.ib_rebate import IbTerms
from clickledger.domain.deals.revshare import RevShareTerms
from clickledger.domain.deals.sub_affiliate import SubAffiliateTerms
from clickledger.domain.terms import TermsError

ParsedTerms = CpaTerms | CplTerms | RevShareTerms | HybridTerms | IbTerms | SubAffiliateTerms

PARSERS: dict[DealKind, Callable[[Mapping[str, Any]], ParsedTerms]] = {
    DealKind.CPA: CpaTerms.parse,
    DealKind.CPL: CplTerms.parse,
    DealKind.REVSHARE: RevShareTerms.parse,
    DealKind.HYBRID: HybridTerms.parse,
    DealKind.IB_REBATE: IbTerms.parse,
    DealKind.SUB_AFFILIATE: SubAffiliateTerms.parse,
}


def parse_terms(kind: DealKind | str, terms: Mapping[str, Any]) -> ParsedTerms:
    """Typed terms for ``kind``; ``TermsError`` names the bad field."""
    try:
        deal_kind = DealKind(kind)
    except ValueError as exc:
        raise TermsError(f"unknown deal kind {kind!r}") from exc
    if not isinstance(terms, Mapping):
        raise TermsError("terms must be an object")
    return PARSERS[deal_kind](terms)


def cpa_terms(kind: DealKind, parsed: ParsedTerms) -> CpaTerms | None:
    """The CPA part of a deal, if it has one."""
    if isinstance(parsed, CpaTerms):
        return parsed
    if isinstance(parsed, HybridTerms):
        return parsed.cpa
    del kind
    return None


def revshare_terms(parsed: ParsedTerms) -> RevShareTerms | None:
    """The RevShare part of a deal, if it has one."""
    if isinstance(parsed, RevShareTerms):
        return parsed
    if isinstance(parsed, HybridTerms):
        return parsed.revshare
    return None
