"""A load balancer asks ``/readyz``: 200 while the database answers at the newest schema and
the group committers run; 503, with the failing check named, otherwise."""

from __future__ import annotations

import asyncio

import httpx
import sqlalchemy as sa
from fastapi.testclient import TestClient

from clickledger.http.app import ClickLedgerApp
from clickledger.operations.endpoints import ReadinessHandler
from clickledger.runtime import Runtime
from clickledger.settings import Settings
from clickledger.store.engine import create_engine


def test_ready_when_database_schema_and_committers_are_fine(local_client: TestClient) -> None:
    response = local_client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {
        "database": "ok", "schema": "ok", "committer:clicks": "ok", "committer:ingest": "ok"}}


def test_not_ready_once_a_committer_has_stopped(
    app: ClickLedgerApp, local_client: TestClient
) -> None:
    clicks = next(c for c in app.hot.committers if c.name == "clicks")
    clicks.stop()

    response = local_client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["status"] == "not_ready"
    assert response.json()["checks"]["committer:clicks"] == "stopped"
    assert response.json()["checks"]["committer:ingest"] == "ok"


def test_not_ready_when_the_schema_is_behind_the_code(
    runtime: Runtime, local_client: TestClient
) -> None:
    with runtime.engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '0000_older'"))

    response = local_client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["checks"]["schema"].startswith("at 0000_older, newest is ")


def test_not_ready_when_the_database_does_not_answer(settings: Settings) -> None:
    unreachable = create_engine("postgresql://postgres@127.0.0.1:1/nothing_here")
    handler = ReadinessHandler(Runtime(settings=settings, engine=unreachable), [])

    async def ask() -> httpx.Response:
        transport = httpx.ASGITransport(app=handler)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.get("/readyz")

    response = asyncio.run(ask())

    assert response.status_code == 503
    assert response.json()["checks"]["database"].startswith("unreachable: ")
