"""The commission engine end to end on both databases: live evaluation, corrections,
period close, late events, deal changes, caps, sub-affiliates and the rebuild check."""

from __future__ import annotations

import re

import sqlalchemy as sa

from clickledger.services import ledger_rebuild, period_close
from clickledger.services.conversion import evaluate_events, reject_conversion
from clickledger.store import tables as t
from commission_builder import World, at

CPA_TERMS = {"amount": "200", "qualification": {"min_ftd": "100", "min_lots": "0.5",
                                                "window_days": 30}}


def _cpa_world(engine: sa.Engine, terms: dict[str, object] | None = None) -> tuple[World, str,
                                                                                   str, str]:
    world = World(engine)
    brand = world.brand()
    alice = world.affiliate("Alice")
    deal = world.deal(brand, "cpa", terms or CPA_TERMS)
    world.assign(alice, deal)
    return world, brand, alice, deal


def _close(engine: sa.Engine, month: int, now_month: int | None = None) -> None:
    with engine.begin() as conn:
        period_close.close(conn, at(1, month=month, hour=0),
                           at(1, month=now_month or month + 1, hour=1))


def _rebuild_equals_live(engine: sa.Engine) -> None:
    report = ledger_rebuild.rebuild(engine)
    assert report.equal, (report.missing, report.extra, report.changed)


def test_ftd_then_lots_pays_cpa_once_with_a_checkable_explanation(engine: sa.Engine) -> None:
    world, brand, alice, _deal = _cpa_world(engine)
    player = world.player(brand, alice, at(2))
    ftd = world.event(player, "ftd", at(3), amount="150.00")
    world.evaluate(ftd)
    assert world.entries(alice) == []  # lots still missing
    trade = world.event(player, "trade", at(4), lots="0.6", instrument="EURUSD")
    world.evaluate(trade)
    world.evaluate(ftd, trade)  # a second call pays nothing more
    [line] = world.entries(alice)
    assert (line.amount_minor, line.currency, line.kind) == (20000, "EUR", "commission")
    assert line.explanation.startswith(
        "CPA 200.00 EUR: FTD 150.00 ≥ 100.00 and 0.6 lots ≥ 0.5 within 30 days")
    assert line.source_event_ids == [ftd, trade]
    assert world.conversion(player).status == "approved"
    _rebuild_equals_live(engine)


def test_exactly_at_the_threshold_qualifies_and_one_cent_under_does_not(
    engine: sa.Engine,
) -> None:
    world, brand, alice, _deal = _cpa_world(engine, {"amount": "50",
                                                     "qualification": {"min_ftd": "100"}})
    exact = world.player(brand, alice, at(2))
    under = world.player(brand, alice, at(2))
    world.evaluate(world.event(exact, "ftd", at(3), amount="100.00"),
                   world.event(under, "ftd", at(3), amount="99.99"))
    assert [(e.player_id, e.amount_minor) for e in world.entries(alice)] == [(exact, 5000)]
    assert world.conversion(under).status == "rejected"


def test_chargeback_after_payout_posts_a_reversal_in_the_open_period(engine: sa.Engine) -> None:
    world, brand, alice, _deal = _cpa_world(engine, {"amount": "200",
                                                     "qualification": {"min_ftd": "100"}})
    player = world.player(brand, alice, at(2))
    ftd = world.event(player, "ftd", at(3), amount="150.00")
    world.evaluate(ftd)
    with engine.begin() as conn:  # the payout run marked the line as paid
        conn.execute(t.ledger_entries.update().values(payout_id=world.affiliate("payout-ref")))
    _close(engine, 1)
    chargeback = world.event(player, "chargeback", at(10, month=2), amount="150.00",
                             reverses=world.txn_of(ftd))
    world.evaluate(chargeback)
    original, reversal = sorted(world.entries(alice), key=lambda e: e.kind)
    assert (original.kind, original.amount_minor, original.payout_id is not None) == (
        "commission", 20000, True)
    assert (reversal.kind, reversal.amount_minor) == ("reversal", -20000)
    assert reversal.reverses_entry_id == original.id
    assert reversal.period_start.month == 2 and chargeback in reversal.source_event_ids
    assert world.conversion(player).status == "reversed"
    _rebuild_equals_live(engine)


def test_fraud_rejection_reverses_the_cpa_and_replays(engine: sa.Engine) -> None:
    world, brand, alice, _deal = _cpa_world(engine, {"amount": "200",
                                                     "qualification": {"min_ftd": "100"}})
    player = world.player(brand, alice, at(2))
    world.evaluate(world.event(player, "ftd", at(3), amount="150.00"))
    with engine.begin() as conn:
        keys = reject_conversion(conn, player, "cpa", "multi-accounting", at(5),
                                 actor="manager")
    assert keys == [f"rev:cpa:{player}"]
    assert world.total_minor(alice) == 0
    assert world.conversion(player).status == "rejected"
    _rebuild_equals_live(engine)


def test_a_deal_change_mid_period_applies_the_version_in_force_at_each_event(
    engine: sa.Engine,
) -> None:
    world = World(engine)
    brand = world.brand(kind="forex", currency="USD")
    ib = world.affiliate("IB One")
    deal = world.deal(brand, "ib_rebate", {"rates_per_lot": {"fx_major": "8"}}, currency="USD")
    world.version(deal, {"rates_per_lot": {"fx_major": "10"}}, at(15, hour=0), 2)
    world.assign(ib, deal)
    client = world.player(brand, ib, at(1))
    before = world.event(client, "trade", at(14, hour=23), lots="1", instrument="EURUSD.pro",
                         currency="USD")
    after = world.event(client, "trade", at(15, hour=1), lots="1", instrument="EURUSD.pro",
                        currency="USD")
    world.evaluate(before, after)
    assert {e.source_event_ids[0]: e.amount_minor for e in world.entries(ib)} == {
        before: 800, after: 1000}
    _rebuild_equals_live(engine)


def test_an_ftd_before_its_registration_still_pays_once_the_player_is_attributed(
    engine: sa.Engine,
) -> None:
    world, brand, alice, _deal = _cpa_world(engine, {"amount": "200",
                                                     "qualification": {"min_ftd": "100",
                                                                       "window_days": 7}})
    player = world.player(brand, None)  # unknown until the registration arrives
    ftd = world.event(player, "ftd", at(3, hour=9), amount="150.00")
    world.evaluate(ftd)
    assert world.entries(alice) == []
    registration = world.event(player, "registration", at(3, hour=10), received_at=at(3, 11))
    with engine.begin() as conn:  # ingestion attributes, then passes the earlier events too
        conn.execute(t.players.update().where(t.players.c.id == player)
                     .values(affiliate_id=alice, registered_at=at(3, hour=10)))
        evaluate_events(conn, [registration, ftd], at(3, 11))
    [line] = world.entries(alice)
    assert line.amount_minor == 20000


def test_a_cap_reached_mid_day_stops_paying_the_next_qualified_player(
    engine: sa.Engine,
) -> None:
    world, brand, alice, _deal = _cpa_world(engine, {"amount": "100", "cap_per_period": 2,
                                                     "qualification": {"min_ftd": "20"}})
    players = [world.player(brand, alice, at(5, hour=8)) for _ in range(3)]
    for hour, player in zip((9, 11, 13), players, strict=True):
        world.evaluate(world.event(player, "ftd", at(5, hour=hour), amount="50"),
                       now=at(5, hour=hour))
    assert [e.player_id for e in world.entries(alice)] == sorted(players[:2])
    third = world.conversion(players[2])
    assert third.status == "rejected" and "cap of 2" in third.reason
    _rebuild_equals_live(engine)


def test_three_level_sub_affiliate_tree_pays_each_level_its_rate(engine: sa.Engine) -> None:
    world = World(engine)
    brand = world.brand()
    top = world.affiliate("Top")
    middle = world.affiliate("Middle", parent=top)
    lower = world.affiliate("Lower", parent=middle)
    leaf = world.affiliate("Leaf", parent=lower)
    sub = world.deal(brand, "sub_affiliate", {"levels_pct": ["10", "5", "2.5"]})
    for ancestor in (top, middle, lower):
        world.assign(ancestor, sub)
    cpa = world.deal(brand, "cpa", {"amount": "333.33", "qualification": {"min_ftd": "10"}})
    world.assign(leaf, cpa)
    player = world.player(brand, leaf, at(2))
    ftd = world.event(player, "ftd", at(3), amount="50")
    world.evaluate(ftd)
    # 10% of 333.33 = 33.333 → 33.33; 5% → 16.6665 → 16.67; 2.5% → 8.33325 → 8.33
    assert [world.total_minor(a) for a in (leaf, lower, middle, top)] == [33333, 3333, 1667, 833]
    world.evaluate(world.event(player, "chargeback", at(9), reverses=world.txn_of(ftd)))
    assert [world.total_minor(a) for a in (leaf, lower, middle, top)] == [0, 0, 0, 0]
    _rebuild_equals_live(engine)


def test_month_close_pays_revshare_carries_negative_ngr_and_books_late_rows(
    engine: sa.Engine,
) -> None:
    world = World(engine)
    brand = world.brand(admin_fee_pct="10")
    bob = world.affiliate("Bob")
    deal = world.deal(brand, "revshare", {"pct": "25", "carryover": "carry_forward"})
    world.assign(bob, deal)
    player = world.player(brand, bob, at(1))
    # January: GGR 100 − 500 = −400, admin fee 10% of −400 = −40 → NGR −360: pays 0
    world.evaluate(world.event(player, "activity", at(10, 0), bets="100", wins="500"))
    _close(engine, 1)
    assert world.entries(bob) == []
    # February: GGR 2000 − 1000 = 1000, bonus 100, fee 100 → NGR 800; minus 360 carried
    world.evaluate(world.event(player, "activity", at(10, 0, month=2), bets="2000",
                               wins="1000", bonus="100"))
    # a late January row received after January closed: GGR 40, fee 4 → NGR 36 in February
    world.evaluate(world.event(player, "activity", at(31, 0), received_at=at(2, month=2),
                               bets="40"))
    _close(engine, 2)
    lines = world.entries(bob)
    # 25% × (800 + 36) = 209.00 and 25% × −360 = −90.00 → 119.00
    assert sorted(line.amount_minor for line in lines) == [-9000, 20900]
    assert all(line.period_start.month == 2 for line in lines)
    assert sum(line.amount_minor for line in lines) == 11900
    with engine.begin() as conn:  # closing again changes nothing
        assert period_close.close(conn, at(1, month=2, hour=0), at(5, month=3)).already_closed
    _rebuild_equals_live(engine)


def test_revshare_lines_name_their_activity_rows_by_canonical_event_ids(
    engine: sa.Engine,
) -> None:
    """The same text on SQLite and PostgreSQL: the ids ingestion answered, with dashes."""
    world = World(engine)
    brand = world.brand()
    bob = world.affiliate("Bob")
    world.assign(bob, world.deal(brand, "revshare", {"pct": "25", "carryover": "none"}))
    player = world.player(brand, bob, at(1))
    rows = [world.event(player, "activity", at(day, 0), bets="100", wins="20")
            for day in (10, 10, 11)]
    world.evaluate(*rows)
    _close(engine, 1)
    [line] = world.entries(bob)
    assert line.amount_minor == 6000  # 25 % of NGR (3 × 100.00 bet − 3 × 20.00 won) = 60.00
    assert sorted(line.source_event_ids) == sorted(rows)
    assert all(re.fullmatch(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", event_id)
               for event_id in line.source_event_ids)
    _rebuild_equals_live(engine)


def test_a_late_cpa_for_a_closed_month_is_an_adjustment_in_the_open_month(
    engine: sa.Engine,
) -> None:
    world, brand, alice, _deal = _cpa_world(engine, {"amount": "200",
                                                     "qualification": {"min_ftd": "100"}})
    _close(engine, 1)
    player = world.player(brand, alice, at(20))
    world.evaluate(world.event(player, "ftd", at(25), received_at=at(3, month=2),
                               amount="150"), now=at(3, month=2))
    [line] = world.entries(alice)
    assert line.kind == "adjustment" and line.period_start.month == 2
    assert "late: belongs to closed period 2026-01" in line.explanation
    _rebuild_equals_live(engine)


def test_fx_converts_a_usd_first_deposit_for_a_eur_threshold(engine: sa.Engine) -> None:
    world, brand, alice, _deal = _cpa_world(engine, {"amount": "200",
                                                     "qualification": {"min_ftd": "100"}})
    world.fx(at(1).date(), "USD", "EUR", "0.90", source="ecb")
    world.fx(at(1).date(), "USD", "EUR", "0.80", source="zz-other")  # loses the tie
    rich = world.player(brand, alice, at(2))
    poor = world.player(brand, alice, at(2))
    world.evaluate(world.event(rich, "ftd", at(3), amount="112.00", currency="USD"),
                   world.event(poor, "ftd", at(3), amount="110.00", currency="USD"))
    # 112 × 0.90 = 100.80 ≥ 100; 110 × 0.90 = 99.00 < 100
    assert [e.player_id for e in world.entries(alice)] == [rich]


def test_rebuild_reports_a_tampered_line(engine: sa.Engine) -> None:
    world, brand, alice, _deal = _cpa_world(engine, {"amount": "200",
                                                     "qualification": {"min_ftd": "100"}})
    player = world.player(brand, alice, at(2))
    world.evaluate(world.event(player, "ftd", at(3), amount="150"))
    with engine.begin() as conn:
        conn.execute(t.ledger_entries.update().values(amount_minor=19999))
    report = ledger_rebuild.rebuild(engine)
    assert report.changed == [(f"cpa:{player}", "amount_minor", 19999, 20000)]
