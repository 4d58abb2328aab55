"""A small programme (brand, affiliates, offer, link, clicks, promo code, integration) and a
signed client that talks to the real ASGI app in process."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import urlencode

import httpx
import pytest
import sqlalchemy as sa

from clickledger.http.app import ClickLedgerApp, create_app
from clickledger.ids import new_id
from clickledger.ingest import signatures
from clickledger.runtime import Runtime
from clickledger.services.integration_health import NewIntegration, create_integration
from clickledger.store import tables as t

T = TypeVar("T")


@dataclass
class World:
    runtime: Runtime
    brand_id: str
    other_brand_id: str
    affiliate_id: str
    promo_affiliate_id: str
    offer_id: str
    link_id: str
    integration: dict[str, Any]
    clicks: dict[str, str] = field(default_factory=dict)

    @property
    def engine(self) -> sa.Engine:
        return self.runtime.engine

    def add_click(self, name: str, at: datetime, affiliate_id: str | None = None,
                  offer_id: str | None = None) -> str:
        click_id = new_id()
        with self.engine.begin() as conn:
            conn.execute(t.clicks.insert().values(
                id=click_id, created_at=at, link_id=self.link_id,
                affiliate_id=affiliate_id or self.affiliate_id, offer_id=offer_id or self.offer_id,
                is_unique=True))
        self.clicks[name] = click_id
        return click_id

    def add_integration(self, **options: Any) -> dict[str, Any]:
        spec = NewIntegration(brand_id=self.brand_id, name=f"op-{new_id()[:8]}", **options)
        with self.engine.begin() as conn:
            return create_integration(conn, spec, actor="test", now=self.runtime.clock.now())

    def count(self, table: sa.Table, *where: Any) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(table)
                                    .where(*where)).scalar_one())

    def player(self, operator_player_id: str) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(t.players).where(
                t.players.c.operator_player_id == operator_player_id)).first()


def seed_world(runtime: Runtime) -> World:
    now = runtime.clock.now()
    ids = {name: new_id() for name in ("brand", "brand2", "aff", "aff2", "offer", "offer2",
                                       "link", "promo")}
    with runtime.engine.begin() as conn:
        for key, name in (("brand", "Casino A"), ("brand2", "Casino B")):
            conn.execute(t.brands.insert().values(id=ids[key], name=name, kind="casino",
                                                  default_currency="EUR", created_at=now,
                                                  updated_at=now))
        for key, email in (("aff", "a@example.com"), ("aff2", "p@example.com")):
            conn.execute(t.affiliates.insert().values(
                id=ids[key], name=email, email=email, status="active", payout_currency="EUR",
                created_at=now, updated_at=now))
        for key, brand in (("offer", "brand"), ("offer2", "brand2")):
            conn.execute(t.offers.insert().values(
                id=ids[key], brand_id=ids[brand], name=key, landing_url="https://casino.example/",
                allowed_domains=["casino.example"], created_at=now, updated_at=now))
        conn.execute(t.tracking_links.insert().values(
            id=ids["link"], code="abc", affiliate_id=ids["aff"], offer_id=ids["offer"],
            created_at=now, updated_at=now))
        conn.execute(t.promo_codes.insert().values(
            id=ids["promo"], code="WELCOME50", affiliate_id=ids["aff2"], brand_id=ids["brand"],
            created_at=now, updated_at=now))
        integration = create_integration(
            conn, NewIntegration(brand_id=ids["brand"], name="operator-a", pixel=True,
                                 status_map={"dep": "deposit", "first_dep": "ftd"},
                                 parameter_map={"player": "user_id"}),
            actor="test", now=now)
    world = World(runtime, ids["brand"], ids["brand2"], ids["aff"], ids["aff2"], ids["offer"],
                  ids["link"], integration)
    world.add_click("recent", now - timedelta(days=2))
    world.add_click("old", now - timedelta(days=45))
    world.add_click("other_brand", now - timedelta(days=1), offer_id=ids["offer2"])
    return world


@pytest.fixture
def world(runtime: Runtime) -> World:
    return seed_world(runtime)


class Client:
    """Signs and sends requests to the in-process app (a real ASGI call, no network)."""

    def __init__(self, app: ClickLedgerApp, world: World, peer: str = "203.0.113.7") -> None:
        self.app = app
        self.world = world
        transport = httpx.ASGITransport(app=app, client=(peer, 40000))
        self.http = httpx.AsyncClient(transport=transport, base_url="http://testserver")

    def now_s(self) -> str:
        return str(int(self.world.runtime.clock.now().timestamp()))

    async def get(self, params: dict[str, str], integration: dict[str, Any] | None = None,
                  ts: str | None = None, tamper: Callable[[str], str] | None = None,
                  in_headers: bool = False) -> httpx.Response:
        """A signed GET /postback; ``tamper`` changes the query after signing."""
        integration = integration or self.world.integration
        ts = ts or self.now_s()
        if in_headers:
            query = urlencode(params)
            sig = signatures.sign(integration["signing_secret"], ts, "GET", "/postback", query, b"")
            headers = {"X-CL-Key": integration["key_id"], "X-CL-Timestamp": ts,
                       "X-CL-Signature": sig}
            return await self.http.get(f"/postback?{query}", headers=headers)
        query = urlencode({**params, "cl_key": integration["key_id"], "cl_ts": ts})
        sig = signatures.sign(integration["signing_secret"], ts, "GET", "/postback", query, b"")
        sent = tamper(query) if tamper else query
        return await self.http.get(f"/postback?{sent}&cl_sig={sig}")

    async def post_json(self, path: str, document: Any,
                        integration: dict[str, Any] | None = None) -> httpx.Response:
        integration = integration or self.world.integration
        body = json.dumps(document).encode()
        ts = self.now_s()
        sig = signatures.sign(integration["signing_secret"], ts, "POST", path, "", body)
        headers = {"X-CL-Key": integration["key_id"], "X-CL-Timestamp": ts,
                   "X-CL-Signature": sig, "Content-Type": "application/json"}
        return await self.http.post(path, content=body, headers=headers)


def run_app(runtime: Runtime, scenario: Callable[[Client], Awaitable[T]], world: World) -> T:
    """Start the app's hot paths, run ``scenario`` against it, stop it (flushing everything)."""
    app = create_app(runtime)

    async def main() -> T:
        for start in app.hot.on_startup:
            await start()
        client = Client(app, world)
        try:
            return await scenario(client)
        finally:
            await client.http.aclose()
            for stop in app.hot.on_shutdown:
                await stop()

    return asyncio.run(main())


@pytest.fixture
def serve(runtime: Runtime, world: World) -> Iterator[Callable[..., Any]]:
    def _serve(scenario: Callable[[Client], Awaitable[T]]) -> T:
        return run_app(runtime, scenario, world)

    yield _serve
