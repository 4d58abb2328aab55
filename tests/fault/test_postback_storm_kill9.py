"""``kill -9`` of a real ``clickledger serve`` during a postback storm, three rounds with a
restart between: every event the operator was told about (accepted or duplicate, with an
event id) is stored exactly once, under that id, after each restart."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from tests.fault.servers import SECRET_KEY, Server, start_server
from tests.ingest.conftest import World, seed_world

from clickledger.cli.send_event import signed_url
from clickledger.runtime import Runtime
from clickledger.settings import Settings
from clickledger.store import migrate
from clickledger.store import tables as t
from clickledger.store.engine import create_engine

ROUNDS = 3
POSTBACKS_PER_ROUND = 500
KILL_AFTER_ACKS = 150
CONCURRENCY = 32
PLAYERS = 40


def params_for(round_no: int, n: int) -> dict[str, str]:
    """Round r sends new deposits and repeats a third of the previous round's txn ids."""
    player = f"storm-p{n % PLAYERS}"
    if round_no > 0 and n % 3 == 0:
        round_no -= 1  # a retry of an earlier round's postback: same txn, same content
    return {"event": "deposit", "txn_id": f"r{round_no}-t{n}", "user_id": player,
            "amount": f"{10 + n % 50}.00", "currency": "EUR"}


async def storm(server: Server, world: World, round_no: int) -> dict[str, str]:
    """Fire the round's postbacks, SIGKILL the server mid-storm; return txn → acked event id."""
    key, secret = world.integration["key_id"], world.integration["signing_secret"]
    acked: dict[str, str] = {}
    semaphore = asyncio.Semaphore(CONCURRENCY)
    killed = False
    async with httpx.AsyncClient(timeout=30,
                                 limits=httpx.Limits(max_connections=CONCURRENCY)) as client:

        async def one(n: int) -> None:
            nonlocal killed
            params = params_for(round_no, n)
            async with semaphore:
                try:
                    response = await client.get(signed_url(server.base, key, secret, params))
                except httpx.HTTPError:
                    return
            try:
                body = response.json()
            except ValueError:  # a non-JSON answer acknowledges nothing
                return
            if body.get("status") in ("accepted", "duplicate") and body.get("event_id"):
                previous = acked.setdefault(body["txn_id"], body["event_id"])
                assert previous == body["event_id"], "one txn was told two event ids"
            if len(acked) >= KILL_AFTER_ACKS and not killed:
                killed = True
                server.kill9()

        await asyncio.gather(*(one(n) for n in range(POSTBACKS_PER_ROUND)))
    assert killed, "the storm ended before the kill: nothing was tested mid-flight"
    return acked


def stored_events(engine: sa.Engine, integration_id: str) -> dict[str, list[str]]:
    e = t.player_events
    with engine.connect() as conn:
        rows = conn.execute(sa.select(e.c.txn_id, e.c.id).where(
            e.c.integration_id == integration_id)).all()
    found: dict[str, list[str]] = {}
    for txn_id, event_id in rows:
        found.setdefault(txn_id, []).append(str(event_id))
    return found


def retries_are_answered_duplicate(server: Server, world: World,
                                   acknowledged: dict[str, str], round_no: int) -> None:
    """After a restart, retries of earlier acknowledged postbacks get the same event id."""
    key, secret = world.integration["key_id"], world.integration["signing_secret"]
    for n in range(0, POSTBACKS_PER_ROUND, 9):
        params = params_for(round_no, n)
        if params["txn_id"] in acknowledged:
            answer = httpx.get(signed_url(server.base, key, secret, params), timeout=10)
            assert answer.json() == {"status": "duplicate", "txn_id": params["txn_id"],
                                     "event_id": acknowledged[params["txn_id"]]}


def check_stored_exactly_once(engine: sa.Engine, world: World, acknowledged: dict[str, str],
                              round_no: int) -> None:
    stored = stored_events(engine, world.integration["id"])
    lost = {txn for txn in acknowledged if txn not in stored}
    assert not lost, f"round {round_no}: {len(lost)} acknowledged postbacks were lost"
    doubled = {txn: ids for txn, ids in stored.items() if len(ids) > 1}
    assert not doubled, f"round {round_no}: txns stored twice: {doubled}"
    moved = {txn for txn, event_id in acknowledged.items() if stored[txn] != [event_id]}
    assert not moved, f"round {round_no}: stored under another event id: {moved}"


@pytest.mark.slow
def test_every_acknowledged_postback_survives_three_kill_9_rounds_exactly_once(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'storm.db'}"
    engine = create_engine(url)
    migrate.upgrade(engine)
    world = seed_world(Runtime(settings=Settings(database_url=url, secret_key=SECRET_KEY),
                               engine=engine))
    acknowledged: dict[str, str] = {}
    try:
        for round_no in range(ROUNDS):
            server = start_server(url)
            try:
                if round_no > 0:  # the restart kept what the killed server acknowledged
                    retries_are_answered_duplicate(server, world, acknowledged, round_no - 1)
                acked = asyncio.run(storm(server, world, round_no))
            finally:
                server.kill9()
            for txn_id, event_id in acked.items():
                assert acknowledged.setdefault(txn_id, event_id) == event_id, txn_id
            check_stored_exactly_once(engine, world, acknowledged, round_no)
    finally:
        engine.dispose()
