"""A retried postback is the same event whenever it is retried: the operator resending an
identical activity postback (no ``ts``, no ``day``) on a later day must get ``duplicate``."""

from __future__ import annotations

from datetime import timedelta

from tests.ingest.conftest import Client, run_app, seed_world

from clickledger.clock import FakeClock
from clickledger.runtime import Runtime


def test_an_activity_postback_retried_the_next_day_is_a_duplicate(
    runtime: Runtime, clock: FakeClock,
) -> None:
    world = seed_world(runtime)
    params = {"event": "activity", "txn_id": "act-retry-1", "user_id": "retry-player",
              "bets": "10.00", "wins": "2.00", "currency": "EUR"}

    async def scenario(client: Client) -> tuple[dict[str, object], dict[str, object]]:
        first = (await client.get(params)).json()
        clock.advance(timedelta(days=1))
        return first, (await client.get(params)).json()

    first, retry = run_app(runtime, scenario, world)
    assert first["status"] == "accepted"
    assert retry == {"status": "duplicate", "event_id": first["event_id"],
                     "txn_id": "act-retry-1"}
