"""``kill -9`` of ``clickledger worker`` while its fraud worker drains the queue: after a
restart the database is exactly what an uninterrupted drain of a copy made — every queued
event assessed once, none lost, no hold, reversal, audit record or click count doubled —
on SQLite and PostgreSQL.

Why it holds: a round claims a batch, assesses it, acts and deletes it from
``fraud_queue`` in one transaction (and counts clicks and moves the click cursor in
another), so a kill rolls the round in flight back whole and the restart takes the same
batch again."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from tests.conftest import _create_pg_database, _drop_pg_database
from tests.fault.servers import SECRET_KEY, env_for

from clickledger.clock import SystemClock
from clickledger.services.conversion import evaluate_events
from clickledger.services.fraud import config_from
from clickledger.settings import Settings
from clickledger.store import fraud_queue
from clickledger.store import tables as t
from clickledger.store.engine import create_engine
from clickledger.workers.fraud import FraudWorker
from fraud_builder import CHROME, HEADLESS, FraudWorld

PLAYERS = 150  # two events each: 300 queued events
BATCH_EVENTS = 5  # small rounds: many commits, so the kill lands mid-drain
SETTINGS = {
    "CLICKLEDGER_FRAUD_BATCH_EVENTS": str(BATCH_EVENTS),
    "CLICKLEDGER_FRAUD_POLL_INTERVAL_S": "0.05",
}


def build(engine: sa.Engine) -> int:
    """An affiliate's last day: honest players, headless bots (held), bots that
    register two seconds after the click (rejected) and a ring on three cards (held); their
    commission posted, their events queued for the fraud worker.  Returns the queue depth."""
    world = FraudWorld(engine)
    brand = world.brand()
    affiliate = world.cpa_affiliate(brand, "aff")
    start = datetime.now(UTC) - timedelta(days=1)
    events: list[str] = []
    for n in range(PLAYERS):
        clicked = start + timedelta(minutes=5 * n)
        bot = n % 5 == 0
        ctit = timedelta(seconds=2) if n % 10 == 0 else timedelta(minutes=3)
        click = world.click(
            affiliate,
            clicked,
            ip=f"198.51.{n // 200}.{n % 200 + 1}",
            ua=HEADLESS if bot else CHROME,
            browser="HeadlessChrome" if bot else "Chrome",
            count=False,
        )
        player = world.clicked_player(brand, affiliate, click, clicked + ctit)
        events.append(world.event(player, "registration", clicked + ctit))
        ftd = world.event(player, "ftd", clicked + ctit + timedelta(hours=1), amount="50")
        if n % 7 == 3:
            world.raw(ftd, payment_hash=f"card-{n % 3}")
        events.append(ftd)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        evaluate_events(conn, events, now)
        return fraud_queue.enqueue(conn, events, now)


def depth(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return fraud_queue.depth(conn)[0]


def state(engine: sa.Engine) -> dict[str, Any]:
    """Everything the fraud worker writes, without its timestamps and fresh ids."""
    a, e, c = t.fraud_assessments, t.ledger_entries, t.conversions
    k, i, log = t.fraud_click_counts, t.fraud_identities, t.audit_log
    with engine.connect() as conn:
        return {
            "assessments": sorted(
                (
                    str(r.player_id),
                    str(r.event_id),
                    r.action,
                    r.score,
                    r.status,
                    json.dumps(r.reasons, sort_keys=True),
                    json.dumps(r.held, sort_keys=True),
                )
                for r in conn.execute(sa.select(a))
            ),
            "ledger": sorted(
                (r.entry_key, r.kind, r.status, r.amount_minor) for r in conn.execute(sa.select(e))
            ),
            "conversions": sorted(
                (str(r.player_id), r.kind, r.status, r.reason or "")
                for r in conn.execute(sa.select(c))
            ),
            "counters": sorted(
                (r.dimension, r.key, str(r.bucket_at), r.clicks) for r in conn.execute(sa.select(k))
            ),
            "identities": sorted(
                (r.kind, r.value, str(r.player_id)) for r in conn.execute(sa.select(i))
            ),
            "audit": sorted(
                (r.action, r.entity_id)
                for r in conn.execute(
                    sa.select(log.c.action, log.c.entity_id).where(log.c.action.like("fraud.%"))
                )
            ),
            "queued": depth(engine),
        }


def worker(url: str, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "clickledger", "worker", *extra],
        env=env_for(url, **SETTINGS),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture
def twin(
    migrated_database_url: str, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[str, str, int]]:
    """(the database, a copy of it made once the events are queued, queue depth)."""
    engine = create_engine(migrated_database_url)
    queued = build(engine)
    engine.dispose()
    url = sa.engine.make_url(migrated_database_url)
    if url.get_backend_name() == "sqlite":
        copy = tmp_path / "reference.db"
        shutil.copyfile(str(url.database), copy)
        yield migrated_database_url, f"sqlite:///{copy}", queued
        return
    admin_url = request.getfixturevalue("postgres_admin_url")
    name, copy_url = _create_pg_database(admin_url, template=url.database)
    try:
        yield migrated_database_url, copy_url, queued
    finally:
        _drop_pg_database(admin_url, name)


@pytest.mark.slow
def test_a_fraud_worker_killed_mid_drain_resumes_and_ends_exactly_as_an_uninterrupted_one(
    twin: tuple[str, str, int],
) -> None:
    url, reference_url, queued = twin
    engine, reference = create_engine(url), create_engine(reference_url)
    try:
        assert queued == 2 * PLAYERS
        config = config_from(Settings(database_url=reference_url, secret_key=SECRET_KEY))
        FraudWorker(reference, SystemClock(), batch_events=BATCH_EVENTS, config=config).drain()
        expected = state(reference)
        assert expected["queued"] == 0
        held = {r[0] for r in expected["assessments"] if r[2] in ("hold", "reject")}
        assert len(held) >= PLAYERS // 5  # the bots and the card ring: something to undo

        first = worker(url)
        deadline = time.monotonic() + 120
        while depth(engine) == queued:  # until its first rounds have committed
            assert first.poll() is None, first.stderr.read() if first.stderr else ""
            assert time.monotonic() < deadline, "the fraud worker assessed nothing"
            time.sleep(0.002)
        first.kill()  # SIGKILL: no clean-up, the next round in flight
        first.wait(30)
        left = depth(engine)
        assert 0 < left < queued, f"{left} of {queued} left at the kill: nothing was tested"

        second = worker(url, "--once")
        _out, err = second.communicate(timeout=300)
        assert second.returncode == 0, err
        found = state(engine)
        for part, rows in expected.items():  # part by part, for a readable failure
            assert found[part] == rows, f"{part} differs after the restart"
        print(f"killed with {left} of {queued} events queued; restart matched the reference")
    finally:
        engine.dispose()
        reference.dispose()
