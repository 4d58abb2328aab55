"""Each API key has its own request budget on the admin API: over it, 429 ``rate_limited``
with ``Retry-After``; another key is unaffected; memory stays bounded."""

from __future__ import annotations

from fastapi.testclient import TestClient
from tests.http.conftest import build_world

from clickledger.http.api.rate_limit import KeyRateLimiter
from clickledger.http.app import create_app
from clickledger.runtime import Runtime

PER_MINUTE = 5


def test_a_key_over_its_budget_gets_429_with_retry_after_and_others_do_not(
    runtime: Runtime,
) -> None:
    limited = Runtime(runtime.settings.model_copy(update={"api_rate_per_minute": PER_MINUTE}),
                      runtime.engine, runtime.clock)
    world = build_world(limited)
    with TestClient(create_app(limited)) as client:
        finance = world.headers("finance")
        statuses = [client.get("/api/v1/brands", headers=finance).status_code
                    for _ in range(PER_MINUTE)]
        assert statuses == [200] * PER_MINUTE
        over = client.get("/api/v1/brands", headers=finance)
        assert over.status_code == 429
        assert over.json()["error"]["code"] == "rate_limited"
        assert int(over.headers["retry-after"]) >= 1
        assert over.json()["error"]["details"]["retry_after_s"] == int(over.headers["retry-after"])
        assert client.get("/api/v1/brands", headers=world.headers("manager")).status_code == 200
        # A wrong key is 401, never counted against anyone.
        assert client.get("/api/v1/brands", headers={"X-API-Key": "nope"}).status_code == 401


def test_the_bucket_refills_with_time_and_forgets_the_least_recent_key() -> None:
    now = [0.0]
    limiter = KeyRateLimiter(per_minute=60, max_keys=3, monotonic=lambda: now[0])
    assert all(limiter.take("a") is None for _ in range(60))
    wait_s = limiter.take("a")
    assert wait_s is not None and 0 < wait_s <= 1.0
    now[0] += 1.0
    assert limiter.take("a") is None  # one token back after a second
    for key in ("b", "c", "d", "e"):
        limiter.take(key)
    assert len(limiter) == 3  # bounded: "a" and "b", the least recent, were forgotten
