"""An operator moves report reads to a read replica with ``CLICKLEDGER_REPORTS_DATABASE_URL``:
the report API and the report pages show what the replica holds, every write still lands on
the main database, and the replica is never written.

The replica is a copy of the main database taken at one moment (what a streaming replica
holds); traffic after the copy reaches only the main database, as if the replica lagged, so
the two answer differently and each figure shows where it was read."""

from __future__ import annotations

import csv
import io
import sqlite3
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from tests.conftest import _create_pg_database, _drop_pg_database
from tests.http.conftest import World, build_world
from tests.web.conftest import Site, add_users

from clickledger.http.app import create_app
from clickledger.runtime import Runtime
from clickledger.store import tables as t
from clickledger.store.engine import is_sqlite

DASHBOARD = "/api/v1/reports/dashboard?period=today"


@pytest.fixture
def copy_database(
    runtime: Runtime, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Callable[[], str]]:
    """Copies the main database as it is now; returns the copy's URL (dropped afterwards)."""
    made: list[tuple[str, str]] = []

    def copy() -> str:
        url = runtime.settings.database_url
        runtime.engine.dispose()  # PostgreSQL copies a template only while nobody is connected
        if is_sqlite(url):
            target = tmp_path / "replica.db"
            source = sqlite3.connect(sa.engine.make_url(url).database or "")
            with sqlite3.connect(target) as copy_db:
                source.backup(copy_db)
            source.close()
            return f"sqlite:///{target}"
        admin = request.getfixturevalue("postgres_admin_url")
        name, replica_url = _create_pg_database(admin, template=sa.engine.make_url(url).database)
        made.append((admin, name))
        return replica_url

    yield copy
    for admin, name in made:
        _drop_pg_database(admin, name)


def _clicks_today(client: TestClient, world: World) -> int:
    answer = client.get(DASHBOARD, headers=world.headers("manager"))
    assert answer.status_code == 200, answer.text
    return int(answer.json()["totals"]["clicks"])


def _click_rows(url: str) -> int:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        count = int(conn.execute(sa.select(sa.func.count()).select_from(t.clicks)).scalar_one())
    engine.dispose()
    return count


def test_reports_read_the_replica_and_every_write_lands_on_the_main_database(
    runtime: Runtime, copy_database: Callable[[], str]
) -> None:
    world = build_world(runtime)
    add_users(runtime, world)
    with TestClient(create_app(runtime)) as client:
        site = Site(world, client)
        for _ in range(3):
            site.click("alice-1")
    replica_url = copy_database()  # the replica has replayed Alice's 3 clicks
    with TestClient(create_app(runtime)) as client:
        Site(world, client).click("alice-1")
        Site(world, client).click("bob-1")  # 2 more, on the main database only
        assert _clicks_today(client, world) == 5  # without a reports URL: the main database

    settings = runtime.settings.model_copy(update={"reports_database_url": replica_url})
    with_replica = Runtime.open(settings, clock=runtime.clock)
    assert with_replica.reports_engine is not None
    try:
        with TestClient(create_app(with_replica)) as client:
            site = Site(world, client)
            assert _clicks_today(client, world) == 3  # the replica's figure, not the main 5
            site.click("bob-1")  # a write: the 6th click, stored on the main database
            assert _clicks_today(client, world) == 3
            page = site.sign_in("manager").get("/console/breakdown.csv?by=link&period=today")
            assert page.status_code == 200, page.text
            rows = list(csv.DictReader(io.StringIO(page.text)))
            assert {row["label"]: row["clicks"] for row in rows} == {"alice-1": "3"}
            breakdown = client.get(
                "/api/v1/reports/breakdown?by=link&period=today", headers=world.headers("manager")
            ).json()
            assert {row["label"]: row["clicks"] for row in breakdown["rows"]} == {"alice-1": 3}
    finally:
        with_replica.engine.dispose()
        with_replica.reports_engine.dispose()

    assert _click_rows(settings.database_url) == 6
    assert _click_rows(replica_url) == 3


def test_the_reports_engine_refuses_writes_and_the_fold_runs_on_the_main_database(
    runtime: Runtime, copy_database: Callable[[], str]
) -> None:
    world = build_world(runtime)
    with TestClient(create_app(runtime)) as client:
        Site(world, client).click("alice-1")
    replica_url = copy_database()
    runtime.clock.advance(timedelta(hours=2))  # the click's hour has closed: a report folds it
    settings = runtime.settings.model_copy(update={"reports_database_url": replica_url})
    with_replica = Runtime.open(settings, clock=runtime.clock)
    assert with_replica.reports_engine is not None
    try:
        with TestClient(create_app(with_replica)) as client:
            answer = client.get(
                "/api/v1/reports/dashboard?period=last7", headers=world.headers("manager")
            )
            assert answer.status_code == 200, answer.text
            assert answer.json()["totals"]["clicks"] == 1
        with pytest.raises(sa.exc.DBAPIError), with_replica.reports_engine.begin() as conn:
            conn.execute(t.report_watermarks.delete())
        with with_replica.engine.connect() as conn:
            folded = conn.execute(
                sa.select(sa.func.count()).select_from(t.report_watermarks)
            ).scalar_one()
        with with_replica.reports_engine.connect() as conn:
            on_replica = conn.execute(
                sa.select(sa.func.count()).select_from(t.report_watermarks)
            ).scalar_one()
    finally:
        with_replica.engine.dispose()
        with_replica.reports_engine.dispose()
    assert (folded, on_replica) == (1, 0)  # the watermark moved on the main database only
