"""Click-to-registration time (CTIT): seconds-short or beyond the attribution window.

A person opens the landing page, goes to the operator's form, types an e-mail
and a password and confirms: with a password manager's autofill that still
takes 10 s or more.  Below ``min_seconds`` (10) the click was injected just
before a registration that was going to happen anyway, or the form was
scripted: near-certain, so it holds for review (50); at or below
``instant_seconds`` (3) no human was involved at all (60).  A registration
later than the attribution window after its click is a stale or stuffed click
claiming an organic player (40).  A negative CTIT (the
registration before the click, beyond clock skew) is click injection (60).
"""

from __future__ import annotations

from dataclasses import dataclass

from clickledger.domain.fraud.signals import Signal

FAMILY = "ctit"


@dataclass(frozen=True, slots=True)
class CtitLimits:
    min_seconds: int = 10
    instant_seconds: int = 3
    skew_seconds: int = 300
    short_points: int = 50
    instant_points: int = 60
    beyond_window_points: int = 40
    before_click_points: int = 60


def ctit_signals(ctit_seconds: int, window_days: int,
                 limits: CtitLimits | None = None) -> list[Signal]:
    """Signals for a CTIT of ``ctit_seconds`` under an attribution window of ``window_days``."""
    limits = limits or CtitLimits()
    evidence = {"ctit_seconds": ctit_seconds, "min_seconds": limits.min_seconds,
                "window_days": window_days}
    if ctit_seconds < -limits.skew_seconds:
        return [Signal(FAMILY, "before_click", limits.before_click_points,
                       f"registered {-ctit_seconds} s before the click it claims", evidence)]
    if ctit_seconds <= limits.instant_seconds:
        return [Signal(FAMILY, "instant", limits.instant_points,
                       f"registered {max(ctit_seconds, 0)} s after the click (no person "
                       f"registers in {limits.instant_seconds} s or less)", evidence)]
    if ctit_seconds < limits.min_seconds:
        return [Signal(FAMILY, "too_short", limits.short_points,
                       f"registered {ctit_seconds} s after the click (minimum "
                       f"{limits.min_seconds} s)", evidence)]
    if ctit_seconds > window_days * 86_400:
        return [Signal(FAMILY, "beyond_window", limits.beyond_window_points,
                       f"registered {ctit_seconds // 86_400} days after the click (window "
                       f"{window_days} days)", evidence)]
    return []
