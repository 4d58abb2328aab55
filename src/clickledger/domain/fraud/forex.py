"""Forex churning and wash trading: opposite trades of the same size and instrument within
seconds, and lots traded only to reach a rebate threshold.

A trader opens and closes positions; a churner (or a bot farming an IB rebate)
opens and immediately closes the same size on the same instrument, over and
over, carrying no market risk and paying only the spread the IB is rebated on.
- wash: ≥ ``wash_min_pairs`` (5) buy/sell pairs of one size and instrument no
  more than ``wash_seconds`` (5) apart, making ≥ ``wash_share_pct`` (50 %) of
  the volume: 70 points (hold).  Scalpers hold for tens of seconds to minutes
  and vary their sizes, so they do not pair this tightly;
- rebate threshold: the volume has just reached the deal's lot threshold
  (within ``threshold_margin_pct`` 15 % above it) and ≥ ``round_trip_share_pct``
  (80 %) of it was round trips held ≤ ``round_trip_seconds`` (60): 45 (flag).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from clickledger.domain.fraud.signals import Signal

FAMILY = "forex_churning"


@dataclass(frozen=True, slots=True)
class ForexLimits:
    wash_seconds: int = 5
    wash_min_pairs: int = 5
    wash_share_pct: int = 50
    wash_points: int = 70
    round_trip_seconds: int = 60
    round_trip_share_pct: int = 80
    threshold_margin_pct: int = 15
    threshold_points: int = 45


@dataclass(frozen=True, slots=True)
class Trade:
    at_seconds: int  # unix seconds
    instrument: str
    side: str  # buy | sell
    lots_milli: int


def paired_volume(trades: Sequence[Trade], max_gap_seconds: int) -> tuple[int, int]:
    """(pairs, lots_milli in pairs): each trade pairs at most once with the nearest later
    opposite trade of the same instrument and size within ``max_gap_seconds``."""
    ordered = sorted(trades, key=lambda trade: trade.at_seconds)
    used = [False] * len(ordered)
    pairs = 0
    lots_milli = 0
    for i, first in enumerate(ordered):
        if used[i]:
            continue
        for j in range(i + 1, len(ordered)):
            second = ordered[j]
            if second.at_seconds - first.at_seconds > max_gap_seconds:
                break
            if used[j] or second.instrument != first.instrument:
                continue
            if second.side != first.side and second.lots_milli == first.lots_milli:
                used[i] = used[j] = True
                pairs += 1
                lots_milli += first.lots_milli + second.lots_milli
                break
    return pairs, lots_milli


def _wash(trades: Sequence[Trade], total_milli: int, limits: ForexLimits) -> list[Signal]:
    pairs, paired_milli = paired_volume(trades, limits.wash_seconds)
    if pairs < limits.wash_min_pairs or paired_milli * 100 < total_milli * limits.wash_share_pct:
        return []
    share = paired_milli * 100 // total_milli
    return [Signal(FAMILY, "wash_trades", limits.wash_points,
                   f"{pairs} buy/sell pairs of the same size and instrument within "
                   f"{limits.wash_seconds} s, {share}% of the volume",
                   {"pairs": pairs, "paired_lots_milli": paired_milli,
                    "total_lots_milli": total_milli, "window_seconds": limits.wash_seconds})]


def _threshold(trades: Sequence[Trade], total_milli: int, threshold_milli: int | None,
               limits: ForexLimits) -> list[Signal]:
    if not threshold_milli or total_milli < threshold_milli:
        return []
    if total_milli * 100 > threshold_milli * (100 + limits.threshold_margin_pct):
        return []
    _pairs, trip_milli = paired_volume(trades, limits.round_trip_seconds)
    if trip_milli * 100 < total_milli * limits.round_trip_share_pct:
        return []
    trip_pct = trip_milli * 100 // total_milli
    return [Signal(FAMILY, "rebate_threshold", limits.threshold_points,
                   f"{_lots(total_milli)} lots traded, just over "
                   f"the {_lots(threshold_milli)}-lot threshold, {trip_pct}% "
                   f"in round trips held ≤ {limits.round_trip_seconds} s",
                   {"total_lots_milli": total_milli, "threshold_lots_milli": threshold_milli,
                    "round_trip_lots_milli": trip_milli})]


def _lots(lots_milli: int) -> str:
    return f"{lots_milli // 1000}.{lots_milli % 1000:03d}"


def forex_churning(trades: Sequence[Trade], threshold_lots_milli: int | None = None,
                   limits: ForexLimits | None = None) -> list[Signal]:
    """Signals for wash pairs and for volume made just to reach ``threshold_lots_milli``."""
    limits = limits or ForexLimits()
    total_milli = sum(trade.lots_milli for trade in trades)
    if total_milli <= 0:
        return []
    return _wash(trades, total_milli, limits) + _threshold(
        trades, total_milli, threshold_lots_milli, limits)
