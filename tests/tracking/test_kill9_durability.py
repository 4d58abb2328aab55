"""A click that got its 302 survives ``kill -9`` of the server (a real ``clickledger serve``)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import sqlalchemy as sa

from clickledger.store import migrate
from clickledger.store import tables as t
from clickledger.store.engine import create_engine

from .conftest import seed_programme

SECRET_KEY = "kill9-test-secret-key-0123456789abcdefgh"  # 40 characters
CLICKS = 1200
KILL_AFTER_REDIRECTS = 300
CONCURRENCY = 64


def _free_port() -> int:
    import socket  # noqa: PLC0415

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_ready(base: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, "server exited during startup"
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError("server did not start")


async def _storm(base: str, pid: int) -> tuple[list[str], int]:
    """Fire clicks concurrently, kill -9 the server mid-storm; return the redirected click ids."""
    redirected: list[str] = []
    failed = 0
    killed = False
    limits = httpx.Limits(max_connections=CONCURRENCY)
    semaphore = asyncio.Semaphore(CONCURRENCY)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=10) as client:

        async def one(n: int) -> None:
            nonlocal failed, killed
            async with semaphore:
                try:
                    response = await client.get(f"/c/spring?sub1=n{n}")
                except httpx.HTTPError:
                    failed += 1
                    return
            if response.status_code == 302:
                location = response.headers["location"]
                redirected.append(parse_qs(urlsplit(location).query)["cid"][0])
                if len(redirected) >= KILL_AFTER_REDIRECTS and not killed:
                    killed = True
                    os.kill(pid, signal.SIGKILL)
            else:
                failed += 1

        await asyncio.gather(*(one(n) for n in range(CLICKS)))
    return redirected, failed


@pytest.mark.slow
def test_every_redirected_click_is_in_the_database_after_kill_9(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'kill9.db'}"
    engine = create_engine(database_url)
    migrate.upgrade(engine)
    seed_programme(engine)
    engine.dispose()
    port = _free_port()
    env = {**os.environ, "CLICKLEDGER_SECRET_KEY": SECRET_KEY,
           "CLICKLEDGER_DATABASE_URL": database_url}
    process = subprocess.Popen(
        [sys.executable, "-m", "clickledger", "serve", "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_ready(base, process)
        redirected, failed = asyncio.run(_storm(base, process.pid))
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == -signal.SIGKILL
    assert len(redirected) >= KILL_AFTER_REDIRECTS
    assert failed > 0, "the kill came after the storm: nothing was tested mid-flight"
    engine = create_engine(database_url)
    with engine.connect() as conn:
        stored = set(conn.execute(sa.select(t.clicks.c.id)).scalars())
    engine.dispose()
    missing = set(redirected) - stored
    assert not missing, f"{len(missing)} of {len(redirected)} redirected clicks were lost"
    assert len(stored) >= len(redirected)
