"""Fraud assessment as events land, on SQLite and PostgreSQL: signals, holds, rejections with
reversal references, idempotency, and the counters behind click flooding."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from clickledger.services.fraud import held_player_ids
from clickledger.store import tables as t
from commission_builder import at
from fraud_builder import HEADLESS, FraudWorld, registered_with_ftd


def _world(engine: sa.Engine) -> tuple[FraudWorld, str, str]:
    world = FraudWorld(engine)
    brand = world.brand()
    affiliate = world.cpa_affiliate(brand, "Alice", login_ips=["198.51.100.50"])
    return world, brand, affiliate


def test_an_honest_player_pays_and_leaves_no_assessment(engine: sa.Engine) -> None:
    world, brand, alice = _world(engine)
    player, registration, ftd = registered_with_ftd(world, brand, alice, at(3),
                                                    timedelta(seconds=95))
    world.land(registration)
    world.land(ftd)
    assert world.assessments() == []
    assert world.entry_statuses(player) == {f"cpa:{player}": "approved"}


def test_a_headless_click_holds_the_ftd_commission_posted_later(engine: sa.Engine) -> None:
    world, brand, alice = _world(engine)
    player, registration, ftd = registered_with_ftd(
        world, brand, alice, at(3), timedelta(seconds=40), ua=HEADLESS, browser="HeadlessChrome")
    world.land(registration)
    held = world.latest(player)
    assert (held.action, held.status, held.score) == ("hold", "open", 80)
    assert [r["check"] for r in held.reasons] == ["automation"]
    assert "headless" in held.reasons[0]["reason"]
    # the FTD lands later: the commission the engine posts is held in the same transaction
    world.land(ftd)
    assert world.entry_statuses(player) == {f"cpa:{player}": "on_hold"}
    assert world.conversion(player).status == "on_hold"
    with engine.connect() as conn:
        assert held_player_ids(conn, [player]) == {player}


def test_a_headless_click_registering_in_two_seconds_is_rejected_outright(
    engine: sa.Engine,
) -> None:
    world, brand, alice = _world(engine)
    player, registration, ftd = registered_with_ftd(
        world, brand, alice, at(3), timedelta(seconds=2), ua=HEADLESS, browser="HeadlessChrome")
    world.land(registration)
    row = world.latest(player)
    assert (row.action, row.score) == ("reject", 140)
    checks = {r["check"]: r for r in row.reasons}
    assert checks["instant"]["evidence"]["ctit_seconds"] == 2
    world.land(ftd)  # what the engine posts for a rejected player is reversed at once
    assert world.conversion(player).status == "rejected"
    assert world.entry_statuses(player) == {f"cpa:{player}": "approved",
                                            f"rev:cpa:{player}": "approved"}
    assert world.total_minor(alice) == 0


def test_assessing_the_same_events_again_writes_nothing_new(engine: sa.Engine) -> None:
    world, brand, alice = _world(engine)
    player, registration, ftd = registered_with_ftd(world, brand, alice, at(3),
                                                    timedelta(seconds=5))
    world.land(registration, ftd)
    first = world.assessments(player)
    world.land(registration, ftd)
    assert [row.id for row in world.assessments(player)] == [row.id for row in first]
    assert first[0].reasons[0]["check"] == "too_short"
    assert first[0].action == "hold"


def test_a_card_shared_by_two_players_flags_and_a_third_holds_all_three(
    engine: sa.Engine,
) -> None:
    world, brand, alice = _world(engine)
    players = []
    for n in range(3):
        player, registration, ftd = registered_with_ftd(
            world, brand, alice, at(3 + n), timedelta(minutes=2), ip=f"203.0.113.{10 + n}")
        world.raw(ftd, payment_hash="card-abc")
        world.land(registration, ftd)
        players.append(player)
        if n == 0:
            assert world.assessments() == []
        if n == 1:  # a family card: flagged for review, still paid
            assert [world.latest(p).action for p in players] == ["flag", "flag"]
            assert world.entry_statuses(player) == {f"cpa:{player}": "approved"}
    for player in players:  # the earlier players are reassessed when the third arrives
        row = world.latest(player)
        assert (row.action, row.reasons[0]["check"]) == ("hold", "payment_instrument")
        assert row.reasons[0]["evidence"] == {"other_players": 2}
        assert world.entry_statuses(player) == {f"cpa:{player}": "on_hold"}


def test_self_referral_with_a_shared_card_rejects_and_reverses_with_a_reference(
    engine: sa.Engine,
) -> None:
    world, brand, alice = _world(engine)
    _first, reg1, ftd1 = registered_with_ftd(world, brand, alice, at(3), timedelta(minutes=2))
    world.raw(ftd1, payment_hash="card-xyz")
    world.land(reg1, ftd1)
    second, reg2, ftd2 = registered_with_ftd(world, brand, alice, at(5), timedelta(minutes=2),
                                             ip="198.51.100.50")  # the affiliate's own IP
    world.raw(ftd2, payment_hash="card-xyz")
    world.land(reg2)  # self-referral alone: hold
    assert world.latest(second).action == "hold"
    world.land(ftd2)  # + the shared card: 70 + 40 = 110 → reject
    row = world.latest(second)
    assert (row.action, row.status, row.reviewed_by) == ("reject", "confirmed", "system:fraud")
    assert world.conversion(second).status == "rejected"
    e = t.ledger_entries
    with engine.connect() as conn:
        lines = {r.entry_key: r for r in conn.execute(sa.select(e).where(e.c.player_id == second))}
    original, reversal = lines[f"cpa:{second}"], lines[f"rev:cpa:{second}"]
    assert reversal.reverses_entry_id == original.id
    assert reversal.amount_minor == -original.amount_minor == -10_000
    assert original.status == "approved"  # released, then netted out by the reversal
    assert len(world.assessments(second)) == 2
    assert world.assessments(second)[0].status == "superseded"


def test_thirty_clicks_from_one_ip_in_ten_minutes_flood_the_converting_click(
    engine: sa.Engine,
) -> None:
    world, brand, alice = _world(engine)
    for n in range(29):
        world.click(alice, at(3) + timedelta(seconds=10 * n), ip="192.0.2.1")
    player, registration, _ftd = registered_with_ftd(world, brand, alice,
                                                     at(3) + timedelta(minutes=4),
                                                     timedelta(minutes=2), ip="192.0.2.1")
    world.land(registration)
    row = world.latest(player)
    assert row.action == "hold"
    flood = next(r for r in row.reasons if r["family"] == "click_flooding")
    assert (flood["check"], flood["evidence"]["ip_clicks"]) == ("ip", 30)


def test_deposit_minimal_play_and_withdrawal_holds_the_cpa(engine: sa.Engine) -> None:
    world, brand, alice = _world(engine)
    player, registration, ftd = registered_with_ftd(world, brand, alice, at(3),
                                                    timedelta(minutes=4))
    world.land(registration, ftd)
    activity = world.event(player, "activity", at(3, 18), bets="10", bonus="50")  # a bonus
    withdrawal = world.event(player, "withdrawal", at(4, 9), amount="48")
    world.land(activity, withdrawal)
    row = world.latest(player)
    assert (row.action, row.reasons[0]["check"]) == ("hold", "deposit_minimal_play_withdrawal")
    assert row.reasons[0]["evidence"]["turnover_pct"] == 20
    assert world.entry_statuses(player) == {f"cpa:{player}": "on_hold"}


def test_wash_trades_with_sides_from_the_operator_hold_the_trader(engine: sa.Engine) -> None:
    world, brand, alice = _world(engine)
    player, registration, _ftd = registered_with_ftd(world, brand, alice, at(3),
                                                     timedelta(minutes=4))
    trades = []
    for n in range(6):
        start = at(5) + timedelta(minutes=n)
        buy = world.event(player, "trade", start, lots="1", instrument="EURUSD")
        sell = world.event(player, "trade", start + timedelta(seconds=3), lots="1",
                           instrument="EURUSD")
        trades += [world.raw(buy, side="buy"), world.raw(sell, side="SELL")]
    world.land(registration, *trades)
    row = world.latest(player)
    assert (row.action, row.reasons[-1]["check"]) == ("hold", "wash_trades")
    assert row.reasons[-1]["evidence"]["pairs"] == 6
