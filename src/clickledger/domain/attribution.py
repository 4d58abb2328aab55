"""Attribution: which affiliate a player belongs to, decided once at registration.

Rules, in order:

1. the click whose id the operator reports on the registration, if it is known,
   belongs to the same brand and happened within the attribution window
   before the registration (a small clock skew after it is tolerated);
2. else the promo code the player registered with, if it is active and of the brand;
3. else organic (no affiliate).

The binding is for life: later events never change it; only a manager remap
does (audited, in ``services.registration``).  A player's first deposit by
event time is its FTD, whatever the operator calls it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

CLICK_CLOCK_SKEW = timedelta(minutes=5)


class Method(StrEnum):
    CLICK = "click"
    PROMO = "promo"
    ORGANIC = "organic"
    PENDING = "pending"  # events seen, registration not yet
    MANUAL = "manual"  # remapped by a manager


@dataclass(frozen=True, slots=True)
class ClickFacts:
    click_id: str
    affiliate_id: str
    brand_id: str
    clicked_at: datetime


@dataclass(frozen=True, slots=True)
class PromoFacts:
    promo_code_id: str
    affiliate_id: str
    brand_id: str
    active: bool


@dataclass(frozen=True, slots=True)
class Attribution:
    """The outcome: method, affiliate (None when organic) and why, as a note code."""

    method: Method
    affiliate_id: str | None = None
    click_id: str | None = None
    promo_code_id: str | None = None
    note: str | None = None  # unknown_click_id | click_outside_window | ... when a rule was skipped


def _click_note(
    click: ClickFacts | None, brand_id: str, registered_at: datetime, window_days: int
) -> str | None:
    """None when the click counts, else the reason it does not."""
    if click is None:
        return "unknown_click_id"
    if click.brand_id != brand_id:
        return "click_of_other_brand"
    if click.clicked_at > registered_at + CLICK_CLOCK_SKEW:
        return "click_after_registration"
    if registered_at - click.clicked_at > timedelta(days=window_days):
        return "click_outside_window"
    return None


def _promo_note(promo: PromoFacts | None, brand_id: str) -> str | None:
    if promo is None:
        return "unknown_promo_code"
    if promo.brand_id != brand_id:
        return "promo_of_other_brand"
    if not promo.active:
        return "promo_inactive"
    return None


def attribute(
    *,
    brand_id: str,
    registered_at: datetime,
    window_days: int,
    click_reported: bool,
    click: ClickFacts | None,
    promo_reported: bool,
    promo: PromoFacts | None,
) -> Attribution:
    """Decide the binding of a newly registered player (see the module rules)."""
    notes: list[str] = []
    if click_reported:
        click_note = _click_note(click, brand_id, registered_at, window_days)
        if click_note is None and click is not None:
            return Attribution(Method.CLICK, click.affiliate_id, click_id=click.click_id)
        notes.append(click_note or "unknown_click_id")
    if promo_reported:
        promo_note = _promo_note(promo, brand_id)
        if promo_note is None and promo is not None:
            return Attribution(
                Method.PROMO, promo.affiliate_id, promo_code_id=promo.promo_code_id,
                note=notes[0] if notes else None,
            )
        notes.append(promo_note or "unknown_promo_code")
    return Attribution(Method.ORGANIC, note=notes[0] if notes else None)


DEPOSIT_KINDS = frozenset({"ftd", "deposit"})


def is_deposit(kind: str) -> bool:
    """Deposits of every label count for the FTD: ``ftd`` and ``deposit``."""
    return kind in DEPOSIT_KINDS


def becomes_ftd(
    kind: str, occurred_at: datetime, current_ftd_at: datetime | None
) -> bool:
    """True when this deposit is the player's first by event time (so far)."""
    if not is_deposit(kind):
        return False
    return current_ftd_at is None or occurred_at < current_ftd_at
