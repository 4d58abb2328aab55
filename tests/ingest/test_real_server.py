"""Against real ``clickledger serve`` processes: the documented signing examples work, the
``send-event`` command works, and two servers sharing PostgreSQL store each txn once."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from tests.conftest import _create_pg_database, _drop_pg_database

from clickledger.runtime import Runtime
from clickledger.settings import Settings
from clickledger.store import migrate
from clickledger.store import tables as t
from clickledger.store.engine import create_engine

from .conftest import World, seed_world

pytestmark = pytest.mark.slow

DOCS = Path(__file__).resolve().parents[2] / "docs" / "integration.md"
SERVER_SECRET_KEY = "s" * 40
STARTUP_S = 90.0  # generous: a loaded 2-core machine has taken over 30 s


def free_port() -> int:
    import socket  # noqa: PLC0415

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def launch(database_url: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "CLICKLEDGER_SECRET_KEY": SERVER_SECRET_KEY}
    process = subprocess.Popen(
        [sys.executable, "-m", "clickledger", "serve", "--port", str(port),
         "--database-url", database_url],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return process, f"http://127.0.0.1:{port}"


def wait_ready(process: subprocess.Popen[bytes], base: str) -> None:
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server died: {process.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("server did not start")


def start_servers(database_url: str, count: int) -> list[tuple[subprocess.Popen[bytes], str]]:
    """``count`` servers on one database, started side by side."""
    servers = [launch(database_url) for _ in range(count)]
    try:
        for process, base in servers:
            wait_ready(process, base)
    except BaseException:
        for process, _ in servers:  # none left behind when one fails to start
            process.kill()
            process.wait(10)
        raise
    return servers


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()


def seeded(database_url: str) -> World:
    engine = create_engine(database_url)
    migrate.upgrade(engine)
    runtime = Runtime(settings=Settings(database_url=database_url,
                                        secret_key=SERVER_SECRET_KEY), engine=engine)
    return seed_world(runtime)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[World, str]]:
    sqlite_url = f"sqlite:///{tmp_path_factory.mktemp('live') / 'clickledger.db'}"
    world = seeded(sqlite_url)
    ((process, base),) = start_servers(sqlite_url, 1)
    try:
        yield world, base
    finally:
        stop(process)
        world.engine.dispose()


def example(language: str) -> str:
    text = DOCS.read_text()
    match = re.search(rf"<!-- example: {language} -->\s*```\w+\n(.*?)```", text, re.S)
    assert match, f"no {language} example in {DOCS}"
    return match.group(1)


def run_example(command: list[str], world: World, base: str) -> dict[str, object]:
    env = {**os.environ, "CL_URL": base, "CL_KEY": world.integration["key_id"],
           "CL_SECRET": world.integration["signing_secret"]}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_the_documented_shell_python_and_node_examples_are_accepted_by_a_real_server(
    live: tuple[World, str],
) -> None:
    world, base = live
    shell = run_example(["sh", "-c", example("shell")], world, base)
    assert shell["status"] == "accepted", shell
    python = run_example([sys.executable, "-c", example("python")], world, base)
    assert python["results"][0]["status"] == "accepted", python  # type: ignore[index]
    node = run_example(["node", "-e", example("node")], world, base)
    assert node["status"] == "accepted", node
    again = run_example(["sh", "-c", example("shell")], world, base)
    assert again == {"status": "duplicate", "event_id": shell["event_id"], "txn_id": "T-1001"}


def test_send_event_fires_a_signed_event_and_prints_the_answer(live: tuple[World, str]) -> None:
    world, base = live
    command = [sys.executable, "-m", "clickledger", "send-event", "--url", base,
               "--key", world.integration["key_id"], "--secret",
               world.integration["signing_secret"], "--event", "ftd", "--txn-id", "cli-1",
               "--user-id", "cli-player", "--amount", "25", "--currency", "EUR"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert answer["status"] == "accepted" and answer["http_status"] == 200
    wrong = subprocess.run([*command[:9], "wrong-secret", *command[10:]], capture_output=True,
                           text=True, timeout=60, check=False)
    assert wrong.returncode == 1 and '"bad_signature"' in wrong.stdout


@pytest.mark.postgres
def test_two_servers_sharing_postgres_store_each_txn_once(postgres_admin_url: str) -> None:
    name, url = _create_pg_database(postgres_admin_url)
    world = seeded(url)
    servers = start_servers(url, 2)
    from clickledger.cli.send_event import signed_url  # noqa: PLC0415

    key, secret = world.integration["key_id"], world.integration["signing_secret"]
    txns = [f"pg-{i}" for i in range(20)]
    first_reg = {"event": "registration", "user_id": "pg-player", "txn_id": "pg-reg",
                 "click_id": world.clicks["recent"]}

    async def fire() -> list[dict[str, object]]:
        async with httpx.AsyncClient(timeout=30) as client:
            calls = []
            for round_no in range(4):
                for txn in [*txns, "pg-reg"]:
                    params = first_reg if txn == "pg-reg" else {
                        "event": "deposit", "txn_id": txn, "user_id": "pg-player",
                        "amount": "10", "currency": "EUR"}
                    base = servers[round_no % 2][1]
                    calls.append(client.get(signed_url(base, key, secret, params)))
            return [r.json() for r in await asyncio.gather(*calls)]

    try:
        answers = asyncio.run(fire())
        by_txn: dict[str, set[object]] = {}
        for answer in answers:
            assert answer["status"] in ("accepted", "duplicate"), answer
            by_txn.setdefault(str(answer["txn_id"]), set()).add(answer["event_id"])
        assert all(len(ids) == 1 for ids in by_txn.values())
        assert sum(1 for a in answers if a["status"] == "accepted") == len(txns) + 1
        with world.engine.connect() as conn:
            events = conn.execute(sa.select(sa.func.count()).select_from(t.player_events)).scalar()
            players = conn.execute(sa.select(sa.func.count()).select_from(t.players)).scalar()
        assert events == len(txns) + 1 and players == 1
    finally:
        for process, _ in servers:
            stop(process)
        world.engine.dispose()
        _drop_pg_database(postgres_admin_url, name)
