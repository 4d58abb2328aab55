"""The demo programme: a casino brand and a Forex brand, affiliates with sub-affiliates,
offers, links, promo codes and API keys for every role."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from clickledger.demo.deals import create_deals, create_integrations
from clickledger.domain.roles import Role
from clickledger.ids import new_id
from clickledger.store import tables as t
from clickledger.store.api_keys import issue_key
from clickledger.web.auth import create_user


@dataclass
class DemoProgramme:
    """Ids and secrets the simulator and the printed welcome need."""

    casino_brand_id: str = ""
    forex_brand_id: str = ""
    affiliate_ids: dict[str, str] = field(default_factory=dict)
    link_codes: dict[str, list[str]] = field(default_factory=dict)  # brand kind -> codes
    promo_codes: dict[str, list[str]] = field(default_factory=dict)  # brand kind -> codes
    keys: dict[str, str] = field(default_factory=dict)  # label -> token
    users: dict[str, tuple[str, str]] = field(default_factory=dict)  # label -> email, password
    integrations: dict[str, dict[str, Any]] = field(default_factory=dict)  # brand kind -> secrets


def _insert(conn: sa.Connection, table: sa.Table, now: datetime, **values: object) -> str:
    row_id = new_id()
    columns = set(table.c.keys())
    stamped = {k: now for k in ("created_at", "updated_at") if k in columns}
    conn.execute(table.insert().values(id=row_id, **stamped, **values))
    return row_id


def _brand(conn: sa.Connection, now: datetime, name: str, kind: str, currency: str,
           landing: str, domain: str) -> tuple[str, str]:
    brand_id = _insert(conn, t.brands, now, name=name, kind=kind, default_currency=currency,
                       fallback_url=f"https://{domain}/", ngr_admin_fee_pct="10" if kind ==
                       "casino" else "0")
    offer_id = _insert(conn, t.offers, now, brand_id=brand_id, name=f"{name} — welcome offer",
                       landing_url=landing, allowed_domains=[domain])
    return brand_id, offer_id


def _affiliate(conn: sa.Connection, now: datetime, name: str, currency: str,
               parent_id: str | None = None) -> str:
    email = name.lower().replace(" ", ".") + "@example.com"
    return _insert(conn, t.affiliates, now, name=name, email=email, parent_id=parent_id,
                   status="active", payout_currency=currency, payment_method="bank",
                   payment_details={"iban": "DE89370400440532013000", "bic": "COBADEFFXXX"},
                   payout_threshold_minor=5000)


def seed_programme(conn: sa.Connection, now: datetime) -> DemoProgramme:
    """Insert the demo programme into an empty database."""
    demo = DemoProgramme()
    demo.casino_brand_id, casino_offer = _brand(
        conn, now, "Royal Spins Casino", "casino", "EUR",
        "https://royalspins.example/welcome?cid={click_id}&s1={sub1}&aff={affiliate_id}",
        "royalspins.example")
    demo.forex_brand_id, forex_offer = _brand(
        conn, now, "Northwind FX", "forex", "USD",
        "https://northwindfx.example/open-account?clickid={click_id}&ib={affiliate_id}",
        "northwindfx.example")
    tree = {
        "Ace Affiliates": (None, "EUR"), "Ace Sub One": ("Ace Affiliates", "EUR"),
        "Ace Sub Two": ("Ace Sub One", "EUR"), "Blue Media": (None, "EUR"),
        "Atlas IB": (None, "USD"), "Atlas Sub IB": ("Atlas IB", "USD"),
    }
    for name, (parent, currency) in tree.items():
        parent_id = demo.affiliate_ids.get(parent) if parent else None
        demo.affiliate_ids[name] = _affiliate(conn, now, name, currency, parent_id)
    casino_affiliates = ["Ace Affiliates", "Ace Sub One", "Ace Sub Two", "Blue Media"]
    for kind, offer_id, brand_id, names in (
        ("casino", casino_offer, demo.casino_brand_id, casino_affiliates),
        ("forex", forex_offer, demo.forex_brand_id, ["Atlas IB", "Atlas Sub IB"]),
    ):
        demo.link_codes[kind] = []
        demo.promo_codes[kind] = []
        for index, name in enumerate(names):
            code = f"{kind[:2]}{index}{new_id()[-6:]}"
            _insert(conn, t.tracking_links, now, code=code, affiliate_id=demo.affiliate_ids[name],
                    offer_id=offer_id, sub1="demo")
            demo.link_codes[kind].append(code)
            promo = f"{name.split()[0].upper()}{kind.upper()[:2]}{index}"
            _insert(conn, t.promo_codes, now, code=promo, affiliate_id=demo.affiliate_ids[name],
                    brand_id=brand_id, offer_id=offer_id)
            demo.promo_codes[kind].append(promo)
    for label, role, affiliate in (
        ("manager", Role.MANAGER, None), ("finance", Role.FINANCE, None),
        ("affiliate Ace Affiliates", Role.AFFILIATE, demo.affiliate_ids["Ace Affiliates"]),
        ("affiliate Atlas IB", Role.AFFILIATE, demo.affiliate_ids["Atlas IB"]),
    ):
        issued = issue_key(conn, role=role, name=f"demo {label}", now=now, affiliate_id=affiliate)
        demo.keys[label] = issued.token
    _people(conn, demo, now)
    demo.integrations = create_integrations(conn, demo.casino_brand_id, demo.forex_brand_id, now)
    create_deals(conn, demo.casino_brand_id, demo.forex_brand_id, demo.affiliate_ids, now)
    return demo


def _people(conn: sa.Connection, demo: DemoProgramme, now: datetime) -> None:
    """Sign-in users for the web console and portal, with fresh passwords each demo."""
    for label, email, role, affiliate in (
        ("manager", "manager@demo.example", Role.MANAGER, None),
        ("affiliate Ace Affiliates", "ace@demo.example", Role.AFFILIATE,
         demo.affiliate_ids["Ace Affiliates"]),
    ):
        password = secrets.token_urlsafe(12)
        create_user(conn, email=email, password=password, role=role, affiliate_id=affiliate,
                    now=now)
        demo.users[label] = (email, password)
