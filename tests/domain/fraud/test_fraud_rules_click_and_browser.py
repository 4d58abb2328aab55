"""Click-side rules at their edges: flooding, bots, CTIT and geo mismatch."""

from __future__ import annotations

from clickledger.domain.fraud.bots import BrowserFacts, bot_signals
from clickledger.domain.fraud.ctit import ctit_signals
from clickledger.domain.fraud.flooding import FloodFacts, FloodLimits, click_flooding
from clickledger.domain.fraud.geo import GeoFacts, geo_mismatch

CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/120.0.0.0 Safari/537.36")


def _flood(ip: int = 1, link: int = 10, sub: int = 5, link_base: int = 10_000,
           sub_base: int = 5_000) -> FloodFacts:
    return FloodFacts(ip_clicks=ip, link_clicks=link, sub_clicks=sub,
                      link_baseline_milli=link_base, sub_baseline_milli=sub_base)


def test_eleven_clicks_from_one_ip_in_ten_minutes_is_a_household_not_a_flood() -> None:
    assert click_flooding(_flood(ip=11)) == []


def test_twelve_clicks_from_one_ip_flags_and_thirty_holds_with_the_count_as_evidence() -> None:
    flagged = click_flooding(_flood(ip=12))
    assert [(s.check, s.points) for s in flagged] == [("ip", 30)]
    assert flagged[0].evidence["ip_clicks"] == 12
    held = click_flooding(_flood(ip=30))
    assert [(s.check, s.points) for s in held] == [("ip", 60)]
    assert "30 clicks" in held[0].reason


def test_a_link_surge_fires_at_eight_times_its_own_baseline_and_not_below() -> None:
    # baseline 10 clicks per window: 79 clicks is 7.9x, 80 is 8x
    assert click_flooding(_flood(link=79, link_base=10_000)) == []
    fired = click_flooding(_flood(link=80, link_base=10_000))
    assert [(s.check, s.points) for s in fired] == [("link", 30)]
    assert "8× its usual 10.0" in fired[0].reason


def test_a_small_link_never_surges_below_the_minimum_clicks() -> None:
    assert click_flooding(_flood(link=59, link_base=1_000)) == []
    assert click_flooding(_flood(sub=59, sub_base=0)) == []
    assert [s.check for s in click_flooding(_flood(sub=60, sub_base=0))] == ["sub_id"]


def test_flood_limits_come_from_the_caller() -> None:
    limits = FloodLimits(ip_flag_clicks=3, ip_hold_clicks=5)
    assert click_flooding(_flood(ip=3), limits)[0].points == 30


def test_an_ordinary_browser_with_a_language_is_no_bot() -> None:
    facts = BrowserFacts(CHROME, "Chrome", "Windows", "Other", "de-DE,de;q=0.9")
    assert bot_signals(facts) == []


def test_an_empty_user_agent_is_a_script() -> None:
    assert [(s.check, s.points) for s in bot_signals(BrowserFacts("  "))] == [
        ("empty_user_agent", 70)]


def test_crawler_and_headless_user_agents_are_bots() -> None:
    crawler = bot_signals(BrowserFacts("Googlebot/2.1 (+http://www.google.com/bot.html)",
                                       "Googlebot", None, "Spider", "en"))
    assert [s.check for s in crawler] == ["crawler"]
    headless = bot_signals(BrowserFacts(CHROME.replace("Chrome/", "HeadlessChrome/"),
                                        "HeadlessChrome", "Windows", None, "en-US"))
    assert [(s.check, s.points) for s in headless] == [("automation", 80)]
    assert [s.check for s in bot_signals(BrowserFacts("python-requests/2.31", "Python Requests",
                                                      None, None, None))] == ["automation"]


def test_a_cubot_phone_is_not_a_crawler() -> None:
    ua = ("Mozilla/5.0 (Linux; Android 10; CUBOT X30) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/119.0 Mobile Safari/537.36")
    assert bot_signals(BrowserFacts(ua, "Chrome Mobile", "Android", "CUBOT X30", "en")) == []


def test_safari_on_windows_and_a_phone_claiming_desktop_hints_are_impossible() -> None:
    safari = bot_signals(BrowserFacts("Mozilla/5.0 (Windows NT 10.0) Version/17.0 Safari/605",
                                      "Safari", "Windows", None, "en"))
    assert [(s.check, s.points) for s in safari] == [("impossible_headers", 40)]
    phone = bot_signals(BrowserFacts("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)",
                                     "Mobile Safari", "iOS", "iPhone", "en",
                                     hint_mobile=False, hint_platform='"Windows"'))
    assert phone[0].check == "impossible_headers"
    assert phone[0].evidence["combinations"] == 2


def test_a_browser_without_accept_language_is_suspicious_but_weak() -> None:
    signals = bot_signals(BrowserFacts(CHROME, "Chrome", "Windows", "Other", None))
    assert [(s.check, s.points) for s in signals] == [("no_accept_language", 30)]


def test_ctit_of_ten_seconds_passes_nine_flags_and_three_is_instant() -> None:
    assert ctit_signals(10, 30) == []
    assert [(s.check, s.points) for s in ctit_signals(9, 30)] == [("too_short", 50)]
    assert [(s.check, s.points) for s in ctit_signals(3, 30)] == [("instant", 60)]
    assert ctit_signals(9, 30)[0].evidence == {"ctit_seconds": 9, "min_seconds": 10,
                                               "window_days": 30}


def test_ctit_beyond_the_window_and_before_the_click_fire() -> None:
    assert ctit_signals(30 * 86_400, 30) == []
    assert ctit_signals(30 * 86_400 + 1, 30)[0].check == "beyond_window"
    assert ctit_signals(-300, 30)[0].check == "instant"  # within clock skew
    assert ctit_signals(-301, 30)[0].check == "before_click"


def test_a_traveller_only_flags_and_a_full_mismatch_adds_up() -> None:
    assert geo_mismatch(GeoFacts("DE", "DE", "DE")) == []
    traveller = geo_mismatch(GeoFacts("ES", "DE", "DE"))
    assert [(s.check, s.points) for s in traveller] == [("click_vs_registration", 25)]
    both = geo_mismatch(GeoFacts("GB", "NG", "VN"))
    assert sum(s.points for s in both) == 45
    assert both[0].evidence["click_country"] == "GB"


def test_unknown_countries_never_mismatch() -> None:
    assert geo_mismatch(GeoFacts(None, "DE", "FR"))[0].check == "registration_vs_deposit"
    assert geo_mismatch(GeoFacts("XX", "DE", None)) == []
