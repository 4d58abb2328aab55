"""A bad, missing, stale or replayed signature answers 401 and writes nothing."""

from __future__ import annotations

from datetime import timedelta

from clickledger.ingest import signatures
from clickledger.store import tables as t

from .conftest import Client, World

EVENT = {"event": "deposit", "txn_id": "s1", "user_id": "sp", "amount": "10", "currency": "EUR"}


def nothing_written(world: World) -> bool:
    return (world.count(t.player_events) == 0 and world.count(t.ingest_rejections) == 0
            and world.count(t.integration_health_hourly) == 0)


def test_a_signed_request_in_headers_or_query_is_accepted(world: World, serve) -> None:
    async def scenario(client: Client):
        in_query = await client.get(EVENT)
        in_headers = await client.get({**EVENT, "txn_id": "s2"}, in_headers=True)
        return in_query, in_headers

    in_query, in_headers = serve(scenario)
    assert in_query.json()["status"] == "accepted"
    assert in_headers.json()["status"] == "accepted"


def test_missing_or_wrong_signature_or_unknown_key_is_401_and_nothing_is_written(
    world: World, serve
) -> None:
    async def scenario(client: Client):
        unsigned = await client.http.get("/postback", params={**EVENT, "cl_key":
                                                              world.integration["key_id"]})
        nokey = await client.http.get("/postback", params=EVENT)
        wrong_secret = await client.get(EVENT, integration={**world.integration,
                                                            "signing_secret": "guess"})
        stranger = {**world.integration, "key_id": "00000000-0000-7000-8000-000000000000"}
        unknown = await client.get(EVENT, integration=stranger)
        return unsigned, nokey, wrong_secret, unknown

    answers = serve(scenario)
    assert [r.status_code for r in answers] == [401, 401, 401, 401]
    assert [r.json()["reason"] for r in answers] == [
        "missing_signature", "missing_key", "bad_signature", "unknown_key"]
    assert nothing_written(world)


def test_a_captured_signature_reused_with_another_amount_fails(world: World, serve) -> None:
    async def scenario(client: Client):
        return await client.get(EVENT, tamper=lambda q: q.replace("amount=10", "amount=10000"))

    response = serve(scenario)
    assert response.status_code == 401 and response.json()["reason"] == "bad_signature"
    assert nothing_written(world)


def test_a_timestamp_outside_five_minutes_is_refused_either_way(world: World, serve) -> None:
    now_s = int(world.runtime.clock.now().timestamp())

    async def scenario(client: Client):
        stale = await client.get(EVENT, ts=str(now_s - 301))
        future = await client.get(EVENT, ts=str(now_s + 301))
        edge = await client.get(EVENT, ts=str(now_s - 299))
        return stale, future, edge

    stale, future, edge = serve(scenario)
    assert stale.status_code == future.status_code == 401
    assert stale.json()["reason"] == "timestamp_out_of_window"
    assert edge.json()["status"] == "accepted"


def test_an_identical_resend_within_the_window_is_a_duplicate_not_a_second_event(
    world: World, serve
) -> None:
    ts = str(int(world.runtime.clock.now().timestamp()))

    async def scenario(client: Client):
        first = await client.get(EVENT, ts=ts)
        world.runtime.clock.advance(timedelta(seconds=30))  # type: ignore[attr-defined]
        again = await client.get(EVENT, ts=ts)
        return first.json(), again.json()

    first, again = serve(scenario)
    assert again == {"status": "duplicate", "event_id": first["event_id"], "txn_id": "s1"}
    assert world.count(t.player_events) == 1


def test_an_ip_allowlist_refuses_other_addresses_with_403(world: World, serve) -> None:
    allowed_only = world.add_integration(ip_allowlist=["198.51.100.0/24"])

    async def scenario(client: Client):
        return await client.get(EVENT, integration=allowed_only)

    response = serve(scenario)
    assert response.status_code == 403 and response.json()["reason"] == "ip_not_allowed"
    assert nothing_written(world)


def test_the_canonical_request_is_what_the_docs_say() -> None:
    body = b'{"a":1}'
    text = signatures.canonical_request("1700000000", "post", "/postback", "a=1&cl_sig=zz&b=2",
                                        body).decode()
    assert text.split("\n") == [
        "v1", "1700000000", "POST", "/postback", "a=1&b=2",
        "015abd7f5cc57a2dd94b7590f04ad8084273905ee33ec5cebeae62276a97f862",
    ]
