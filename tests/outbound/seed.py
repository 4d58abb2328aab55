"""Builds the rows outbound delivery reads (brand, offer, affiliate, click, player, event,
ledger entry, template, outbox row) straight into the tables, for outbound tests and the bench."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from clickledger.ids import new_id
from clickledger.store import tables as t

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class World:
    brand_id: str
    offer_id: str
    integration_id: str
    link_id: str


def world(conn: sa.Connection, now: datetime = T0) -> World:
    brand_id, offer_id, integration_id = new_id(), new_id(), new_id()
    conn.execute(t.brands.insert().values(id=brand_id, name=f"Brand {brand_id[-6:]}",
                                          kind="casino", default_currency="EUR",
                                          created_at=now, updated_at=now))
    conn.execute(t.offers.insert().values(id=offer_id, brand_id=brand_id, name="Welcome",
                                          landing_url="https://casino.example/",
                                          allowed_domains=["casino.example"],
                                          created_at=now, updated_at=now))
    conn.execute(t.integrations.insert().values(id=integration_id, brand_id=brand_id,
                                                name=f"op {integration_id[-6:]}",
                                                signing_secret="s" * 32,
                                                created_at=now, updated_at=now))
    return World(brand_id, offer_id, integration_id, new_id())


def affiliate(conn: sa.Connection, now: datetime = T0, name: str = "Aff") -> str:
    affiliate_id = new_id()
    conn.execute(t.affiliates.insert().values(
        id=affiliate_id, name=name, email=f"{affiliate_id}@example.org", status="active",
        payout_currency="EUR", created_at=now, updated_at=now))
    return affiliate_id


def click(conn: sa.Connection, w: World, affiliate_id: str, subs: dict[str, str],
          now: datetime = T0, offer_id: str | None = None) -> str:
    click_id = new_id()
    conn.execute(t.clicks.insert().values(id=click_id, created_at=now, link_id=w.link_id,
                                          affiliate_id=affiliate_id,
                                          offer_id=offer_id or w.offer_id, **subs))
    return click_id


def player(conn: sa.Connection, w: World, affiliate_id: str | None, click_id: str | None,
           now: datetime = T0) -> str:
    player_id = new_id()
    conn.execute(t.players.insert().values(
        id=player_id, brand_id=w.brand_id, operator_player_id=f"p-{player_id[-8:]}",
        registered_at=now, affiliate_id=affiliate_id, click_id=click_id,
        attribution="click" if affiliate_id else "organic", created_at=now, updated_at=now))
    return player_id


def event(conn: sa.Connection, w: World, player_id: str, kind: str,
          amount_minor: int | None = None, currency: str | None = None,
          now: datetime = T0) -> str:
    event_id = new_id()
    operator_player_id = conn.execute(sa.select(t.players.c.operator_player_id)
                                      .where(t.players.c.id == player_id)).scalar_one()
    conn.execute(t.player_events.insert().values(
        id=event_id, integration_id=w.integration_id, txn_id=f"tx-{event_id}",
        payload_hash="0" * 64, source="s2s", kind=kind, brand_id=w.brand_id,
        operator_player_id=operator_player_id, player_id=player_id, occurred_at=now,
        received_at=now, amount_minor=amount_minor, currency=currency))
    return event_id


def ledger(conn: sa.Connection, affiliate_id: str, player_id: str, amount_minor: int,
           sources: list[str], status: str = "approved", kind: str = "commission",
           currency: str = "EUR", now: datetime = T0) -> str:
    entry_id = new_id()
    conn.execute(t.ledger_entries.insert().values(
        id=entry_id, entry_key=f"k-{entry_id}", kind=kind, affiliate_id=affiliate_id,
        player_id=player_id, amount_minor=amount_minor, currency=currency, period_start=now,
        status=status, source_event_ids=sources, explanation="test", created_at=now))
    return entry_id


def template(conn: sa.Connection, affiliate_id: str, url: str, *, kind: str = "url",
             offer_id: str | None = None, event_kind: str | None = None,
             words: dict[str, str] | None = None, secret: str | None = None,
             now: datetime = T0) -> str:
    template_id = new_id()
    conn.execute(t.postback_templates.insert().values(
        id=template_id, affiliate_id=affiliate_id, offer_id=offer_id, event_kind=event_kind,
        kind=kind, url_template=url, status_words=words or {}, webhook_secret=secret,
        status="active", created_at=now, updated_at=now))
    return template_id


def outbox_rows(conn: sa.Connection, template_id: str, affiliate_id: str, urls: list[str],
                now: datetime = T0, method: str = "GET", body: str | None = None) -> list[str]:
    rows: list[dict[str, Any]] = [
        {"id": new_id(), "dedupe_key": f"bench:{template_id}:{i}", "template_id": template_id,
         "affiliate_id": affiliate_id, "event_id": None, "method": method, "url": url,
         "body": body, "headers": None, "status": "pending", "attempts": 0,
         "next_attempt_at": now, "resend_count": 0, "created_at": now, "updated_at": now}
        for i, url in enumerate(urls)
    ]
    if rows:
        conn.execute(t.outbox.insert(), rows)
    return [row["id"] for row in rows]
