"""Every rule family over one subject's facts: what the service gathers, in one shape.

A fact left ``None`` (or empty) means "not known for this event": its rules are
skipped, never guessed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from clickledger.domain.fraud.bonus_abuse import BonusFacts, BonusLimits, bonus_abuse
from clickledger.domain.fraud.bots import BotLimits, BrowserFacts, bot_signals
from clickledger.domain.fraud.conversion_rate import RateFacts, RateLimits, conversion_rate
from clickledger.domain.fraud.ctit import CtitLimits, ctit_signals
from clickledger.domain.fraud.duplicates import DuplicateFacts, DuplicateLimits, duplicate_players
from clickledger.domain.fraud.flooding import FloodFacts, FloodLimits, click_flooding
from clickledger.domain.fraud.forex import ForexLimits, Trade, forex_churning
from clickledger.domain.fraud.geo import GeoFacts, GeoLimits, geo_mismatch
from clickledger.domain.fraud.self_referral import MATCH_POINTS, self_referral
from clickledger.domain.fraud.signals import Signal


@dataclass(frozen=True, slots=True)
class RuleLimits:
    """The limits of every rule family (each module states why its defaults are what they are)."""

    flood: FloodLimits = field(default_factory=FloodLimits)
    bots: BotLimits = field(default_factory=BotLimits)
    geo: GeoLimits = field(default_factory=GeoLimits)
    ctit: CtitLimits = field(default_factory=CtitLimits)
    duplicates: DuplicateLimits = field(default_factory=DuplicateLimits)
    bonus: BonusLimits = field(default_factory=BonusLimits)
    rate: RateLimits = field(default_factory=RateLimits)
    forex: ForexLimits = field(default_factory=ForexLimits)
    self_referral_points: int = MATCH_POINTS


@dataclass(frozen=True, slots=True)
class SubjectFacts:
    """What is known about one player (and its click) when one of its events lands."""

    browser: BrowserFacts | None = None
    flood: FloodFacts | None = None
    geo: GeoFacts | None = None
    ctit_seconds: int | None = None
    window_days: int = 30
    duplicates: DuplicateFacts | None = None
    player_ips: tuple[str, ...] = ()
    affiliate_login_ips: tuple[str, ...] = ()
    bonus: BonusFacts | None = None
    rate: RateFacts | None = None
    trades: tuple[Trade, ...] = ()
    threshold_lots_milli: int | None = None


def evaluate(facts: SubjectFacts, limits: RuleLimits | None = None) -> list[Signal]:
    """Run every rule whose facts are known; the signals of all that fired."""
    limits = limits or RuleLimits()
    signals: list[Signal] = []
    if facts.browser is not None:
        signals += bot_signals(facts.browser, limits.bots)
    if facts.flood is not None:
        signals += click_flooding(facts.flood, limits.flood)
    if facts.geo is not None:
        signals += geo_mismatch(facts.geo, limits.geo)
    if facts.ctit_seconds is not None:
        signals += ctit_signals(facts.ctit_seconds, facts.window_days, limits.ctit)
    if facts.duplicates is not None:
        signals += duplicate_players(facts.duplicates, limits.duplicates)
    if facts.player_ips and facts.affiliate_login_ips:
        signals += self_referral(facts.player_ips, facts.affiliate_login_ips,
                                 limits.self_referral_points)
    if facts.bonus is not None:
        signals += bonus_abuse(facts.bonus, limits.bonus)
    if facts.rate is not None:
        signals += conversion_rate(facts.rate, limits.rate)
    if facts.trades:
        signals += forex_churning(facts.trades, facts.threshold_lots_milli, limits.forex)
    return signals
