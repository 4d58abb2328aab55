"""Rate limits on the public endpoints (``http/public_limits.py``): a click storm from one
address gets 429 with ``Retry-After`` once its budget is spent and records nothing more,
while another address (also behind a trusted proxy) still clicks; a verified integration
over its budget gets 429 and nothing is stored, and forged requests never spend it; the
pixel answers its GIF with ``rate_limited``; each limiter tracks a bounded number of keys."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import httpx
import sqlalchemy as sa
from tests.ingest.conftest import Client, seed_world
from tests.tracking.conftest import seed_programme

from clickledger.http.app import ClickLedgerApp, create_app
from clickledger.http.public_limits import ClickLimit, TokenBuckets
from clickledger.runtime import Runtime
from clickledger.store import tables as t

T = TypeVar("T")
NEVER_REFILLS = 0.001  # tokens per second: nothing comes back while a test runs
ALICE, BOB = "198.51.100.10", "198.51.100.20"
PROXY = "10.0.0.5"


def limited(runtime: Runtime, **settings: Any) -> Runtime:
    return Runtime(runtime.settings.model_copy(update=settings), runtime.engine, runtime.clock)


def run(runtime: Runtime, scenario: Callable[[ClickLedgerApp], Awaitable[T]]) -> T:
    """Start the app's hot paths (click writer, ingest hub), run ``scenario``, stop them."""
    app = create_app(runtime)

    async def main() -> T:
        for start in app.hot.on_startup:
            await start()
        try:
            return await scenario(app)
        finally:
            for stop in app.hot.on_shutdown:
                await stop()

    return asyncio.run(main())


@asynccontextmanager
async def browser(app: ClickLedgerApp, peer: str) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=(peer, 40_000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


def count(engine: sa.Engine, table: sa.Table) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def test_a_click_storm_from_one_address_gets_429_after_its_budget_and_others_still_click(
    runtime: Runtime,
) -> None:
    """Budget 5 clicks per address: Alice's 12 clicks are 5 redirects (5 rows) and 7 × 429
    with Retry-After and no row; Bob, from another address, is redirected and recorded."""
    limits = limited(runtime, click_burst_per_ip=5, click_rate_per_ip_per_s=NEVER_REFILLS)
    seed_programme(runtime.engine)

    async def scenario(app: ClickLedgerApp) -> tuple[list[httpx.Response], httpx.Response]:
        async with browser(app, ALICE) as alice, browser(app, BOB) as bob:
            storm = [await alice.get(f"/c/spring?sub1=a{n}") for n in range(12)]
            return storm, await bob.get("/c/spring?sub1=bob")

    storm, bob = run(limits, scenario)
    assert [r.status_code for r in storm] == [302] * 5 + [429] * 7
    refused = storm[5]
    assert int(refused.headers["retry-after"]) >= 1
    assert "location" not in refused.headers
    assert bob.status_code == 302
    assert count(runtime.engine, t.clicks) == 6  # Alice's five and Bob's one


def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_budget_and_loopback_none(
    runtime: Runtime,
) -> None:
    """Two clients behind one trusted proxy: Alice (forwarded) is refused after 2 clicks,
    Bob behind the same proxy is not; a local tool on 127.0.0.1 (exempt by default) is never
    refused per address."""
    limits = limited(
        runtime,
        click_burst_per_ip=2,
        click_rate_per_ip_per_s=NEVER_REFILLS,
        trusted_proxies=[PROXY],
    )
    seed_programme(runtime.engine)

    async def scenario(app: ClickLedgerApp) -> dict[str, list[int]]:
        async with browser(app, PROXY) as proxy, browser(app, "127.0.0.1") as local:
            via = {
                name: [
                    (await proxy.get("/c/spring", headers={"X-Forwarded-For": ip})).status_code
                    for _ in range(n)
                ]
                for name, ip, n in (("alice", ALICE, 3), ("bob", BOB, 2))
            }
            via["local"] = [(await local.get("/c/spring")).status_code for _ in range(5)]
            return via

    statuses = run(limits, scenario)
    assert statuses == {"alice": [302, 302, 429], "bob": [302, 302], "local": [302] * 5}
    assert count(runtime.engine, t.clicks) == 9


def test_an_integration_over_its_budget_gets_429_and_nothing_is_stored(
    runtime: Runtime,
) -> None:
    """Budget 3 events: ten forged postbacks (bad signature) spend none of it; three signed
    postbacks are accepted; the fourth is 429 with Retry-After and is not stored; a batch of
    two is refused whole; another integration of the same operator is unaffected."""
    limits = limited(
        runtime, postback_burst_per_integration=3, postback_rate_per_integration_per_s=NEVER_REFILLS
    )
    world = seed_world(limits)
    other = world.add_integration()
    click = world.clicks["recent"]

    def registration(n: int) -> dict[str, str]:
        return {"event": "registration", "txn_id": f"r{n}", "user_id": f"p{n}", "click_id": click}

    async def scenario(app: ClickLedgerApp) -> dict[str, Any]:
        client = Client(app, world)
        try:
            forged = [
                await client.get(registration(n), tamper=lambda q: q + "&amount=9")
                for n in range(10)
            ]
            accepted = [await client.get(registration(n)) for n in range(3)]
            over = await client.get(registration(3))
            batch = await client.post_json("/api/v1/events", [registration(4), registration(5)])
            elsewhere = await client.get(registration(6), integration=other)
            return {
                "forged": forged,
                "accepted": accepted,
                "over": over,
                "batch": batch,
                "elsewhere": elsewhere,
            }
        finally:
            await client.http.aclose()

    answers = run(limits, scenario)
    assert {r.status_code for r in answers["forged"]} == {401}
    assert [r.json()["status"] for r in answers["accepted"]] == ["accepted"] * 3
    for refused in (answers["over"], answers["batch"]):
        assert refused.status_code == 429
        assert refused.json()["reason"] == "rate_limited"
        assert int(refused.headers["retry-after"]) == refused.json()["retry_after_s"] >= 1
    assert answers["elsewhere"].json()["status"] == "accepted"
    with limits.engine.connect() as conn:
        stored = sorted(conn.execute(sa.select(t.player_events.c.txn_id)).scalars())
    assert stored == ["r0", "r1", "r2", "r6"]
    assert count(limits.engine, t.ingest_rejections) == 0  # a 429 is not even a rejection row


def test_pixel_hits_over_the_address_budget_get_the_gif_with_rate_limited_and_retry_after(
    runtime: Runtime,
) -> None:
    limits = limited(runtime, pixel_burst_per_ip=2, pixel_rate_per_ip_per_s=NEVER_REFILLS)
    world = seed_world(limits)
    query = {
        "k": world.integration["pixel_key"],
        "event": "registration",
        "click_id": world.clicks["recent"],
    }

    async def scenario(app: ClickLedgerApp) -> tuple[list[httpx.Response], httpx.Response]:
        async with browser(app, ALICE) as alice, browser(app, BOB) as bob:
            hits = [await alice.get("/p.gif", params=query) for _ in range(3)]
            return hits, await bob.get("/p.gif", params=query)

    hits, bob = run(limits, scenario)
    assert [h.status_code for h in hits] == [200, 200, 200]  # the GIF, always
    assert [h.headers["x-cl-status"] for h in hits] == ["accepted", "duplicate", "rejected"]
    assert hits[2].headers["x-cl-reason"] == "rate_limited"
    assert int(hits[2].headers["retry-after"]) >= 1
    assert bob.headers["x-cl-status"] == "duplicate"  # Bob's hit went through (same click)
    assert count(runtime.engine, t.player_events) == 1


def test_each_limiter_tracks_a_bounded_number_of_addresses(runtime: Runtime) -> None:
    """A storm from 300 addresses with room for 50: the limiter keeps 50, the most recent."""
    limits = limited(runtime, public_rate_max_tracked_keys=50)
    seed_programme(runtime.engine)
    addresses = [f"2001:db8::{n:x}" for n in range(300)]

    async def scenario(app: ClickLedgerApp) -> ClickLimit:
        for address in addresses:
            async with browser(app, address) as http:
                assert (await http.head("/c/spring")).status_code == 302
        handler = app.hot.match("/c/spring")
        assert isinstance(handler, ClickLimit)
        return handler

    buckets = run(limits, scenario).buckets
    assert len(buckets) == 50
    assert addresses[-1] in buckets and addresses[-50] in buckets
    assert addresses[-51] not in buckets and addresses[0] not in buckets


def test_buckets_refill_with_time_retry_after_is_honest_and_the_oldest_key_is_forgotten() -> None:
    now_s = [0.0]
    buckets = TokenBuckets(rate_per_s=0.5, burst=2, max_keys=3, monotonic=lambda: now_s[0])
    assert [buckets.take("a"), buckets.take("a")] == [None, None]
    assert buckets.take("a") == 2.0  # one token every 2 s
    now_s[0] = 2.0
    assert buckets.take("a") is None
    assert buckets.take("big", cost=1000) is None  # a cost over the burst spends a full bucket
    for key in ("b", "c"):
        buckets.take(key)
    assert len(buckets) == 3  # "a", the least recently used, was forgotten
    assert buckets.take("a") is None and len(buckets) == 3  # back with a full bucket
