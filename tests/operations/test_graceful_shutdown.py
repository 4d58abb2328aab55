"""SIGTERM during a click storm: the real ``clickledger serve`` stops accepting, finishes the
requests in flight, commits every queued click, writes JSON log lines and exits 0 in time.
Every click that was answered 302 is in the database."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import sqlalchemy as sa

from clickledger.ids import new_id
from clickledger.store import migrate
from clickledger.store import tables as t
from clickledger.store.engine import create_engine

pytestmark = pytest.mark.slow

SECRET_KEY = "graceful-shutdown-key-0123456789abcdefgh"  # 40 characters
STARTUP_S = 90.0
EXIT_WITHIN_S = 20.0  # uvicorn's 10 s grace for requests in flight, then the committers drain
CONCURRENCY = 24
CLICKS_BEFORE_SIGTERM = 150


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _seed_link(database_url: str) -> None:
    engine = create_engine(database_url)
    migrate.upgrade(engine)
    now = datetime.now(UTC)
    stamps = {"created_at": now, "updated_at": now}
    brand, offer, affiliate = new_id(), new_id(), new_id()
    with engine.begin() as conn:
        conn.execute(t.brands.insert(), {"id": brand, "name": "B", "kind": "casino",
                                         "default_currency": "EUR", **stamps})
        conn.execute(t.offers.insert(), {
            "id": offer, "brand_id": brand, "name": "O",
            "landing_url": "https://brand.example/in?cid={click_id}",
            "allowed_domains": ["brand.example"], **stamps})
        conn.execute(t.affiliates.insert(), {
            "id": affiliate, "name": "A", "email": "a@example.com", "status": "active",
            "payout_currency": "EUR", **stamps})
        conn.execute(t.tracking_links.insert(), {
            "id": new_id(), "code": "storm", "affiliate_id": affiliate, "offer_id": offer,
            **stamps})
    engine.dispose()


def _start(database_url: str, log_path: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = {**os.environ, "CLICKLEDGER_SECRET_KEY": SECRET_KEY, "CLICKLEDGER_LOG_FORMAT": "json",
           "CLICKLEDGER_DATABASE_URL": database_url}
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "clickledger", "serve", "--port", str(port)],
            env=env, stdout=subprocess.DEVNULL, stderr=log_file)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        assert process.poll() is None, log_path.read_text()[-2000:]
        try:
            if httpx.get(base + "/readyz", timeout=2).status_code == 200:
                return process, base
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    process.kill()
    raise AssertionError("server did not become ready")


async def _storm(base: str, process: subprocess.Popen[bytes]) -> tuple[list[str], float]:
    """Clicks from CONCURRENCY clients; SIGTERM after CLICKS_BEFORE_SIGTERM 302s. Returns the
    click ids of every 302 and when SIGTERM was sent."""
    redirected: list[str] = []
    sigterm_at: list[float] = []
    limits = httpx.Limits(max_connections=CONCURRENCY)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30.0) as client:

        async def clicker() -> None:
            while True:
                try:
                    response = await client.get("/c/storm")
                except httpx.HTTPError:
                    if sigterm_at:
                        return  # the server closed: the storm is over for this client
                    raise
                if response.status_code == 302:
                    query = urlsplit(response.headers["location"]).query
                    redirected.append(parse_qs(query)["cid"][0])
                if not sigterm_at and len(redirected) >= CLICKS_BEFORE_SIGTERM:
                    sigterm_at.append(time.monotonic())
                    process.send_signal(signal.SIGTERM)
                if sigterm_at and time.monotonic() - sigterm_at[0] > EXIT_WITHIN_S:
                    return

        await asyncio.gather(*(clicker() for _ in range(CONCURRENCY)))
    return redirected, sigterm_at[0]


def test_sigterm_during_a_click_storm_commits_every_redirected_click_and_exits_0(
    tmp_path: Path,
) -> None:
    database_url = f"sqlite:///{tmp_path / 'storm.db'}"
    _seed_link(database_url)
    log_path = tmp_path / "server.log"
    process, base = _start(database_url, log_path)
    try:
        redirected, sigterm_at = asyncio.run(_storm(base, process))
        returncode = process.wait(timeout=EXIT_WITHIN_S)
        exited_after_s = time.monotonic() - sigterm_at
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    assert returncode == 0
    assert exited_after_s <= EXIT_WITHIN_S
    assert len(redirected) >= CLICKS_BEFORE_SIGTERM
    engine = create_engine(database_url)
    with engine.connect() as conn:
        stored = set(conn.execute(sa.select(t.clicks.c.id)).scalars())
    engine.dispose()
    assert set(redirected) <= stored, f"{len(set(redirected) - stored)} 302s without a click"
    log_lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.strip()]
    messages = [line["message"] for line in log_lines]
    assert "stopped by SIGTERM" in messages
    assert "Application shutdown complete." in messages
