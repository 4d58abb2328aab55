"""The browser pixel (a limited, unsigned fallback) and the JSON batch endpoint."""

from __future__ import annotations

import sqlalchemy as sa

from clickledger.http.public_limits import TokenBuckets
from clickledger.ingest.pixel import TRANSPARENT_GIF
from clickledger.store import tables as t

from .conftest import Client, World

UNKNOWN_CLICK = "00000000-0000-7000-8000-00000000000a"


def pixel_query(world: World, **params: str) -> dict[str, str]:
    return {"k": world.integration["pixel_key"], **params}


def test_a_thank_you_page_pixel_records_a_registration_once_for_its_click(
    world: World, serve
) -> None:
    click = world.clicks["recent"]

    async def scenario(client: Client):
        first = await client.http.get("/p.gif", params=pixel_query(world, event="registration",
                                                                  click_id=click, user_id="px1"))
        reload = await client.http.get("/p.gif", params=pixel_query(world, event="registration",
                                                                   click_id=click, user_id="px1"))
        return first, reload

    first, reload = serve(scenario)
    assert first.status_code == 200 and first.content == TRANSPARENT_GIF
    assert first.headers["content-type"] == "image/gif"
    assert first.headers["x-cl-status"] == "accepted"
    assert reload.headers["x-cl-status"] == "duplicate"
    player = world.player("px1")
    assert player.affiliate_id == world.affiliate_id
    assert world.count(t.player_events, t.player_events.c.source == "pixel") == 1


def test_a_pixel_cannot_invent_clicks_or_send_other_events_and_always_returns_the_gif(
    world: World, serve
) -> None:
    async def scenario(client: Client):
        return [await client.http.get("/p.gif", params=p) for p in (
            pixel_query(world, event="registration", click_id=UNKNOWN_CLICK),
            pixel_query(world, event="registration", click_id=world.clicks["old"]),
            pixel_query(world, event="withdrawal", click_id=world.clicks["recent"],
                        txn_id="w", amount="5", currency="EUR"),
            pixel_query(world, event="deposit", click_id=world.clicks["recent"]),
            {"k": "px_wrong", "event": "registration", "click_id": world.clicks["recent"]},
        )]

    answers = serve(scenario)
    assert all(r.status_code == 200 and r.content == TRANSPARENT_GIF for r in answers)
    assert [r.headers["x-cl-reason"] for r in answers] == [
        "unknown_click_id", "click_outside_window", "pixel_event_not_allowed", "missing_txn_id",
        "unknown_key"]
    assert world.count(t.player_events) == 0


def test_pixel_hits_are_rate_limited_per_address() -> None:
    now_s = [0.0]
    limiter = TokenBuckets(rate_per_s=1.0, burst=3, max_keys=10, monotonic=lambda: now_s[0])
    assert [limiter.take("ip") is None for _ in range(4)] == [True, True, True, False]
    now_s[0] = 1.0
    assert limiter.take("ip") is None
    assert limiter.take("other") is None


def test_the_js_tag_is_served_and_reports_to_the_gif(world: World, serve) -> None:
    async def scenario(client: Client):
        return await client.http.get("/p.js")

    script = serve(scenario)
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert "/p.gif?" in script.text and "data.key" in script.text


def test_a_batch_answers_each_item_in_order(world: World, serve) -> None:
    items = [
        {"event": "registration", "txn_id": "b1", "user_id": "bp", "click_id":
         world.clicks["recent"]},
        {"event": "ftd", "txn_id": "b2", "user_id": "bp", "amount": 25.5, "currency": "EUR"},
        {"event": "ftd", "txn_id": "b3", "user_id": "bp", "amount": -1, "currency": "EUR"},
        {"event": "ftd", "txn_id": "b2", "user_id": "bp", "amount": 25.5, "currency": "EUR"},
        ["not", "an", "object"],
    ]

    async def scenario(client: Client):
        first = await client.post_json("/api/v1/events", items)
        again = await client.post_json("/api/v1/events", {"events": items[:2]})
        return first, again

    first, again = serve(scenario)
    body = first.json()
    assert first.status_code == 200
    statuses = [r["status"] for r in body["results"]]
    assert statuses == ["accepted", "accepted", "rejected", "duplicate", "rejected"]
    assert body["results"][2]["reason"] == "negative_amount"
    assert body["results"][4]["reason"] == "invalid_item"
    assert body["results"][3]["event_id"] == body["results"][1]["event_id"]
    assert [r["status"] for r in again.json()["results"]] == ["duplicate", "duplicate"]
    with world.engine.connect() as conn:
        amount = conn.execute(sa.select(t.player_events.c.amount_minor)
                              .where(t.player_events.c.txn_id == "b2")).scalar_one()
    assert amount == 2550


def test_a_batch_over_the_documented_limit_is_refused_whole(world: World, serve) -> None:
    limit = world.runtime.settings.max_events_per_batch
    items = [{"event": "registration", "txn_id": f"L{i}", "user_id": f"L{i}"}
             for i in range(limit + 1)]

    async def scenario(client: Client):
        return await client.post_json("/api/v1/events", items)

    response = serve(scenario)
    assert response.status_code == 413 and response.json()["reason"] == "too_many_events"
    assert world.count(t.player_events) == 0
