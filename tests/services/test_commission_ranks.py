"""CPA ranks (tiers, caps) count every paid player of the period, and only deals with tiers or
a cap pay for counting them: a flat deal never reads the period's conversions."""

from __future__ import annotations

import sqlalchemy as sa

from clickledger.services.conversion import evaluate_events
from clickledger.store import tables as t
from commission_builder import World, at

FLAT = {"amount": "50", "qualification": {"min_ftd": "10"}}
TIERED = {"amount": "50", "tiers": [{"min_players": 2, "amount": "80"}],
          "qualification": {"min_ftd": "10"}}
RANK_READ = "FROM conversions WHERE affiliate_id"


def _programme(world: World, terms: dict[str, object]) -> tuple[str, str, str]:
    brand = world.brand()
    affiliate = world.affiliate("Ranked")
    deal = world.deal(brand, "cpa", terms, effective_from=at(1))
    world.assign(affiliate, deal, effective_from=at(1))
    return brand, affiliate, deal


def _evaluate_seeing_statements(engine: sa.Engine, event_ids: list[str]) -> list[str]:
    statements: list[str] = []
    with engine.begin() as conn:
        sa.event.listen(conn, "before_cursor_execute",
                        lambda *args: statements.append(str(args[2])))
        evaluate_events(conn, event_ids, at(28))
    return statements


def _cpa_minor(world: World, player_id: str) -> int:
    (line,) = [e for e in world.entries() if e.entry_key == f"cpa:{player_id}"]
    return int(line.amount_minor)


def test_a_flat_deal_pays_every_qualified_player_without_counting_the_period(
    engine: sa.Engine,
) -> None:
    world = World(engine)
    brand, affiliate, _deal = _programme(world, FLAT)
    players = [world.player(brand, affiliate, registered_at=at(2)) for _ in range(3)]
    ftds = [world.event(p, "ftd", at(3 + n), amount="20") for n, p in enumerate(players)]
    statements = _evaluate_seeing_statements(engine, ftds)
    assert [_cpa_minor(world, p) for p in players] == [5000, 5000, 5000]
    assert not [s for s in statements if RANK_READ in s]


def test_a_tiered_deal_counts_the_period_to_rank_its_players(engine: sa.Engine) -> None:
    world = World(engine)
    brand, affiliate, _deal = _programme(world, TIERED)
    first, second = (world.player(brand, affiliate, registered_at=at(2)) for _ in range(2))
    world.evaluate(world.event(first, "ftd", at(3), amount="20"))
    statements = _evaluate_seeing_statements(
        engine, [world.event(second, "ftd", at(4), amount="20")])
    assert (_cpa_minor(world, first), _cpa_minor(world, second)) == (5000, 8000)
    assert [s for s in statements if RANK_READ in s]


def test_players_paid_under_a_flat_version_count_toward_the_tiers_of_a_later_one(
    engine: sa.Engine,
) -> None:
    # v1 (flat) from the 1st, v2 (the 2nd player of the month on earns 80) from the 15th;
    # both FTDs are evaluated in one call: the first qualifies under v1, the second under v2
    # and is the month's second qualified player.
    world = World(engine)
    brand, affiliate, deal = _programme(world, FLAT)
    world.version(deal, TIERED, at(15), 2)
    early, late = (world.player(brand, affiliate, registered_at=at(2)) for _ in range(2))
    ftds = [world.event(early, "ftd", at(5), amount="20"),
            world.event(late, "ftd", at(20), amount="20")]
    world.evaluate(*ftds, now=at(28))
    assert (_cpa_minor(world, early), _cpa_minor(world, late)) == (5000, 8000)
    with engine.connect() as conn:
        paid = conn.execute(sa.select(sa.func.count()).select_from(t.conversions)
                            .where(t.conversions.c.status == "approved")).scalar_one()
    assert paid == 2
