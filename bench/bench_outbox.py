"""Outbox dispatch: deliveries/s from a SQLite outbox to a local receiver.

The receiver is a minimal raw ASGI app on uvicorn (httptools, uvloop) at
127.0.0.1 in its own process.  Baseline, in the same run: raw httpx GETs to
the same receiver with the same concurrency and the same event loop, so the
ratio is what claiming, the SSRF check, recording attempts and state changes
cost on top of bare HTTP.  Target: ≥ 1,000 deliveries/s (issue 4).
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
from common import Result, free_port

from clickledger.clock import SystemClock
from clickledger.ids import new_id
from clickledger.outbound.dispatcher import Dispatcher
from clickledger.store import migrate
from clickledger.store import tables as t
from clickledger.store.engine import create_engine

CONCURRENCY = 64
TARGET_PER_S = 1000.0

RECEIVER = """
import sys, uvicorn

async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})

uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="error",
            access_log=False, http="httptools", loop="uvloop", lifespan="off")
"""


def _wait_for_port(port: int, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError("receiver did not start")


async def _raw_httpx(base: str, count: int) -> float:
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(limits=limits, timeout=15.0, trust_env=False) as client:
        queue: asyncio.Queue[int] = asyncio.Queue()
        for i in range(count):
            queue.put_nowait(i)

        async def worker() -> None:
            while not queue.empty():
                i = queue.get_nowait()
                response = await client.get(f"{base}/pb?tid={i}")
                response.raise_for_status()

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        return count / (time.perf_counter() - started)


def _seed(url: str, base: str, count: int) -> None:
    engine = create_engine(url)
    migrate.upgrade(engine)
    now = datetime.now(UTC)
    affiliate_id, template_id = new_id(), new_id()
    with engine.begin() as conn:
        conn.execute(t.affiliates.insert().values(
            id=affiliate_id, name="bench", email="bench@example.org", status="active",
            payout_currency="EUR", created_at=now, updated_at=now))
        conn.execute(t.postback_templates.insert().values(
            id=template_id, affiliate_id=affiliate_id, kind="url",
            url_template=base + "/pb?tid={txn_id}", status_words={}, status="active",
            created_at=now, updated_at=now))
        conn.execute(t.outbox.insert(), [
            {"id": new_id(), "dedupe_key": f"bench:{i}", "template_id": template_id,
             "affiliate_id": affiliate_id, "method": "GET", "url": f"{base}/pb?tid={i}",
             "status": "pending", "attempts": 0, "next_attempt_at": now, "resend_count": 0,
             "created_at": now, "updated_at": now}
            for i in range(count)
        ])
    engine.dispose()


async def _dispatch(url: str) -> tuple[int, float]:
    engine = create_engine(url)
    started = time.perf_counter()
    async with Dispatcher(engine, SystemClock(), allow_loopback=True,
                          concurrency=CONCURRENCY) as dispatcher:
        await dispatcher.run_until_idle()
    elapsed = time.perf_counter() - started
    engine.dispose()
    return dispatcher.delivered, elapsed


def bench_outbox(quick: bool) -> list[Result]:
    count = 1000 if quick else 20_000  # --quick: 1,000 deliveries, 16 rounds of 64 in flight
    port = free_port()
    receiver = subprocess.Popen([sys.executable, "-c", RECEIVER, str(port)])
    try:
        _wait_for_port(port)
        base = f"http://127.0.0.1:{port}"
        asyncio.run(_raw_httpx(base, 200 if quick else 500))  # warm up both sides
        baseline = asyncio.run(_raw_httpx(base, count))
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite:///{Path(folder) / 'bench.db'}"
            _seed(url, base, count)
            delivered, elapsed = asyncio.run(_dispatch(url))
    finally:
        receiver.terminate()
        receiver.wait(10)
    if delivered != count:
        raise RuntimeError(f"delivered {delivered} of {count}")
    rate = delivered / elapsed
    return [Result(name="outbox_dispatch", value=rate, unit="deliveries/s", baseline=baseline,
                   target=f">= {TARGET_PER_S:.0f}/s", ok=rate >= TARGET_PER_S)]


BENCHES = {"outbox": bench_outbox}
