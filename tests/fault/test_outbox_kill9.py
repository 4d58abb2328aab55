"""``kill -9`` of ``clickledger worker`` while it drains the outbox into a local receiver:
after a restart every row is delivered, none is lost, and the only doubles are re-sends of
rows in flight at the kill, carrying the same dedupe key (``webhook-id`` / ``txn_id``) and
the same body.  Without a crash nothing is delivered twice."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from tests.fault.receiver import Received, running_receiver
from tests.fault.servers import SECRET_KEY, env_for, free_port
from tests.outbound import seed

from clickledger.clock import SystemClock
from clickledger.ids import new_id
from clickledger.outbound.webhooks import new_secret
from clickledger.runtime import Runtime
from clickledger.settings import Settings
from clickledger.store import migrate
from clickledger.store import tables as t
from clickledger.store.engine import create_engine
from clickledger.workers.outbox import run_worker

ROWS = 400
KILL_AFTER_DELIVERIES = 120
CONCURRENCY = 8
RECEIVER_DELAY_S = 0.02


def queue(engine: sa.Engine, base: str, count: int) -> dict[str, str]:
    """``count`` due rows, alternately signed webhooks and URL postbacks; dedupe key → body."""
    now = datetime.now(UTC) - timedelta(seconds=1)
    expected: dict[str, str] = {}
    with engine.begin() as conn:
        aff = seed.affiliate(conn, now)
        hook = seed.template(conn, aff, base + "/hook", kind="webhook", secret=new_secret(),
                             now=now)
        url = seed.template(conn, aff, base + "/pb", now=now)
        rows: list[dict[str, Any]] = []
        for i in range(count):
            row_id, txn = new_id(), f"T{i}"
            webhook = i % 2 == 0
            body = json.dumps({"type": "conversion", "data": {"txn_id": txn}}) if webhook \
                else None
            rows.append({
                "id": row_id, "dedupe_key": f"fault:{i}", "template_id": hook if webhook else url,
                "affiliate_id": aff, "event_id": None, "method": "POST" if webhook else "GET",
                "url": f"{base}/hook" if webhook else f"{base}/pb?txn_id={txn}", "body": body,
                "headers": None, "status": "pending", "attempts": 0, "next_attempt_at": now,
                "resend_count": 0, "created_at": now, "updated_at": now})
            expected[row_id if webhook else txn] = body or ""
        conn.execute(t.outbox.insert(), rows)
    return expected


def statuses(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(t.outbox.c.status, sa.func.count())
                            .group_by(t.outbox.c.status))
        return {status: int(n) for status, n in rows}


def worker(database_url: str, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "clickledger", "worker", "--concurrency", str(CONCURRENCY),
         *extra], env=env_for(database_url, CLICKLEDGER_ALLOW_LOOPBACK_TARGETS="true"),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def expire_leases(engine: sa.Engine) -> int:
    """Fast-forward past the dead worker's leases (2 minutes), as waiting would."""
    past = datetime.now(UTC) - timedelta(seconds=1)
    with engine.begin() as conn:
        return conn.execute(t.outbox.update().where(t.outbox.c.claimed_by.is_not(None))
                            .values(claimed_until=past)).rowcount


def check_received(received: Received, expected: dict[str, str]) -> int:
    """Everything arrived; every double carries the same key and body; returns the doubles."""
    seen = received.keys()
    missing = set(expected) - set(seen)
    assert not missing, f"{len(missing)} rows never reached the receiver"
    assert set(seen) <= set(expected), "the receiver got deliveries nobody queued"
    for delivery in received.deliveries:
        assert delivery.body.decode() == expected[delivery.dedupe_key]
        if delivery.method == "POST":
            assert delivery.signature and delivery.signature.startswith("v1,")
    return sum(n - 1 for n in seen.values())


@pytest.mark.slow
def test_a_worker_killed_mid_drain_resumes_after_restart_and_loses_nothing(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'outbox.db'}"
    engine = create_engine(url)
    migrate.upgrade(engine)
    received = Received(delay_s=RECEIVER_DELAY_S)
    try:
        with running_receiver(free_port(), received) as base:
            expected = queue(engine, base, ROWS)
            first = worker(url)
            deadline = time.monotonic() + 90
            while len(received.deliveries) < KILL_AFTER_DELIVERIES:
                assert first.poll() is None, first.stderr.read() if first.stderr else ""
                assert time.monotonic() < deadline, "the worker delivered too little"
                time.sleep(0.01)
            os.kill(first.pid, signal.SIGKILL)
            first.wait(30)
            assert first.returncode == -signal.SIGKILL
            time.sleep(10 * RECEIVER_DELAY_S)  # requests already sent finish arriving
            at_kill = len(received.deliveries)
            assert at_kill < ROWS, "the drain finished before the kill"
            assert statuses(engine).get("pending", 0) > 0
            expire_leases(engine)
            second = worker(url, "--once")
            _out, err = second.communicate(timeout=120)
            assert second.returncode == 0, err
        assert statuses(engine) == {"delivered": ROWS}
        doubles = check_received(received, expected)
        # Only rows the killed worker had sent but not yet recorded are sent again: each
        # double's first copy arrived before the kill, and the restart sent it once more.
        before_kill = {d.dedupe_key for d in received.deliveries[:at_kill]}
        seen = received.keys()
        doubled = {key for key, n in seen.items() if n > 1}
        assert doubled <= before_kill
        assert all(seen[key] == 2 for key in doubled), "a row was re-sent more than once"
        assert doubles == len(doubled) < at_kill
        print(f"delivered before kill {at_kill}, re-sent after restart {doubles}")
    finally:
        engine.dispose()


def test_without_a_crash_every_row_is_delivered_exactly_once(sqlite_url: str) -> None:
    engine = create_engine(sqlite_url)
    migrate.upgrade(engine)
    runtime = Runtime(Settings(database_url=sqlite_url, secret_key=SECRET_KEY,
                               allow_loopback_targets=True), engine, SystemClock())
    received = Received()
    try:
        with running_receiver(free_port(), received) as base:
            expected = queue(engine, base, 60)
            asyncio.run(run_worker(runtime, concurrency=CONCURRENCY, once=True))
        assert statuses(engine) == {"delivered": 60}
        assert check_received(received, expected) == 0
        assert sorted(received.keys().values()) == [1] * 60
    finally:
        engine.dispose()
