"""``clickledger worker`` delivers queued postbacks to a local receiver, stops on SIGTERM
after finishing what is in flight, and --once drains what is due."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time

import sqlalchemy as sa
from tests.outbound import seed
from tests.workers.receiver import Hits, running_receiver
from typer.testing import CliRunner

from clickledger.cli.main import app as cli
from clickledger.runtime import Runtime
from clickledger.store import migrate
from clickledger.store import tables as t
from clickledger.store.engine import create_engine
from clickledger.workers.outbox import run_worker

SECRET = "worker-test-secret-key-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def queue(engine: sa.Engine, base: str, count: int) -> list[str]:
    now = seed.T0
    with engine.begin() as conn:
        aff = seed.affiliate(conn, now)
        template = seed.template(conn, aff, base + "/pb", now=now)
        return seed.outbox_rows(conn, template, aff,
                                [f"{base}/pb?tid={i}" for i in range(count)], now=now)


def statuses(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(t.outbox.c.status, sa.func.count())
                            .group_by(t.outbox.c.status))
        return {status: int(count) for status, count in rows}


def test_the_worker_delivers_everything_due_to_a_local_receiver(runtime: Runtime) -> None:
    hits = Hits()
    with running_receiver(free_port(), hits) as base:
        queue(runtime.engine, base, 50)
        dispatcher = asyncio.run(run_worker(runtime, concurrency=8, once=True))
    assert dispatcher.delivered == 50
    assert sorted(hits.paths) == sorted(f"/pb?tid={i}" for i in range(50))
    assert statuses(runtime.engine) == {"delivered": 50}


def test_stopping_finishes_in_flight_deliveries_and_leaves_the_rest_queued(
    runtime: Runtime,
) -> None:
    hits = Hits(delay_s=0.3)
    with running_receiver(free_port(), hits) as base:
        queue(runtime.engine, base, 40)

        async def run_then_stop() -> None:
            stop = asyncio.Event()
            task = asyncio.create_task(run_worker(runtime, concurrency=4, once=False,
                                                  stop=stop))
            await asyncio.sleep(0.15)  # four deliveries are in flight now
            stop.set()
            await task

        asyncio.run(run_then_stop())
    done = statuses(runtime.engine)
    assert done.get("delivered", 0) == len(hits.paths) >= 4
    assert done.get("pending", 0) == 40 - len(hits.paths)
    with runtime.engine.connect() as conn:
        leased = conn.execute(sa.select(sa.func.count()).select_from(t.outbox)
                              .where(t.outbox.c.claimed_by.is_not(None))).scalar_one()
    assert leased == 0


def _env(url: str) -> dict[str, str]:
    return {**os.environ, "CLICKLEDGER_DATABASE_URL": url, "CLICKLEDGER_SECRET_KEY": SECRET,
            "CLICKLEDGER_ALLOW_LOOPBACK_TARGETS": "true"}


def test_clickledger_worker_once_on_the_command_line(sqlite_url: str) -> None:
    engine = create_engine(sqlite_url)
    migrate.upgrade(engine)
    hits = Hits()
    with running_receiver(free_port(), hits) as base:
        queue(engine, base, 10)
        result = CliRunner().invoke(cli, ["worker", "--once", "--concurrency", "4"],
                                    env=_env(sqlite_url))
    assert result.exit_code == 0, result.output
    assert "delivered 10" in result.output
    assert statuses(engine) == {"delivered": 10}
    engine.dispose()


def test_sigterm_stops_a_running_worker_cleanly(sqlite_url: str) -> None:
    engine = create_engine(sqlite_url)
    migrate.upgrade(engine)
    engine.dispose()
    process = subprocess.Popen(
        [sys.executable, "-m", "clickledger", "worker", "--concurrency", "2"],
        env=_env(sqlite_url), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert process.stderr is not None
    first_line = process.stderr.readline()  # printed once the signal handlers are in place
    assert "outbox worker running" in first_line, first_line
    time.sleep(0.5)
    assert process.poll() is None
    process.send_signal(signal.SIGTERM)
    _out, err = process.communicate(timeout=20)
    assert process.returncode == 0, err
    assert "attempts 0" in err


def test_the_worker_does_not_log_every_postback_url_at_info() -> None:
    import logging  # noqa: PLC0415

    from clickledger.workers.outbox import quiet_httpx_requests  # noqa: PLC0415

    root, httpx_log = logging.getLogger(), logging.getLogger("httpx")
    saved = root.level, httpx_log.level
    try:
        root.setLevel(logging.INFO)
        httpx_log.setLevel(logging.NOTSET)
        quiet_httpx_requests()
        assert not httpx_log.isEnabledFor(logging.INFO)
        assert httpx_log.isEnabledFor(logging.WARNING)
        root.setLevel(logging.DEBUG)  # asked for debug output: the request lines stay
        httpx_log.setLevel(logging.NOTSET)
        quiet_httpx_requests()
        assert httpx_log.isEnabledFor(logging.INFO)
    finally:
        root.setLevel(saved[0])
        httpx_log.setLevel(saved[1])
