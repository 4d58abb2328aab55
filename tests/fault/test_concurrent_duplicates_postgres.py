"""16 concurrent clients send the same postbacks (each one many times) to two real servers
sharing PostgreSQL: every txn is stored once, every player converts once, and the CPA deal
posts exactly one commission entry per player."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import sqlalchemy as sa
from tests.conftest import _create_pg_database, _drop_pg_database
from tests.fault.servers import SECRET_KEY, Server, start_server
from tests.ingest.conftest import World, seed_world

from clickledger.cli.send_event import signed_url
from clickledger.runtime import Runtime
from clickledger.services import deals
from clickledger.settings import Settings
from clickledger.store import migrate
from clickledger.store import tables as t
from clickledger.store.engine import create_engine

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

CLIENTS = 16
PLAYERS = 8
CPA_EUR = "50"


def programme(url: str) -> tuple[World, list[dict[str, str]]]:
    """The ingest test world, a CPA deal for its affiliate, one click per player."""
    engine = create_engine(url)
    migrate.upgrade(engine)
    world = seed_world(Runtime(settings=Settings(database_url=url, secret_key=SECRET_KEY),
                               engine=engine))
    now = datetime.now(UTC)
    with engine.begin() as conn:
        deal = deals.create_deal(conn, name="CPA 50", brand_id=world.brand_id, kind="cpa",
                                 currency="EUR", terms={"amount": CPA_EUR}, effective_from=None,
                                 actor="test", now=now)
        deals.assign(conn, deal_id=deal["id"], affiliate_id=world.affiliate_id, overrides=None,
                     effective_from=None, actor="test", now=now)
    postbacks: list[dict[str, str]] = []
    for n in range(PLAYERS):
        click_id = world.add_click(f"p{n}", now - timedelta(hours=3))
        postbacks += [
            {"event": "registration", "txn_id": f"reg-{n}", "user_id": f"dup-{n}",
             "click_id": click_id},
            {"event": "ftd", "txn_id": f"ftd-{n}", "user_id": f"dup-{n}", "amount": "100.00",
             "currency": "EUR"},
        ]
    return world, postbacks


async def clients(servers: list[Server], world: World,
                  postbacks: list[dict[str, str]]) -> list[dict[str, object]]:
    """Each client sends every postback in its own order, alternating between the servers."""
    key, secret = world.integration["key_id"], world.integration["signing_secret"]

    async def one_client(n: int, http: httpx.AsyncClient) -> list[dict[str, object]]:
        order = list(postbacks)
        random.Random(n).shuffle(order)
        answers = []
        for i, params in enumerate(order):
            base = servers[(n + i) % len(servers)].base
            answers.append((await http.get(signed_url(base, key, secret, params))).json())
        return answers

    async with httpx.AsyncClient(timeout=30) as http:
        per_client = await asyncio.gather(*(one_client(n, http) for n in range(CLIENTS)))
    return [answer for answers in per_client for answer in answers]


def count(engine: sa.Engine, table: sa.Table, *where: sa.ColumnElement[bool]) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table).where(*where))
                   .scalar_one())


def test_sixteen_clients_two_servers_one_event_conversion_and_commission_each(
    postgres_admin_url: str,
) -> None:
    name, url = _create_pg_database(postgres_admin_url)
    servers: list[Server] = []
    world = None
    try:
        world, postbacks = programme(url)
        servers = [start_server(url), start_server(url)]
        answers = asyncio.run(clients(servers, world, postbacks))
        by_txn: dict[str, set[object]] = {}
        for answer in answers:
            assert answer["status"] in ("accepted", "duplicate"), answer
            by_txn.setdefault(str(answer["txn_id"]), set()).add(answer["event_id"])
        assert len(by_txn) == 2 * PLAYERS and all(len(ids) == 1 for ids in by_txn.values())
        assert sum(a["status"] == "accepted" for a in answers) == 2 * PLAYERS
        engine = world.engine
        assert count(engine, t.player_events) == 2 * PLAYERS
        assert count(engine, t.players) == PLAYERS
        assert count(engine, t.conversions) == PLAYERS
        e = t.ledger_entries
        with engine.connect() as conn:
            lines = conn.execute(sa.select(e.c.player_id, e.c.amount_minor, e.c.currency)
                                 .where(e.c.kind == "commission")).all()
        assert len(lines) == PLAYERS, lines
        assert len({line.player_id for line in lines}) == PLAYERS
        assert {(line.amount_minor, line.currency) for line in lines} == {(5000, "EUR")}
    finally:
        for server in servers:
            server.stop()
        if world is not None:
            world.engine.dispose()
        _drop_pg_database(postgres_admin_url, name)
