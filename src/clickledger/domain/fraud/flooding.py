"""Click flooding: too many clicks from one IP, on one sub-id or on one link in a window.

Facts are counts over the sliding window around the converting click
(``window_minutes``) and the link's own baseline: its average clicks per window
of the same length over the preceding days.

Limits, and why:
- one IP: a person clicks an affiliate link once or twice; a family or an
  office behind one NAT address a few times.  ``ip_flag_clicks`` = 12 clicks in
  10 minutes from one address is beyond any household; ``ip_hold_clicks`` = 30
  (one every 20 s, sustained) is a script or a click farm, and even a carrier
  NAT rarely puts that many people on one affiliate's links in 10 minutes;
- link and sub-id: a campaign launch or a newsletter can multiply a link's
  traffic a few times; ``surge_ratio`` = 8 times the link's own baseline, with
  at least ``surge_min_clicks`` clicks so small numbers never fire, is a flood.
"""

from __future__ import annotations

from dataclasses import dataclass

from clickledger.domain.fraud.signals import Signal

FAMILY = "click_flooding"


@dataclass(frozen=True, slots=True)
class FloodLimits:
    window_minutes: int = 10
    ip_flag_clicks: int = 12
    ip_hold_clicks: int = 30
    surge_ratio: int = 8
    surge_min_clicks: int = 60
    ip_flag_points: int = 30
    ip_hold_points: int = 60
    surge_points: int = 30


@dataclass(frozen=True, slots=True)
class FloodFacts:
    """Counts in the window around one click; baselines are clicks per window (×1000)."""

    ip_clicks: int
    link_clicks: int
    sub_clicks: int
    link_baseline_milli: int  # the link's average clicks per window over the baseline days, ×1000
    sub_baseline_milli: int


def _milli_text(value_milli: int) -> str:
    return f"{value_milli // 1000}.{value_milli % 1000 // 100}"


def _ip(facts: FloodFacts, limits: FloodLimits) -> list[Signal]:
    if facts.ip_clicks < limits.ip_flag_clicks:
        return []
    strong = facts.ip_clicks >= limits.ip_hold_clicks
    points = limits.ip_hold_points if strong else limits.ip_flag_points
    limit = limits.ip_hold_clicks if strong else limits.ip_flag_clicks
    return [Signal(
        FAMILY, "ip", points,
        f"{facts.ip_clicks} clicks from the click's IP address within "
        f"{limits.window_minutes} minutes (limit {limit})",
        {"ip_clicks": facts.ip_clicks, "window_minutes": limits.window_minutes, "limit": limit},
    )]


def _surge(check: str, label: str, clicks: int, baseline_milli: int,
           limits: FloodLimits) -> list[Signal]:
    if clicks < limits.surge_min_clicks:
        return []
    if clicks * 1000 < baseline_milli * limits.surge_ratio:
        return []
    ratio_text = "no traffic before" if baseline_milli == 0 else (
        f"{clicks * 1000 // baseline_milli}× its usual {_milli_text(baseline_milli)}"
    )
    return [Signal(
        FAMILY, check, limits.surge_points,
        f"{clicks} clicks on the {label} within {limits.window_minutes} minutes "
        f"({ratio_text}; limit {limits.surge_ratio}× baseline, at least "
        f"{limits.surge_min_clicks} clicks)",
        {"clicks": clicks, "baseline_clicks_milli": baseline_milli,
         "window_minutes": limits.window_minutes, "surge_ratio": limits.surge_ratio},
    )]


def click_flooding(facts: FloodFacts, limits: FloodLimits | None = None) -> list[Signal]:
    """Signals for an IP flood and for link or sub-id surges against their own baseline."""
    limits = limits or FloodLimits()
    return [
        *_ip(facts, limits),
        *_surge("link", "link", facts.link_clicks, facts.link_baseline_milli, limits),
        *_surge("sub_id", "sub-id", facts.sub_clicks, facts.sub_baseline_milli, limits),
    ]
