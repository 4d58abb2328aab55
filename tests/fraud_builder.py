"""Fraud test helpers on top of the commission builder: offers, links, clicks with their
headers, operator raw fields on events, login IPs, and a direct assessment row."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from clickledger.ids import new_id
from clickledger.services.fraud import ClickCount, FraudConfig, assess_events, record_clicks
from clickledger.store import tables as t
from commission_builder import T0, World

CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/120.0.0.0 Safari/537.36")
HEADLESS = CHROME.replace("Chrome/", "HeadlessChrome/")
CPA_TERMS = {"amount": "100", "qualification": {"min_ftd": "10"}}


class FraudWorld(World):
    """A commission world that also clicks, carries operator fields and assesses."""

    def __init__(self, engine: sa.Engine, config: FraudConfig | None = None) -> None:
        super().__init__(engine)
        self.config = config or FraudConfig()
        self.links: dict[str, tuple[str, str]] = {}

    def cpa_affiliate(self, brand_id: str, name: str, login_ips: list[str] | None = None) -> str:
        affiliate_id = self.affiliate(name)
        deal = self.deal(brand_id, "cpa", CPA_TERMS)
        self.assign(affiliate_id, deal)
        if login_ips is not None:
            with self.engine.begin() as conn:
                conn.execute(t.affiliates.update().where(t.affiliates.c.id == affiliate_id)
                             .values(login_ips=login_ips))
        offer = self._insert(t.offers, brand_id=brand_id, name=f"offer {new_id()[-6:]}",
                             landing_url="https://casino.example/",
                             allowed_domains=["casino.example"])
        link = self._insert(t.tracking_links, code=f"l{new_id()[-10:]}", affiliate_id=affiliate_id,
                            offer_id=offer)
        self.links[affiliate_id] = (link, offer)
        return affiliate_id

    def cpa_for(self, brand_id: str, affiliate_id: str, link_id: str, offer_id: str,
                integration_id: str) -> None:
        """Give an existing affiliate (with its link) a CPA deal on an existing brand."""
        self.integration_of[brand_id] = integration_id
        since = T0 - timedelta(days=365)
        self.assign(affiliate_id, self.deal(brand_id, "cpa", CPA_TERMS, effective_from=since),
                    effective_from=since)
        self.links[affiliate_id] = (link_id, offer_id)

    def click(self, affiliate_id: str, when: datetime, *, ip: str = "203.0.113.7",
              ua: str = CHROME, language: str | None = "de-DE", country: str | None = "DE",
              browser: str | None = "Chrome", os: str | None = "Windows",
              device: str | None = "Other", sub1: str | None = "spring",
              count: bool = True) -> str:
        link, offer = self.links[affiliate_id]
        click_id = self._insert(
            t.clicks, created_at=when, link_id=link, affiliate_id=affiliate_id, offer_id=offer,
            sub1=sub1, ip=ip, user_agent=ua, accept_language=language, country=country,
            device=device, os=os, browser=browser, is_bot=False, is_unique=True)
        if count:
            with self.engine.begin() as conn:
                record_clicks(conn, [ClickCount(when, ip, link, sub1, affiliate_id)])
        return click_id

    def clicked_player(self, brand_id: str, affiliate_id: str, click_id: str,
                       registered_at: datetime, country: str = "DE") -> str:
        player = self.player(brand_id, affiliate_id, registered_at, country)
        with self.engine.begin() as conn:
            conn.execute(t.players.update().where(t.players.c.id == player)
                         .values(click_id=click_id))
        return player

    def raw(self, event_id: str, **fields: str) -> str:
        with self.engine.begin() as conn:
            conn.execute(t.player_events.update().where(t.player_events.c.id == event_id)
                         .values(raw=fields))
        return event_id

    def land(self, *event_ids: str, now: datetime | None = None) -> None:
        """What ingestion does in one transaction: commission first, then fraud."""
        from clickledger.services.conversion import evaluate_events  # noqa: PLC0415

        with self.engine.begin() as conn:
            evaluate_events(conn, list(event_ids), now or T0)
            assess_events(conn, list(event_ids), now or T0, self.config)

    def assessments(self, player_id: str | None = None) -> list[Any]:
        a = t.fraud_assessments
        query = sa.select(a).order_by(a.c.id)
        if player_id is not None:
            query = query.where(a.c.player_id == player_id)
        with self.engine.connect() as conn:
            return list(conn.execute(query))

    def latest(self, player_id: str) -> Any:
        rows = self.assessments(player_id)
        return rows[-1] if rows else None

    def entry_statuses(self, player_id: str) -> dict[str, str]:
        e = t.ledger_entries
        with self.engine.connect() as conn:
            return {row.entry_key: row.status for row in conn.execute(
                sa.select(e.c.entry_key, e.c.status).where(e.c.player_id == player_id))}


def registered_with_ftd(world: FraudWorld, brand: str, affiliate: str, clicked_at: datetime,
                        ctit: timedelta, **click: Any) -> tuple[str, str, str]:
    """A clicked player, its registration and a 50 EUR FTD an hour later (not yet landed)."""
    click_id = world.click(affiliate, clicked_at, **click)
    registered = clicked_at + ctit
    player = world.clicked_player(brand, affiliate, click_id, registered)
    registration = world.event(player, "registration", registered)
    ftd = world.event(player, "ftd", registered + timedelta(hours=1), amount="50")
    return player, registration, ftd
