"""The ledger follows the order events arrived in, not the way ingestion batched them: one
``evaluate_events`` call over several events pays exactly what one call per event pays."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from clickledger.services import ledger_rebuild
from commission_builder import World, at

TIERED = {"amount": "75", "tiers": [{"min_players": 2, "amount": "90"}],
          "qualification": {"min_ftd": "20", "min_deposits_count": 2}}
ARRIVAL = at(20)  # every event below arrives at the same instant, in the order written


def _rebuild_equals_live(engine: sa.Engine) -> None:
    report = ledger_rebuild.rebuild(engine)
    assert report.equal, (report.missing, report.extra, report.changed)


def _send(world: World, player: str, kind: str, when: datetime, **fields: Any) -> str:
    return world.event(player, kind, when, received_at=ARRIVAL, **fields)


def _tiered_story(world: World, one_call: bool) -> tuple[str, str, str]:
    """A's FTD, B's FTD, B's second deposit (B qualifies), then A's second deposit, which
    happened earlier (5 January) but arrives last."""
    name = "one call" if one_call else "four calls"
    brand = world.brand(name=name)
    alice = world.affiliate(f"Alice ({name})")
    world.assign(alice, world.deal(brand, "cpa", TIERED))
    a, b = world.player(brand, alice, at(2)), world.player(brand, alice, at(2))
    events = []
    for player, kind, day in ((a, "ftd", 3), (b, "ftd", 3), (b, "deposit", 6),
                              (a, "deposit", 5)):
        events.append(_send(world, player, kind, at(day), amount="30"))
        if not one_call:  # stored and evaluated as it arrives
            world.evaluate(events[-1], now=ARRIVAL)
    if one_call:
        world.evaluate(*events, now=ARRIVAL)
    return alice, a, b


def test_tiers_count_players_in_the_order_their_qualifying_events_arrived(
    engine: sa.Engine,
) -> None:
    """B qualifies on the third arrival: first qualified player, 75.00; A on the fourth:
    second, 90.00 — in one call as in four."""
    world = World(engine)
    apart = _tiered_story(world, one_call=False)
    together = _tiered_story(world, one_call=True)
    for alice, a, b in (apart, together):
        assert {e.player_id: e.amount_minor for e in world.entries(alice)} == {b: 7500,
                                                                                a: 9000}
    _rebuild_equals_live(engine)


def _ib_world(world: World) -> tuple[str, str]:
    brand = world.brand(kind="forex", currency="USD")
    ib = world.affiliate("IB")
    world.assign(ib, world.deal(brand, "ib_rebate", {"rates_per_lot": {"default": "5"}},
                                currency="USD"))
    return ib, world.player(brand, ib, at(1))


def test_a_trade_reversed_in_the_same_batch_is_paid_then_reversed(engine: sa.Engine) -> None:
    """1 lot at 5.00 USD a lot: +5.00 then −5.00, as if they had come one by one."""
    world = World(engine)
    ib, client = _ib_world(world)
    trade = _send(world, client, "trade", at(10), lots="1", instrument="EURUSD",
                  currency="USD", txn_id="T-1")
    undo = _send(world, client, "reversal", at(11), reverses="T-1", currency="USD")
    world.evaluate(trade, undo, now=ARRIVAL)
    lines = {e.kind: (e.amount_minor, e.source_event_ids) for e in world.entries(ib)}
    assert lines == {"commission": (500, [trade]), "reversal": (-500, [trade, undo])}
    _rebuild_equals_live(engine)


def test_a_reversal_that_arrives_before_its_trade_means_the_trade_is_never_paid(
    engine: sa.Engine,
) -> None:
    world = World(engine)
    ib, client = _ib_world(world)
    undo = _send(world, client, "reversal", at(11), reverses="T-1", currency="USD")
    trade = _send(world, client, "trade", at(10), lots="1", instrument="EURUSD",
                  currency="USD", txn_id="T-1")
    world.evaluate(undo, trade, now=ARRIVAL)
    assert world.entries(ib) == []
    _rebuild_equals_live(engine)


def test_a_chargeback_undoes_only_what_was_paid_before_it_arrived(engine: sa.Engine) -> None:
    """A chargeback naming an unknown deposit arrives first; the FTD that then qualifies the
    player (CPA 200.00) stays paid: the chargeback came before there was anything to undo."""
    world = World(engine)
    brand = world.brand()
    alice = world.affiliate("Alice")
    world.assign(alice, world.deal(brand, "cpa", {"amount": "200",
                                                  "qualification": {"min_ftd": "100"}}))
    player = world.player(brand, alice, at(2))
    chargeback = _send(world, player, "chargeback", at(4), reverses="unknown-txn")
    ftd = _send(world, player, "ftd", at(3), amount="150")
    world.evaluate(chargeback, ftd, now=ARRIVAL)
    [line] = world.entries(alice)
    assert (line.kind, line.amount_minor, line.source_event_ids) == ("commission", 20000, [ftd])
    assert world.conversion(player).status == "approved"
    _rebuild_equals_live(engine)


def test_a_deposit_charged_back_before_qualifying_counts_for_nothing(engine: sa.Engine) -> None:
    """Two deposits of 60.00 in all needed: FTD 30.00, a deposit of 20.00 (50.00: not yet),
    its chargeback, then 30.00 — the player qualifies on the 30.00 with the FTD alone
    beside it: 2 deposits, 60.00; the charged-back 20.00 is not among the sources."""
    world = World(engine)
    brand = world.brand()
    alice = world.affiliate("Alice")
    world.assign(alice, world.deal(brand, "cpa", {"amount": "60", "qualification": {
        "min_ftd": "20", "min_deposits_count": 2, "min_deposits_sum": "60"}}))
    player = world.player(brand, alice, at(2))
    ftd = _send(world, player, "ftd", at(3), amount="30")
    world.evaluate(ftd, now=ARRIVAL)
    second = _send(world, player, "deposit", at(4), amount="20", txn_id="D-2")
    chargeback = _send(world, player, "chargeback", at(5), reverses="D-2", amount="20")
    third = _send(world, player, "deposit", at(6), amount="30")
    world.evaluate(second, chargeback, third, now=ARRIVAL)
    [line] = world.entries(alice)
    assert (line.amount_minor, line.source_event_ids) == (6000, [ftd, third])
    assert line.explanation.startswith(
        "CPA 60.00 EUR: FTD 30.00 ≥ 20.00 and 2 deposits ≥ 2 and deposits 60.00 ≥ 60.00")
    _rebuild_equals_live(engine)
