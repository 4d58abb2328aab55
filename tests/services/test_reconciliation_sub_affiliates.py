"""Finance reconciles a programme with a sub-affiliate tree (the simulation's programme: Top
on a 10 % / 3 % sub-affiliate deal, Mid under Top on hybrid CPA 75 for an FTD of 20 or more,
Leaf under Mid on RevShare 30 %, brand admin fee 5 %).  A player's figure is its own
affiliate's commission, not a parent's share; an approved adjustment pays the parents their
share and ``ledger rebuild`` still equals the live ledger."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from tests.simulation.world import START, SimWorld, advance, build_world

from clickledger.services import ledger_rebuild, period_close
from clickledger.services import reconciliation as recon
from clickledger.store import tables as t

JANUARY = {"period_start": "2026-01-01", "period_end": "2026-02-01"}


def mid_player(world: SimWorld, user: str = "u1") -> None:
    """Mid's player deposits 50.00: CPA 75.00 to Mid, 10 % (7.50) to Top."""
    click_id = world.click(1)
    advance(world, 1)
    world.submit(
        [{"event": "registration", "txn_id": f"r-{user}", "user_id": user, "click_id": click_id}]
    )
    world.submit(
        [
            {
                "event": "ftd",
                "txn_id": f"f-{user}",
                "user_id": user,
                "amount": "50",
                "currency": "EUR",
            }
        ]
    )


def reconcile(world: SimWorld, kind: recon.StatementKind, text: str) -> recon.RunOutcome:
    request = recon.StatementRequest(
        data=text.encode(),
        file_name="jan.csv",
        kind=kind,
        brand="Sim Casino",
        actor="finance@sim",
        **JANUARY,
    )
    return recon.run_reconciliation(world.engine, world.clock.now(), request)


def lines(world: SimWorld) -> dict[str, tuple[str, int]]:
    """Ledger lines by key, as (affiliate, amount in cents)."""
    e = t.ledger_entries
    with world.engine.connect() as conn:
        rows = conn.execute(sa.select(e.c.entry_key, e.c.affiliate_id, e.c.amount_minor))
        return {key: (str(affiliate), amount) for key, affiliate, amount in rows}


def test_a_players_statement_compares_the_players_own_affiliate_not_a_parents_share(
    engine: sa.Engine,
) -> None:
    world = build_world(engine)
    top, mid, _leaf = world.affiliates
    mid_player(world)
    assert sorted(lines(world).values()) == sorted([(mid, 7_500), (top, 750)])
    outcome = reconcile(
        world, recon.StatementKind.PLAYERS, "player_id,amount,currency\nu1,75.00,EUR\n"
    )
    assert [
        (r["key"], r["flag"], r["affiliate_id"], r["ours_minor"], r["difference_minor"])
        for r in outcome.items.iter_rows(named=True)
    ] == [("u1", "matched", mid, 7_500, 0)]


def test_an_approved_adjustment_pays_the_parents_share_once_and_rebuild_still_equals_live(
    engine: sa.Engine,
) -> None:
    """The operator says Mid earned 100.00 in January (we have 75.00): +25.00 to Mid, and
    Top's 10 % share of it, 2.50; approving twice posts once; the rebuild (which cannot
    derive a finance decision from events) still equals live."""
    world = build_world(engine)
    top, mid, _leaf = world.affiliates
    mid_player(world)
    outcome = reconcile(
        world, recon.StatementKind.AFFILIATES, f"affiliate,amount,currency\n{mid},100.00,EUR\n"
    )
    with engine.begin() as conn:
        (item,) = recon.list_items(conn, outcome.run_id, {"flag": "amount_mismatch"}, 10)
        assert item["proposed_adjustment_minor"] == 2_500
        first = recon.decide(conn, str(item["id"]), True, "finance@sim", world.clock.now())
    with engine.begin() as conn:
        again = recon.decide(conn, str(item["id"]), True, "finance@sim", world.clock.now())
    assert again["ledger_entry_id"] == first["ledger_entry_id"]
    posted = lines(world)
    assert posted[f"recon:{item['id']}"] == (mid, 2_500)
    assert posted[f"sub:{top}:recon:{item['id']}"] == (top, 250)
    assert len(posted) == 4  # CPA, Top's share of it, the adjustment, Top's share of that
    report = ledger_rebuild.rebuild(engine)
    assert report.equal, (report.missing, report.extra, report.changed)


def test_an_affiliates_statement_that_agrees_with_what_we_pay_each_affiliate_matches(
    engine: sa.Engine,
) -> None:
    """January: Mid's CPA 75.00 (+ Top 7.50); Leaf's player bets 100.00, wins nothing: NGR
    95.00 after the 5 % admin fee, RevShare 30 % = 28.50 to Leaf (+ Top's 3 %, 0.86 rounded
    half-up from 0.855).  An operator statement listing what we pay each affiliate — Top
    8.36, Mid 75.00, Leaf 28.50 — must be all matched."""
    world = build_world(engine)
    top, mid, leaf = world.affiliates
    mid_player(world)
    click_id = world.click(2)
    world.submit(
        [{"event": "registration", "txn_id": "r-l1", "user_id": "l1", "click_id": click_id}]
    )
    world.submit(
        [
            {
                "event": "activity",
                "txn_id": "a-l1",
                "user_id": "l1",
                "day": "2026-01-01",
                "bets": "100",
                "wins": "0",
                "bonus": "0",
                "currency": "EUR",
            }
        ]
    )
    world.clock.advance(timedelta(days=31))
    with engine.begin() as conn:
        period_close.close(conn, START, world.clock.now())
    paid: dict[str, int] = {}
    for affiliate, amount in lines(world).values():
        paid[affiliate] = paid.get(affiliate, 0) + amount
    assert paid == {top: 836, mid: 7_500, leaf: 2_850}
    outcome = reconcile(
        world,
        recon.StatementKind.AFFILIATES,
        f"affiliate,amount,currency\n{top},8.36,EUR\n{mid},75.00,EUR\n{leaf},28.50,EUR\n",
    )
    assert [r["flag"] for r in outcome.items.iter_rows(named=True)] == ["matched"] * 3
