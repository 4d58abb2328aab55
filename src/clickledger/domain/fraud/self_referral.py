"""Self-referral: the affiliate's own login IP addresses on the players it brings.

An affiliate registering players itself, or from its own office, is earning
commission on its own deposits.  A match on the click or registration IP is
strong evidence (70, hold) but a manager confirms: a flatmate is possible.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from clickledger.domain.fraud.signals import Signal

FAMILY = "self_referral"
MATCH_POINTS = 70


def self_referral(player_ips: Iterable[str | None], affiliate_login_ips: Collection[str],
                  points: int = MATCH_POINTS) -> list[Signal]:
    """A signal when any of the player's IPs is one the affiliate logged in from."""
    logins = {ip.strip() for ip in affiliate_login_ips if ip and ip.strip()}
    matches = sorted({ip.strip() for ip in player_ips if ip and ip.strip() in logins})
    if not matches:
        return []
    return [Signal(FAMILY, "login_ip", points,
                   f"the player used {', '.join(matches)}, an address the affiliate logs in from",
                   {"matching_ips": ", ".join(matches), "matches": len(matches)})]
