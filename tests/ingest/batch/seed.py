"""Seeding helpers for import tests: a brand, an integration and an affiliate, by direct insert."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from clickledger.ids import new_id
from clickledger.store import tables as t


@dataclass(frozen=True)
class Seeded:
    brand_id: str
    integration_id: str
    integration_name: str
    affiliate_id: str


def seed(engine: sa.Engine, now: datetime, name: str = "acme-casino") -> Seeded:
    brand_id, integration_id, affiliate_id = new_id(), new_id(), new_id()
    with engine.begin() as conn:
        conn.execute(t.brands.insert().values(
            id=brand_id, name=f"{name} brand", kind="casino", default_currency="EUR",
            created_at=now, updated_at=now))
        conn.execute(t.integrations.insert().values(
            id=integration_id, brand_id=brand_id, name=name, signing_secret="s" * 32,
            created_at=now, updated_at=now))
        conn.execute(t.affiliates.insert().values(
            id=affiliate_id, name="Aff One", email=f"aff@{name}.test", status="active",
            payout_currency="EUR", created_at=now, updated_at=now))
    return Seeded(brand_id, integration_id, name, affiliate_id)


def events(engine: sa.Engine) -> list[sa.Row[tuple[object, ...]]]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(t.player_events).order_by(t.player_events.c.txn_id)))


def count(engine: sa.Engine, table: sa.Table) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())
