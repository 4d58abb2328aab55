"""Conversion rate far above the affiliate's own history or its peers'.

The affiliate's FTDs per click in the recent window are compared with a
baseline: its own history when it has enough clicks there
(``min_history_clicks``), else its peers' (every affiliate of the programme).
It fires only when the excess is both large (``flag_ratio`` 4×, ``hold_ratio``
8×) and not chance: at least ``min_clicks`` (50) clicks and ``min_conversions``
(8) FTDs, and a Poisson excess of ``min_z`` (4) standard deviations over the
expected count.  Honest affiliates
differ from their peers by a factor of two or three; 8× is fake players.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import isqrt

from clickledger.domain.fraud.signals import Signal

FAMILY = "conversion_rate"


@dataclass(frozen=True, slots=True)
class RateLimits:
    min_clicks: int = 50
    min_conversions: int = 8
    min_history_clicks: int = 2000
    flag_ratio: int = 4
    hold_ratio: int = 8
    min_z: int = 4
    flag_points: int = 35
    hold_points: int = 55


@dataclass(frozen=True, slots=True)
class RateFacts:
    clicks: int
    conversions: int
    history_clicks: int
    history_conversions: int
    peer_clicks: int
    peer_conversions: int


def _baseline(facts: RateFacts, limits: RateLimits) -> tuple[str, int, int] | None:
    if facts.history_clicks >= limits.min_history_clicks and facts.history_conversions > 0:
        return "own history", facts.history_clicks, facts.history_conversions
    if facts.peer_clicks > 0 and facts.peer_conversions > 0:
        return "peers", facts.peer_clicks, facts.peer_conversions
    return None


def conversion_rate(facts: RateFacts, limits: RateLimits | None = None) -> list[Signal]:
    """A signal when the recent FTD rate is far above the baseline and beyond chance."""
    limits = limits or RateLimits()
    if facts.clicks < limits.min_clicks or facts.conversions < limits.min_conversions:
        return []
    baseline = _baseline(facts, limits)
    if baseline is None:
        return []
    label, base_clicks, base_conversions = baseline
    # expected conversions at the baseline rate, ×1000 to stay in integers
    expected_milli = facts.clicks * base_conversions * 1000 // base_clicks
    observed_milli = facts.conversions * 1000
    if observed_milli < expected_milli * limits.flag_ratio:
        return []
    excess_milli = observed_milli - expected_milli
    # z = excess / sqrt(expected): compare squares, in milli units
    if excess_milli * excess_milli < limits.min_z * limits.min_z * expected_milli * 1000:
        return []
    ratio_tenths = observed_milli * 10 // max(expected_milli, 1)
    hold = observed_milli >= expected_milli * limits.hold_ratio
    rate_ppm = facts.conversions * 1_000_000 // facts.clicks
    base_ppm = base_conversions * 1_000_000 // base_clicks
    return [Signal(
        FAMILY, "above_baseline", limits.hold_points if hold else limits.flag_points,
        f"{facts.conversions} FTDs from {facts.clicks} clicks "
        f"({_pct(rate_ppm)}) is "
        f"{ratio_tenths // 10}.{ratio_tenths % 10}× the {label} rate ({_pct(base_ppm)})",
        {"clicks": facts.clicks, "conversions": facts.conversions, "baseline": label,
         "baseline_rate_ppm": base_ppm, "rate_ppm": rate_ppm,
         "expected_conversions": expected_milli // 1000,
         "sigma_milli": isqrt(expected_milli * 1000)},
    )]


def _pct(ppm: int) -> str:
    return f"{ppm // 10_000}.{ppm % 10_000 // 100:02d}%"
