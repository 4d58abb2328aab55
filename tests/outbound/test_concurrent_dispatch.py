"""Two dispatchers draining one outbox at the same time deliver every row exactly once
(PostgreSQL: FOR UPDATE SKIP LOCKED; SQLite: an atomic claim under the write lock)."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter

import httpx
import sqlalchemy as sa
from tests.outbound import seed

from clickledger.outbound.dispatcher import Dispatcher
from clickledger.runtime import Runtime
from clickledger.store import tables as t

ROWS = 300


def test_two_dispatchers_deliver_each_event_and_target_once(runtime: Runtime) -> None:
    with runtime.engine.begin() as conn:
        aff = seed.affiliate(conn, runtime.clock.now())
        template = seed.template(conn, aff, "https://tracker.example/p")
        seed.outbox_rows(conn, template, aff,
                         [f"https://tracker.example/p?tid={i}" for i in range(ROWS)],
                         now=runtime.clock.now())
    received: Counter[str] = Counter()
    by_worker: Counter[str] = Counter()
    lock = threading.Lock()

    def work(worker_id: str) -> None:
        async def handler(request: httpx.Request) -> httpx.Response:
            await asyncio.sleep(0.002)
            with lock:
                received[str(request.url)] += 1
                by_worker[worker_id] += 1
            return httpx.Response(200)

        async def drain() -> None:
            async with Dispatcher(runtime.engine, runtime.clock, worker_id=worker_id,
                                  concurrency=8, transport=httpx.MockTransport(handler),
                                  resolver=lambda host: ["93.184.216.34"]) as dispatcher:
                await dispatcher.run_until_idle()

        asyncio.run(drain())

    threads = [threading.Thread(target=work, args=(name,)) for name in ("w1", "w2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(received) == ROWS
    assert set(received.values()) == {1}, "a delivery was sent twice"
    assert by_worker["w1"] > 0 and by_worker["w2"] > 0, "both dispatchers took part"
    with runtime.engine.connect() as conn:
        statuses = conn.execute(sa.select(t.outbox.c.status, sa.func.count())
                                .group_by(t.outbox.c.status)).all()
        attempts = conn.execute(sa.select(sa.func.count()).select_from(t.outbox_attempts))
        assert dict(statuses) == {"delivered": ROWS}
        assert attempts.scalar_one() == ROWS
