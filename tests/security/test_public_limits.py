"""Size limits on the public hot paths, each answered with its 4xx and a reason, never a 5xx
and never a stored row: postback query string and parameter count, pixel query string.
(Postback body 413, batch item count, upload body 413, click query and pixel rate limits are
proved by the ingest, tracking and batch tests listed in docs/reliability.md.)"""

from __future__ import annotations

from typing import Any

from tests.ingest.conftest import Client, run_app, seed_world

from clickledger.runtime import Runtime
from clickledger.store import tables as t


def test_oversized_or_overlong_public_requests_are_refused_and_store_nothing(
    runtime: Runtime,
) -> None:
    world = seed_world(runtime)
    limit = runtime.settings.max_query_string_bytes
    too_many = runtime.settings.max_query_params + 5

    async def scenario(client: Client) -> dict[str, Any]:
        long_query = await client.http.get("/postback?txn_id=" + "a" * (limit + 10))
        many = await client.http.get("/postback?" + "&".join(f"p{i}=1" for i in range(
            too_many)))
        pixel = await client.http.get("/p.gif?k=x&s=" + "b" * (limit + 10))
        return {"long": long_query, "many": many, "pixel": pixel}

    answers = run_app(runtime, scenario, world)
    assert answers["long"].status_code == 414
    assert answers["long"].json()["reason"] == "query_too_long"
    assert answers["many"].status_code == 400
    assert answers["many"].json()["reason"] == "too_many_parameters"
    pixel = answers["pixel"]
    assert pixel.status_code == 200 and pixel.headers["content-type"] == "image/gif"
    assert pixel.headers["x-cl-reason"] == "query_too_long"
    assert world.count(t.player_events) == 0
