"""Hybrid: a CPA and a (usually lower) RevShare on the same player, each with its own terms."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from clickledger.domain.deals.cpa import CpaTerms
from clickledger.domain.deals.revshare import RevShareTerms
from clickledger.domain.terms import TermsError


@dataclass(frozen=True, slots=True)
class HybridTerms:
    cpa: CpaTerms
    revshare: RevShareTerms

    @classmethod
    def parse(cls, terms: Mapping[str, Any]) -> HybridTerms:
        cpa, revshare = terms.get("cpa"), terms.get("revshare")
        if not isinstance(cpa, Mapping) or not isinstance(revshare, Mapping):
            raise TermsError("a hybrid deal needs a cpa object and a revshare object")
        return cls(CpaTerms.parse(cpa), RevShareTerms.parse(revshare))
