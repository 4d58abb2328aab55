"""Attribution rules, worked by hand: last click in the window, else promo code, else organic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from clickledger.domain.attribution import (
    ClickFacts,
    Method,
    PromoFacts,
    attribute,
    becomes_ftd,
)

REG = datetime(2026, 3, 31, 12, 0, tzinfo=UTC)
BRAND = "brand-a"


def click(days_before: float, brand: str = BRAND) -> ClickFacts:
    return ClickFacts("c1", "aff-click", brand, REG - timedelta(days=days_before))


PROMO = PromoFacts("p1", "aff-promo", BRAND, active=True)


def decide(click_facts: ClickFacts | None = None, promo: PromoFacts | None = None,
           click_reported: bool = True, promo_reported: bool = False, window_days: int = 30):
    return attribute(brand_id=BRAND, registered_at=REG, window_days=window_days,
                     click_reported=click_reported, click=click_facts,
                     promo_reported=promo_reported, promo=promo)


def test_a_click_29_days_before_registration_wins_and_31_days_does_not() -> None:
    assert decide(click(29)).affiliate_id == "aff-click"
    late = decide(click(31))
    assert late.method is Method.ORGANIC and late.note == "click_outside_window"
    assert decide(click(31), window_days=45).method is Method.CLICK


def test_the_click_beats_the_promo_code_and_the_promo_code_catches_an_expired_click() -> None:
    assert decide(click(1), PROMO, promo_reported=True).method is Method.CLICK
    fallback = decide(click(60), PROMO, promo_reported=True)
    assert fallback.method is Method.PROMO and fallback.affiliate_id == "aff-promo"
    assert fallback.note == "click_outside_window"


def test_a_promo_code_with_no_click_binds_to_its_affiliate() -> None:
    result = decide(None, PROMO, click_reported=False, promo_reported=True)
    assert (result.method, result.affiliate_id, result.note) == (Method.PROMO, "aff-promo", None)


def test_unknown_foreign_future_clicks_and_paused_codes_leave_the_player_organic() -> None:
    assert decide(None).note == "unknown_click_id"
    assert decide(click(1, brand="brand-b")).note == "click_of_other_brand"
    assert decide(click(-1)).note == "click_after_registration"
    paused = PromoFacts("p2", "aff-promo", BRAND, active=False)
    assert decide(None, paused, click_reported=False, promo_reported=True).note == "promo_inactive"
    assert decide(click_reported=False).method is Method.ORGANIC


def test_the_first_deposit_by_event_time_is_the_ftd_whatever_its_label() -> None:
    t0 = REG
    assert becomes_ftd("deposit", t0, None)
    assert not becomes_ftd("ftd", t0 + timedelta(hours=1), t0)
    assert becomes_ftd("deposit", t0 - timedelta(hours=1), t0)
    assert not becomes_ftd("withdrawal", t0, None)
