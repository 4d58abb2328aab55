"""Foreign exchange from a dated rate table, chosen deterministically.

The rate for (base, quote, day) is the latest rate on or before ``day``;
several sources on that same day are tie-broken by source name (first in
alphabetical order).  If only the inverse pair is known it is inverted
exactly.  Amounts keep full precision; rounding happens only at posting.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal


class FxError(LookupError):
    """No rate is known for a pair on or before a day."""

    def __init__(self, base: str, quote: str, day: date) -> None:
        super().__init__(f"no FX rate {base}→{quote} on or before {day.isoformat()}")
        self.base = base
        self.quote = quote
        self.day = day


@dataclass(frozen=True, slots=True)
class FxRate:
    """One imported rate: 1 ``base`` = ``rate`` ``quote`` on ``day`` according to ``source``."""

    day: date
    base: str
    quote: str
    rate: Decimal
    source: str


@dataclass(frozen=True, slots=True)
class Conversion:
    """An amount converted, with the rate that was used (for the explanation)."""

    amount: Decimal
    rate: Decimal
    rate_day: date
    source: str


class FxTable:
    """An in-memory rate table answering "which rate applies" the same way every time."""

    def __init__(self, rates: list[FxRate]) -> None:
        chosen: dict[tuple[str, str, date], FxRate] = {}
        for rate in rates:
            key = (rate.base, rate.quote, rate.day)
            best = chosen.get(key)
            if best is None or rate.source < best.source:
                chosen[key] = rate
        by_pair: dict[tuple[str, str], list[FxRate]] = defaultdict(list)
        for (base, quote, _day), rate in chosen.items():
            by_pair[(base, quote)].append(rate)
        self._pairs = {pair: sorted(rs, key=lambda r: r.day) for pair, rs in by_pair.items()}
        self._days = {pair: [r.day for r in rs] for pair, rs in self._pairs.items()}

    def _latest(self, base: str, quote: str, day: date) -> FxRate | None:
        days = self._days.get((base, quote))
        if not days:
            return None
        index = bisect_right(days, day)
        return self._pairs[(base, quote)][index - 1] if index else None

    def rate(self, base: str, quote: str, day: date) -> tuple[Decimal, date, str]:
        """The rate (quote per base), the day it is from and its source."""
        if base == quote:
            return Decimal(1), day, "identity"
        direct = self._latest(base, quote, day)
        inverse = self._latest(quote, base, day)
        if direct is not None and (inverse is None or direct.day >= inverse.day):
            return direct.rate, direct.day, direct.source
        if inverse is not None:
            return Decimal(1) / inverse.rate, inverse.day, inverse.source
        raise FxError(base, quote, day)

    def convert(self, amount: Decimal, base: str, quote: str, day: date) -> Conversion:
        """``amount`` in ``base`` expressed in ``quote`` at the rate in force on ``day``."""
        rate, rate_day, source = self.rate(base, quote, day)
        return Conversion(amount * rate, rate, rate_day, source)
