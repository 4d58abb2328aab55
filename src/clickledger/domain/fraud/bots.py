"""Bots: crawler, headless and empty user agents, and header combinations no browser sends.

ua-parser runs outside the domain (at click enrichment or in the service); its
results come in as ``BrowserFacts``.  Points: a crawler or an automation tool
is certain non-human traffic (80); an empty user agent is a script almost
always (70); an impossible combination (Safari outside Apple systems, a phone
UA whose client hints say desktop) is a forged header (40); a browser UA with
no ``Accept-Language`` is unusual for a real browser but not impossible (30).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from clickledger.domain.fraud.signals import Signal

FAMILY = "bots"

AUTOMATION_PATTERN = re.compile(
    r"headless|phantomjs|puppeteer|selenium|playwright|webdriver|python-requests|"
    r"python-urllib|aiohttp|httpx|curl/|wget/|go-http-client|okhttp|java/|libwww|scrapy|"
    r"node-fetch|axios|httpclient|guzzle",
    re.IGNORECASE,
)
# ua-parser's "Spider" device family is the main test; this catches the rest: crawlers
# name themselves ``…bot/2.1`` and link their docs with ``+http://``.  A bare "bot" is not
# enough (the CUBOT phone brand).
CRAWLER_PATTERN = re.compile(r"bot/|crawler|spider|slurp|facebookexternalhit|\+https?://",
                             re.IGNORECASE)
APPLE_ONLY_FAMILIES = frozenset({"Safari", "Mobile Safari"})
APPLE_SYSTEMS = frozenset({"Mac OS X", "iOS", "iPadOS", "macOS"})
PHONE_DEVICES = ("iPhone", "iPad")
DESKTOP_PLATFORMS = frozenset({"windows", "macos", "linux", "chrome os"})


@dataclass(frozen=True, slots=True)
class BotLimits:
    crawler_points: int = 80
    automation_points: int = 80
    empty_points: int = 70
    impossible_points: int = 40
    no_language_points: int = 30


@dataclass(frozen=True, slots=True)
class BrowserFacts:
    """What the click's headers said and what ua-parser made of them."""

    user_agent: str | None
    ua_family: str | None = None
    os_family: str | None = None
    device_family: str | None = None
    accept_language: str | None = None
    flagged_bot: bool | None = None  # the tracker's own enrichment verdict
    hint_mobile: bool | None = None  # Sec-CH-UA-Mobile, when sent
    hint_platform: str | None = None  # Sec-CH-UA-Platform, when sent


def _identity(facts: BrowserFacts, ua: str, limits: BotLimits) -> list[Signal]:
    if facts.device_family == "Spider" or facts.flagged_bot or CRAWLER_PATTERN.search(ua):
        return [Signal(FAMILY, "crawler", limits.crawler_points,
                       f"the user agent is a crawler ({facts.ua_family or 'declared bot'})",
                       {"user_agent": ua[:200], "device_family": facts.device_family})]
    if (facts.ua_family or "").startswith("Headless") or AUTOMATION_PATTERN.search(ua):
        return [Signal(FAMILY, "automation", limits.automation_points,
                       "the user agent is a headless browser or an HTTP library",
                       {"user_agent": ua[:200], "ua_family": facts.ua_family})]
    return []


def _impossible(facts: BrowserFacts, ua: str, limits: BotLimits) -> list[Signal]:
    problems: list[str] = []
    if facts.ua_family in APPLE_ONLY_FAMILIES and facts.os_family and (
        facts.os_family not in APPLE_SYSTEMS
    ):
        problems.append(f"{facts.ua_family} on {facts.os_family}")
    phone = facts.device_family in PHONE_DEVICES or facts.os_family in ("iOS", "Android")
    if phone and facts.hint_mobile is False:
        problems.append(f"{facts.device_family or facts.os_family} user agent but client hints "
                        "say not mobile")
    platform = (facts.hint_platform or "").strip('"').lower()
    if phone and platform in DESKTOP_PLATFORMS:
        problems.append(f"phone user agent but platform hint {platform}")
    if not problems:
        return []
    return [Signal(FAMILY, "impossible_headers", limits.impossible_points,
                   "headers no real browser sends together: " + "; ".join(problems),
                   {"user_agent": ua[:200], "combinations": len(problems)})]


def bot_signals(facts: BrowserFacts, limits: BotLimits | None = None) -> list[Signal]:
    """Signals for crawler, automation and empty UAs and for impossible header sets."""
    limits = limits or BotLimits()
    ua = (facts.user_agent or "").strip()
    if not ua:
        return [Signal(FAMILY, "empty_user_agent", limits.empty_points,
                       "the click came without a user agent", {"user_agent": ""})]
    signals = _identity(facts, ua, limits) + _impossible(facts, ua, limits)
    if ua.startswith("Mozilla/") and not (facts.accept_language or "").strip():
        signals.append(Signal(FAMILY, "no_accept_language", limits.no_language_points,
                              "a browser user agent without an Accept-Language header",
                              {"user_agent": ua[:200]}))
    return signals
