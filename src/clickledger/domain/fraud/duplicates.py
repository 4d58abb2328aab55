"""Duplicate players: one IP, device fingerprint or payment instrument behind several players.

Counts are of *other* players of the same brand seen with the same value.
- payment instrument (the operator's hash of a card or wallet): a spouse or a
  parent may pay from the same card, so one other player flags (40); two or
  more other players on one card is a multi-accounting ring (65, hold);
- device fingerprint: a couple may share a tablet, so one other player flags
  (25) and two or more hold (55);
- IP address: households, offices and carrier NAT share addresses, so only
  ``ip_flag_players`` (4) or more other players *of the same affiliate* within
  the lookback flag (30); IP alone never holds.
"""

from __future__ import annotations

from dataclasses import dataclass

from clickledger.domain.fraud.signals import Signal

FAMILY = "duplicate_players"


@dataclass(frozen=True, slots=True)
class DuplicateLimits:
    payment_one_points: int = 40
    payment_many_points: int = 65
    device_one_points: int = 25
    device_many_points: int = 55
    ip_flag_players: int = 4
    ip_points: int = 30


@dataclass(frozen=True, slots=True)
class DuplicateFacts:
    """How many other players share each identity of this player."""

    same_ip_same_affiliate: int = 0
    same_device: int = 0
    same_payment: int = 0


def duplicate_players(facts: DuplicateFacts,
                      limits: DuplicateLimits | None = None) -> list[Signal]:
    """Signals for identities shared with other players."""
    limits = limits or DuplicateLimits()
    signals: list[Signal] = []
    if facts.same_payment >= 1:
        points = (limits.payment_many_points if facts.same_payment >= 2
                  else limits.payment_one_points)
        signals.append(Signal(FAMILY, "payment_instrument", points,
                              f"the payment instrument is also used by {facts.same_payment} "
                              "other player(s)", {"other_players": facts.same_payment}))
    if facts.same_device >= 1:
        many = facts.same_device >= 2
        signals.append(Signal(FAMILY, "device",
                              limits.device_many_points if many else limits.device_one_points,
                              f"the device fingerprint is shared with {facts.same_device} "
                              "other player(s)", {"other_players": facts.same_device}))
    if facts.same_ip_same_affiliate >= limits.ip_flag_players:
        signals.append(Signal(FAMILY, "ip", limits.ip_points,
                              f"{facts.same_ip_same_affiliate} other players of the same "
                              "affiliate registered from this IP address",
                              {"other_players": facts.same_ip_same_affiliate,
                               "limit": limits.ip_flag_players}))
    return signals
