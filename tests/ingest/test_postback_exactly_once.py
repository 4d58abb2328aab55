"""An operator's postback is stored once, answered the same on every retry, and attributed."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import sqlalchemy as sa

from clickledger.ingest import pipeline
from clickledger.store import tables as t

from .conftest import Client, World


def reg(world: World, user: str, txn: str, **extra: str) -> dict[str, str]:
    return {"event": "registration", "txn_id": txn, "user_id": user, **extra}


def test_registration_with_a_recent_click_binds_the_player_to_the_click_affiliate(
    world: World, serve
) -> None:
    async def scenario(client: Client):
        return await client.get(reg(world, "p1", "r1", click_id=world.clicks["recent"]))

    response = serve(scenario)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "accepted"
    assert body["attribution"] == "click"
    assert body["affiliate_id"] == world.affiliate_id
    player = world.player("p1")
    assert player.affiliate_id == world.affiliate_id and player.attribution == "click"


def test_the_same_txn_sent_five_times_in_a_row_is_one_event_and_every_retry_says_duplicate(
    world: World, serve
) -> None:
    params = {"event": "ftd", "txn_id": "d1", "user_id": "p2", "amount": "12,34",
              "currency": "eur", "ts": "2025-12-31T23:00:00Z"}

    async def scenario(client: Client):
        return [await client.get(params) for _ in range(5)]

    answers = serve(scenario)
    first = answers[0].json()
    assert first["status"] == "accepted"
    for retry in answers[1:]:
        assert retry.status_code == 200
        assert retry.json() == {"status": "duplicate", "event_id": first["event_id"],
                                "txn_id": "d1"}
    assert world.count(t.player_events, t.player_events.c.txn_id == "d1") == 1
    with world.engine.connect() as conn:
        row = conn.execute(sa.select(t.player_events).where(t.player_events.c.txn_id == "d1")).one()
    assert row.amount_minor == 1234 and row.currency == "EUR" and row.status_raw == "ftd"


def test_fifty_concurrent_copies_of_one_txn_make_one_event_with_one_id(world: World, serve) -> None:
    params = {"event": "deposit", "txn_id": "c1", "user_id": "p3", "amount": "50",
              "currency": "EUR"}

    async def scenario(client: Client):
        return await asyncio.gather(*(client.get(params) for _ in range(50)))

    answers = [r.json() for r in serve(scenario)]
    assert sorted(a["status"] for a in answers).count("accepted") == 1
    assert {a["event_id"] for a in answers} == {answers[0]["event_id"]}
    assert world.count(t.player_events, t.player_events.c.txn_id == "c1") == 1


def test_the_same_txn_with_another_amount_answers_409_and_changes_nothing(
    world: World, serve
) -> None:
    base = {"event": "deposit", "txn_id": "m1", "user_id": "p4", "currency": "EUR"}

    async def scenario(client: Client):
        first = await client.get({**base, "amount": "10"})
        second = await client.get({**base, "amount": "99"})
        return first, second

    first, second = serve(scenario)
    assert second.status_code == 409
    assert second.json()["reason"] == "conflict_payload_mismatch"
    assert second.json()["event_id"] == first.json()["event_id"]
    with world.engine.connect() as conn:
        amount = conn.execute(sa.select(t.player_events.c.amount_minor)
                              .where(t.player_events.c.txn_id == "m1")).scalar_one()
    assert amount == 1000


def test_an_ftd_before_its_registration_is_kept_then_attributed_and_evaluated(
    world: World, serve, monkeypatch
) -> None:
    evaluated: list[list[str]] = []
    real = pipeline.evaluate_events

    def spy(conn, event_ids, now):  # type: ignore[no-untyped-def]
        evaluated.append(list(event_ids))
        return real(conn, event_ids, now)

    monkeypatch.setattr(pipeline, "evaluate_events", spy)
    click = world.clicks["recent"]

    async def scenario(client: Client):
        ftd = await client.get({"event": "ftd", "txn_id": "f9", "user_id": "late",
                                "amount": "100", "currency": "EUR"})
        registration = await client.get(reg(world, "late", "r9", click_id=click))
        return ftd.json(), registration.json()

    ftd, registration = serve(scenario)
    assert ftd["attribution"] == "pending" and ftd["note"] == "player_not_registered_yet"
    assert ftd["ftd"] is True
    assert registration["attribution"] == "click"
    assert ftd["event_id"] in evaluated[-1] and registration["event_id"] in evaluated[-1]
    player = world.player("late")
    assert player.affiliate_id == world.affiliate_id
    assert str(player.ftd_event_id) == ftd["event_id"]


def test_a_players_first_deposit_is_its_ftd_whatever_the_label_and_an_earlier_one_moves_it(
    world: World, serve
) -> None:
    now = world.runtime.clock.now()

    def deposit(txn: str, word: str, hours_ago: int) -> dict[str, str]:
        return {"event": word, "txn_id": txn, "user_id": "p5", "amount": "20", "currency": "EUR",
                "ts": (now - timedelta(hours=hours_ago)).isoformat()}

    async def scenario(client: Client):
        a = await client.get(deposit("x1", "dep", 5))  # status word mapped: dep -> deposit
        b = await client.get(deposit("x2", "ftd", 2))  # labelled ftd but second
        c = await client.get(deposit("x0", "deposit", 9))  # arrives late, happened first
        return a.json(), b.json(), c.json()

    a, b, c = serve(scenario)
    assert a["ftd"] is True and b["ftd"] is False and c["ftd"] is True
    assert str(world.player("p5").ftd_event_id) == c["event_id"]


def test_promo_code_without_a_click_attributes_to_the_codes_affiliate(world: World, serve) -> None:
    async def scenario(client: Client):
        return await client.get(reg(world, "p6", "r6", promo="welcome50"))

    body = serve(scenario).json()
    assert body["attribution"] == "promo" and body["affiliate_id"] == world.promo_affiliate_id


def test_unknown_or_expired_click_is_stored_unattributed_with_a_clear_note(
    world: World, serve
) -> None:
    async def scenario(client: Client):
        unknown = await client.get(reg(world, "p7", "r7", click_id="not-a-click"))
        old = await client.get(reg(world, "p8", "r8", click_id=world.clicks["old"]))
        expired_but_promo = await client.get(
            reg(world, "p9", "r9", click_id=world.clicks["old"], promo="WELCOME50"))
        other = await client.get(reg(world, "p10", "r10", click_id=world.clicks["other_brand"]))
        return [r.json() for r in (unknown, old, expired_but_promo, other)]

    unknown, old, promo, other = serve(scenario)
    assert unknown["status"] == "accepted" and unknown["attribution"] == "organic"
    assert unknown["note"] == "unknown_click_id"
    assert old["attribution"] == "organic" and old["note"] == "click_outside_window"
    assert promo["attribution"] == "promo" and promo["note"] == "click_outside_window"
    assert other["attribution"] == "organic" and other["note"] == "click_of_other_brand"


def test_binding_is_for_life_a_second_registration_changes_nothing(world: World, serve) -> None:
    async def scenario(client: Client):
        await client.get(reg(world, "p11", "r11", click_id=world.clicks["recent"]))
        return (await client.get(reg(world, "p11", "r11b", promo="WELCOME50"))).json()

    second = serve(scenario)
    assert second["status"] == "accepted" and second["note"] == "already_registered"
    assert world.player("p11").affiliate_id == world.affiliate_id


def test_operator_parameter_names_and_status_words_are_mapped_and_the_original_kept(
    world: World, serve
) -> None:
    async def scenario(client: Client):
        return await client.get({"type": "first_dep", "transaction_id": "o1", "player": "p12",
                                 "sum": "7,5", "currency": "USD", "adv1": "x"})

    body = serve(scenario).json()
    assert body["status"] == "accepted", body
    with world.engine.connect() as conn:
        row = conn.execute(sa.select(t.player_events).where(t.player_events.c.txn_id == "o1")).one()
    assert row.kind == "ftd" and row.status_raw == "first_dep" and row.amount_minor == 750
    assert row.operator_player_id == "p12" and row.raw["adv1"] == "x"
