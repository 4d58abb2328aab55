"""Geo mismatch: the click's country (offline GeoIP) against registration and deposit country.

People travel and commute across borders, so a mismatch alone only flags:
click vs registration country 25 points, registration vs deposit country 20.
Proxy and incentivised traffic shows both at once, or pairs with other
signals, and then the sum reaches the hold threshold.
"""

from __future__ import annotations

from dataclasses import dataclass

from clickledger.domain.fraud.signals import Signal

FAMILY = "geo_mismatch"


@dataclass(frozen=True, slots=True)
class GeoLimits:
    click_vs_registration_points: int = 25
    registration_vs_deposit_points: int = 20


@dataclass(frozen=True, slots=True)
class GeoFacts:
    click_country: str | None
    registration_country: str | None
    deposit_country: str | None = None


def _norm(country: str | None) -> str | None:
    value = (country or "").strip().upper()
    return value if len(value) == 2 and value not in ("XX", "ZZ", "--") else None


def geo_mismatch(facts: GeoFacts, limits: GeoLimits | None = None) -> list[Signal]:
    """Signals for each pair of known countries that differ."""
    limits = limits or GeoLimits()
    click, reg, dep = (_norm(facts.click_country), _norm(facts.registration_country),
                       _norm(facts.deposit_country))
    evidence = {"click_country": click, "registration_country": reg, "deposit_country": dep}
    signals: list[Signal] = []
    if click and reg and click != reg:
        signals.append(Signal(FAMILY, "click_vs_registration", limits.click_vs_registration_points,
                              f"clicked from {click} but registered from {reg}", evidence))
    if reg and dep and reg != dep:
        signals.append(Signal(FAMILY, "registration_vs_deposit",
                              limits.registration_vs_deposit_points,
                              f"registered from {reg} but deposited from {dep}", evidence))
    return signals
