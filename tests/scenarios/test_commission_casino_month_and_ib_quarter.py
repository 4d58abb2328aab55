"""Scenarios with totals worked out by hand: a casino month and a Forex IB quarter."""

from __future__ import annotations

import sqlalchemy as sa

from clickledger.services import ledger_rebuild, period_close
from commission_builder import World, at


def _close(engine: sa.Engine, month: int) -> None:
    with engine.begin() as conn:
        period_close.close(conn, at(1, month=month, hour=0), at(1, month=month + 1, hour=2))


def test_a_casino_month_for_a_hybrid_affiliate_and_its_parent(engine: sa.Engine) -> None:
    world = World(engine)
    brand = world.brand(name="Lucky", bonuses=True, chargebacks=True, admin_fee_pct="15")
    parent = world.affiliate("Network")
    hybrid = world.affiliate("Streamer", parent=parent)
    sub = world.deal(brand, "sub_affiliate", {"levels_pct": ["5"]})
    world.assign(parent, sub)
    deal = world.deal(brand, "hybrid", {
        "cpa": {"amount": "100", "qualification": {"min_ftd": "50", "min_wagering": "200",
                                                   "window_days": 14}},
        "revshare": {"pct": "20", "carryover": "reset"},
    })
    world.assign(hybrid, deal)
    p1, p2, p3 = (world.player(brand, hybrid, at(d)) for d in (2, 3, 4))
    events = [
        world.event(p1, "ftd", at(2, 13), amount="80"),
        world.event(p1, "activity", at(3, 0), bets="500", wins="300", bonus="20"),
        world.event(p2, "ftd", at(3, 14), amount="40"),  # under the 50 minimum: no CPA
        world.event(p2, "activity", at(4, 0), bets="1000", wins="200"),
        world.event(p3, "ftd", at(4, 15), amount="60"),
        world.event(p3, "activity", at(5, 0), bets="150", wins="400", chargebacks="60"),
        world.event(p3, "activity", at(25, 0), bets="100", wins="0"),  # wagering 250 by day 21
    ]
    for event in events:
        world.evaluate(event, now=at(26))
    _close(engine, 1)
    # CPA: p1 wagered 500 ≥ 200 → 100.00; p2 FTD 40 < 50 → none; p3 wagered 150 by day 5 and
    #      250 only on day 25 (outside 14 days) → none.                      CPA = 100.00
    # GGR = (500−300) + (1000−200) + (150−400) + (100−0) = 200 + 800 − 250 + 100 = 850
    # NGR = 850 − bonus 20 − chargebacks 60 − admin 15% × 850 (127.50) = 642.50
    # RevShare 20% × 642.50 = 128.50                                          total 228.50
    # Parent 5% of 100.00 = 5.00 and 5% of 128.50 = 6.425 → 6.43              total 11.43
    assert world.total_minor(hybrid) == 22850
    assert world.total_minor(parent) == 1143
    revshare = [e for e in world.entries(hybrid) if e.entry_key.startswith("rs:")]
    assert revshare[0].explanation.startswith("Hybrid RevShare 128.50 EUR: 20% of NGR 642.50 EUR")
    assert ledger_rebuild.rebuild(engine).equal


def test_a_forex_ib_quarter_with_aliases_account_types_spread_share_and_a_rate_change(
    engine: sa.Engine,
) -> None:
    world = World(engine)
    broker = world.brand(name="FX Broker", kind="forex", currency="USD")
    ib = world.affiliate("IB Gold", currency="USD")
    deal = world.deal(broker, "ib_rebate", {
        "rates_per_lot": {"fx_major": "8", "metals": "12", "default": "4"},
        "account_type_rates": {"ecn": {"fx_major": "6"}},
        "spread_share_pct": "10",
    }, currency="USD")
    # From March: metals 15 per lot (a new version; the rest unchanged)
    world.version(deal, {"rates_per_lot": {"fx_major": "8", "metals": "15", "default": "4"},
                         "account_type_rates": {"ecn": {"fx_major": "6"}},
                         "spread_share_pct": "10"}, at(1, month=3, hour=0), 2)
    world.assign(ib, deal)
    a, b = world.player(broker, ib, at(5)), world.player(broker, ib, at(6))
    trades = [
        # Jan: 2.5 lots EURUSD.pro std: 2.5 × 8 = 20.00 + 10% of 30.00 spread = 3.00 → 23.00
        world.event(a, "trade", at(10), lots="2.5", instrument="EURUSD.pro", spread="30",
                    currency="USD"),
        # Feb: 1.25 lots XAUUSD.m: 1.25 × 12 = 15.00 + 10% × 7.55 = 0.755 → 15.755 → 15.76
        world.event(b, "trade", at(11, month=2), lots="1.25", instrument="XAUUSD.m",
                    spread="7.55", currency="USD"),
        # Feb: 4 lots GBPUSD-ECN on an ecn account: 4 × 6 = 24.00, no spread → 24.00
        world.event(a, "trade", at(20, month=2), lots="4", instrument="GBPUSD-ECN",
                    account_type="ecn", currency="USD"),
        # Mar: 1.25 lots XAUUSD.m at the new 15: 18.75 + 0.755 → 19.505 → 19.51
        world.event(b, "trade", at(2, month=3), lots="1.25", instrument="XAUUSD.m",
                    spread="7.55", currency="USD"),
        # Mar: 0.333 lots US30 (default 4): 1.332 → 1.33
        world.event(a, "trade", at(15, month=3), lots="0.333", instrument="US30",
                    currency="USD"),
    ]
    for trade in trades:
        world.evaluate(trade)
    for month in (1, 2, 3):
        _close(engine, month)
    # Quarter: 23.00 + 15.76 + 24.00 + 19.51 + 1.33 = 83.60 USD
    lines = world.entries(ib)
    assert sorted(line.amount_minor for line in lines) == [133, 1576, 1951, 2300, 2400]
    assert world.total_minor(ib) == 8360
    assert {line.period_start.month for line in lines} == {1, 2, 3}
    assert ledger_rebuild.rebuild(engine).equal
