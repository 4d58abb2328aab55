"""A brand, an offer, an affiliate and a tracking link inserted straight into the store,
and a client for the whole ASGI app with its lifespan (click writer) running."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from clickledger.http.app import create_app
from clickledger.ids import new_id
from clickledger.runtime import Runtime
from clickledger.store import tables as t

LANDING = "https://www.brand.example/welcome?cid={click_id}&s1={sub1}&aff={affiliate_id}"
CLIENT_IP = "8.8.8.8"  # a public address geoip2fast places in the US


@dataclass
class Programme:
    brand_id: str
    offer_id: str
    affiliate_id: str
    link_id: str
    code: str


def seed_programme(
    engine: sa.Engine, *, code: str = "spring", landing: str = LANDING,
    allowed_domains: list[str] | None = None, link_status: str = "active",
    fallback_url: str | None = None, link_subs: dict[str, str] | None = None,
) -> Programme:
    """One brand → offer → affiliate → link, written with plain inserts."""
    now = datetime(2026, 1, 1, tzinfo=UTC)
    stamps = {"created_at": now, "updated_at": now}
    brand_id, offer_id, affiliate_id, link_id = new_id(), new_id(), new_id(), new_id()
    with engine.begin() as conn:
        conn.execute(t.brands.insert(), {"id": brand_id, "name": f"Brand {code}", "kind": "casino",
                                         "default_currency": "EUR", "fallback_url": fallback_url,
                                         **stamps})
        conn.execute(t.offers.insert(), {
            "id": offer_id, "brand_id": brand_id, "name": "Welcome", "landing_url": landing,
            "allowed_domains": ["brand.example"] if allowed_domains is None else allowed_domains,
            **stamps})
        conn.execute(t.affiliates.insert(), {
            "id": affiliate_id, "name": "Ace Media", "email": f"ace-{code}@example.com",
            "status": "active", "payout_currency": "EUR", **stamps})
        conn.execute(t.tracking_links.insert(), {
            "id": link_id, "code": code, "affiliate_id": affiliate_id, "offer_id": offer_id,
            "status": link_status, **(link_subs or {}), **stamps})
    return Programme(brand_id, offer_id, affiliate_id, link_id, code)


def click_rows(engine: sa.Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(t.clicks).order_by(t.clicks.c.id)))


def rollup_rows(engine: sa.Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(t.click_rollups_hourly).order_by(
            t.click_rollups_hourly.c.hour, t.click_rollups_hourly.c.sub1)))


ClientFactory = Callable[..., TestClient]


@pytest.fixture
def programme(runtime: Runtime) -> Programme:
    return seed_programme(runtime.engine)


@pytest.fixture
def app_client(runtime: Runtime) -> Iterator[ClientFactory]:
    """Open clients on the app (lifespan started); every one is closed after the test."""
    opened: list[TestClient] = []

    def open_client(client_ip: str = CLIENT_IP, **kwargs: Any) -> TestClient:
        client = TestClient(create_app(runtime), follow_redirects=False,
                            client=(client_ip, 50_000), **kwargs)
        client.__enter__()
        opened.append(client)
        return client

    yield open_client
    for client in opened:
        client.__exit__(None, None, None)


@pytest.fixture
def client(app_client: ClientFactory, programme: Programme) -> TestClient:
    return app_client()
