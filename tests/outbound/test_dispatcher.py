"""The dispatcher delivers each queued postback, retries on the schedule with a fake clock,
dead-letters, disables on 410, honours Retry-After, times out, and never calls an internal
address (httpx.MockTransport and a fake resolver; SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta

import httpx
import sqlalchemy as sa
from standardwebhooks.webhooks import Webhook
from tests.outbound import seed

from clickledger.clock import FakeClock, utc
from clickledger.outbound import webhooks
from clickledger.outbound.dispatcher import Dispatcher
from clickledger.runtime import Runtime
from clickledger.store import tables as t

Handler = Callable[[httpx.Request], Awaitable[httpx.Response]]
PUBLIC = "https://tracker.example/postback"


class FixedRandom:
    def random(self) -> float:
        return 0.5


def fake_dns(host: str) -> Sequence[str]:
    return {"tracker.example": ["93.184.216.34"], "other.example": ["93.184.216.35"],
            "sneaky.example": ["10.0.0.7"]}[host]


def dispatcher(runtime: Runtime, handler: Handler, **options: object) -> Dispatcher:
    return Dispatcher(runtime.engine, runtime.clock, transport=httpx.MockTransport(handler),
                      resolver=fake_dns, rand=FixedRandom(), **options)  # type: ignore[arg-type]


async def run_once(runtime: Runtime, handler: Handler, **options: object) -> int:
    async with dispatcher(runtime, handler, **options) as d:
        return await d.run_once()


def queue(runtime: Runtime, urls: list[str], *, kind: str = "url",
          secret: str | None = None, body: str | None = None) -> tuple[str, list[str]]:
    now = runtime.clock.now()
    with runtime.engine.begin() as conn:
        aff = seed.affiliate(conn, now)
        template = seed.template(conn, aff, PUBLIC, kind=kind, secret=secret, now=now)
        ids = seed.outbox_rows(conn, template, aff, urls, now=now,
                               method="POST" if body else "GET", body=body)
    return template, ids


def row(runtime: Runtime, outbox_id: str) -> sa.Row[tuple[object, ...]]:
    with runtime.engine.connect() as conn:
        return conn.execute(sa.select(t.outbox).where(t.outbox.c.id == outbox_id)).one()


def attempts(runtime: Runtime, outbox_id: str) -> list[sa.Row[tuple[object, ...]]]:
    a = t.outbox_attempts
    with runtime.engine.connect() as conn:
        return list(conn.execute(sa.select(a).where(a.c.outbox_id == outbox_id)
                                 .order_by(a.c.attempt)))


def test_a_2xx_delivers_once_and_logs_the_attempt(runtime: Runtime) -> None:
    seen: list[str] = []

    async def ok(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, text="success=true;")

    _, (outbox_id,) = queue(runtime, [PUBLIC + "?tid=1"])
    assert asyncio.run(run_once(runtime, ok)) == 1
    assert asyncio.run(run_once(runtime, ok)) == 0
    assert seen == [PUBLIC + "?tid=1"]
    delivered = row(runtime, outbox_id)
    assert delivered.status == "delivered" and delivered.attempts == 1
    assert delivered.claimed_by is None and delivered.last_status_code == 200
    (attempt,) = attempts(runtime, outbox_id)
    assert attempt.status_code == 200 and attempt.response_excerpt == "success=true;"


def test_failures_follow_the_schedule_then_dead_letter(runtime: Runtime) -> None:
    clock = runtime.clock
    assert isinstance(clock, FakeClock)
    start = clock.now()
    called_at: list[timedelta] = []

    async def failing(request: httpx.Request) -> httpx.Response:
        called_at.append(clock.now() - start)
        return httpx.Response(500)

    _, (outbox_id,) = queue(runtime, [PUBLIC])
    for _ in range(20):
        asyncio.run(run_once(runtime, failing))
        current = row(runtime, outbox_id)
        if current.status != "pending":
            break
        clock.advance(utc(current.next_attempt_at) - clock.now() - timedelta(seconds=1))
        assert asyncio.run(run_once(runtime, failing)) == 0  # not due a second early
        clock.advance(timedelta(seconds=1))
    steps = [timedelta(0), timedelta(seconds=5), timedelta(minutes=5), timedelta(minutes=30),
             timedelta(hours=2), timedelta(hours=5), timedelta(hours=10), timedelta(hours=10)]
    expected = [sum(steps[:i + 1], timedelta(0)) for i in range(len(steps))]
    assert called_at == expected
    dead = row(runtime, outbox_id)
    assert dead.status == "dead" and dead.attempts == 8 and dead.last_status_code == 500
    assert [a.attempt for a in attempts(runtime, outbox_id)] == list(range(1, 9))


def test_a_redirect_is_a_failure_and_is_not_followed(runtime: Runtime) -> None:
    seen: list[str] = []

    async def redirect(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(302, headers={"location": "http://127.0.0.1/admin"})

    _, (outbox_id,) = queue(runtime, [PUBLIC])
    asyncio.run(run_once(runtime, redirect))
    assert seen == [PUBLIC]
    after = row(runtime, outbox_id)
    assert after.status == "pending" and after.last_status_code == 302
    assert utc(after.next_attempt_at) == runtime.clock.now() + timedelta(seconds=5)


def test_410_disables_the_template_and_its_other_pending_deliveries(runtime: Runtime) -> None:
    async def gone(request: httpx.Request) -> httpx.Response:
        return httpx.Response(410)

    template, ids = queue(runtime, [PUBLIC + "?n=1", PUBLIC + "?n=2"])
    asyncio.run(run_once(runtime, gone, concurrency=1))
    with runtime.engine.connect() as conn:
        status, reason = conn.execute(
            sa.select(t.postback_templates.c.status, t.postback_templates.c.disabled_reason)
            .where(t.postback_templates.c.id == template)).one()
    assert status == "disabled" and "410" in reason
    assert {row(runtime, i).status for i in ids} == {"disabled"}
    assert sum(len(attempts(runtime, i)) for i in ids) == 1


def test_retry_after_is_honoured_and_429_pauses_the_host(runtime: Runtime) -> None:
    calls: list[str] = []

    async def busy(request: httpx.Request) -> httpx.Response:
        calls.append(str(request.url))
        return httpx.Response(429, headers={"retry-after": "600"})

    _, ids = queue(runtime, [PUBLIC + "?n=1", PUBLIC + "?n=2", "https://other.example/p"])

    async def two_rounds() -> None:
        async with dispatcher(runtime, busy, concurrency=1) as d:
            await d.run_once()  # n=1 answers 429: tracker.example is paused for 10 min
            await d.run_once()  # n=2 is given back unsent
            await d.run_once()  # other.example is not paused

    asyncio.run(two_rounds())
    now = runtime.clock.now()
    assert calls == [PUBLIC + "?n=1", "https://other.example/p"]
    first, second, _other = (row(runtime, i) for i in ids)
    assert utc(first.next_attempt_at) == now + timedelta(seconds=600)
    assert second.attempts == 0 and utc(second.next_attempt_at) == now + timedelta(seconds=600)


def test_a_slow_target_times_out_and_is_retried(runtime: Runtime) -> None:
    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(5)
        return httpx.Response(200)

    _, (outbox_id,) = queue(runtime, [PUBLIC])
    asyncio.run(run_once(runtime, slow, timeout_s=0.2))
    after = row(runtime, outbox_id)
    assert after.status == "pending" and after.last_status_code is None
    assert "timeout" in (after.last_error or "")


def test_a_target_that_now_resolves_inside_is_never_called(runtime: Runtime) -> None:
    calls: list[str] = []

    async def record(request: httpx.Request) -> httpx.Response:
        calls.append(str(request.url))
        return httpx.Response(200)

    _, ids = queue(runtime, ["https://sneaky.example/p", "http://10.0.0.1/p",
                             "http://169.254.169.254/latest/meta-data", "http://[::1]:9/p"])
    asyncio.run(run_once(runtime, record))  # loopback is not allowed by default
    assert calls == []
    for refused in ids:
        after = row(runtime, refused)
        assert after.status == "pending" and after.attempts == 1
        assert (after.last_error or "").startswith("target_not_allowed")


def test_a_webhook_is_posted_with_a_verifiable_signature_and_a_stable_id(
    runtime: Runtime,
) -> None:
    secret = webhooks.new_secret()
    received: list[httpx.Request] = []

    async def receiver(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(500 if len(received) == 1 else 204)

    body = webhooks.encode_body({"type": "event.ftd", "data": {"payout": "150.00"}})
    _, (outbox_id,) = queue(runtime, ["https://tracker.example/hooks"], kind="webhook",
                            secret=secret, body=body)
    asyncio.run(run_once(runtime, receiver))
    runtime.clock.advance(timedelta(seconds=6))  # type: ignore[attr-defined]
    asyncio.run(run_once(runtime, receiver))
    assert len(received) == 2
    first, second = received
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == outbox_id
    assert first.headers["webhook-timestamp"] != second.headers["webhook-timestamp"]
    for request in received:
        assert request.method == "POST" and request.content.decode() == body
        assert request.headers["content-type"] == "application/json"
        signature = Webhook(secret).sign(
            outbox_id, utc(runtime.clock.now()) if request is second
            else utc(runtime.clock.now()) - timedelta(seconds=6), body)
        assert request.headers["webhook-signature"] == signature
    assert row(runtime, outbox_id).status == "delivered"


def test_a_crashed_dispatchers_lease_expires_and_another_delivers(runtime: Runtime) -> None:
    from clickledger.outbound import outbox_store  # noqa: PLC0415

    _, (outbox_id,) = queue(runtime, [PUBLIC])
    now = runtime.clock.now()
    with runtime.engine.begin() as conn:  # worker "a" claims, then dies without recording
        assert len(outbox_store.claim_due(conn, "a", now, now + timedelta(minutes=2), 10)) == 1
    seen: list[str] = []

    async def ok(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200)

    assert asyncio.run(run_once(runtime, ok, worker_id="b")) == 0  # still leased
    runtime.clock.advance(timedelta(minutes=2, seconds=1))  # type: ignore[attr-defined]
    assert asyncio.run(run_once(runtime, ok, worker_id="b")) == 1
    assert seen == [PUBLIC] and row(runtime, outbox_id).status == "delivered"


def test_no_more_than_per_host_deliveries_in_flight_to_one_tracker(runtime: Runtime) -> None:
    in_flight: dict[str, int] = {}
    most: dict[str, int] = {}

    async def slow_ok(request: httpx.Request) -> httpx.Response:
        host = request.url.host
        in_flight[host] = in_flight.get(host, 0) + 1
        most[host] = max(most.get(host, 0), in_flight[host])
        await asyncio.sleep(0.02)
        in_flight[host] -= 1
        return httpx.Response(200)

    _, ids = queue(runtime, [f"{PUBLIC}?tid={i}" for i in range(6)]
                   + ["https://other.example/p?tid=6", "https://other.example/p?tid=7"])
    assert asyncio.run(run_once(runtime, slow_ok, concurrency=8, per_host=2)) == 8
    assert most == {"tracker.example": 2, "other.example": 2}
    assert {row(runtime, i).status for i in ids} == {"delivered"}
