"""The demo's operator integrations, deals and a postback template, created through the same
services the API uses."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from clickledger.services import deals
from clickledger.services import integration_health as integrations

ACTOR = "demo"

CASINO_HYBRID = {
    "cpa": {"amount": "100", "qualification": {"min_ftd": "20", "window_days": 30}},
    "revshare": {"pct": "25", "carryover": "carry_forward"},
}
CASINO_CPA = {"amount": "80", "qualification": {"min_ftd": "25", "window_days": 30}}
FOREX_REBATE = {
    "rates_per_lot": {"fx_major": "8", "metals": "12", "default": "4"},
    "spread_share_pct": "10",
}
SUB_AFFILIATE = {"levels_pct": ["5", "2"]}


def create_integrations(conn: sa.Connection, casino_brand_id: str, forex_brand_id: str,
                        now: datetime) -> dict[str, dict[str, Any]]:
    """One signed S2S integration per brand (the casino's also gets a pixel key)."""
    made: dict[str, dict[str, Any]] = {}
    for kind, brand_id, name, pixel in (
        ("casino", casino_brand_id, "Royal Spins platform", True),
        ("forex", forex_brand_id, "Northwind back office", False),
    ):
        spec = integrations.NewIntegration(brand_id=brand_id, name=name, pixel=pixel)
        made[kind] = integrations.create_integration(conn, spec, actor=ACTOR, now=now)
    return made


def _deal(conn: sa.Connection, brand_id: str, name: str, kind: str, currency: str,
          terms: dict[str, Any], now: datetime) -> str:
    row = deals.create_deal(conn, name=name, brand_id=brand_id, kind=kind, currency=currency,
                            terms=terms, effective_from=now, actor=ACTOR, now=now)
    return str(row["id"])


def create_deals(conn: sa.Connection, casino_brand_id: str, forex_brand_id: str,
                 affiliate_ids: dict[str, str], now: datetime) -> None:
    """Hybrid and CPA deals on the casino, an IB rebate on the broker, sub-affiliate shares."""
    hybrid = _deal(conn, casino_brand_id, "Casino hybrid 100 + 25%", "hybrid", "EUR",
                   CASINO_HYBRID, now)
    cpa = _deal(conn, casino_brand_id, "Casino CPA 80", "cpa", "EUR", CASINO_CPA, now)
    rebate = _deal(conn, forex_brand_id, "IB rebate", "ib_rebate", "USD", FOREX_REBATE, now)
    casino_subs = _deal(conn, casino_brand_id, "Casino sub-affiliates 5/2%", "sub_affiliate",
                        "EUR", SUB_AFFILIATE, now)
    forex_subs = _deal(conn, forex_brand_id, "IB sub-IBs 5/2%", "sub_affiliate", "USD",
                       SUB_AFFILIATE, now)
    assignments = {
        hybrid: ("Ace Affiliates", "Ace Sub One", "Ace Sub Two"),
        cpa: ("Blue Media",),
        rebate: ("Atlas IB", "Atlas Sub IB"),
        casino_subs: ("Ace Affiliates", "Ace Sub One"),
        forex_subs: ("Atlas IB",),
    }
    for deal_id, names in assignments.items():
        for name in names:
            deals.assign(conn, deal_id=deal_id, affiliate_id=affiliate_ids[name], overrides=None,
                         effective_from=now, actor=ACTOR, now=now)
