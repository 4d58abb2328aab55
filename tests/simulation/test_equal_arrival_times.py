"""Batches that share one arrival time (as rows of one import file do) are evaluated as they
arrived: the live ledger does not depend on where one batch ended and the next began, so
``ledger rebuild`` — which cannot see those boundaries — equals it line for line.

The programme (tests/simulation/world.py): Mid is on a hybrid deal, CPA 75.00 EUR from the
first qualified player of the month and 90.00 from the second (cap 3), FTD ≥ 20.00; Top, Mid's
parent, takes 10 % of Mid's commission as a sub-affiliate share."""

from __future__ import annotations

from collections.abc import Mapping

import pytest
import sqlalchemy as sa
from tests.simulation.world import SimWorld, build_world

from clickledger.services import ledger_rebuild
from clickledger.store import tables as t

MID = 1


def _lines(world: SimWorld) -> list[tuple[str, str, str, int]]:
    """(affiliate, kind, operator's player id, amount in cents) of every ledger line."""
    names = dict(zip(world.affiliates, ("Top", "Mid", "Leaf"), strict=True))
    e, p = t.ledger_entries, t.players
    with world.engine.connect() as conn:
        rows = conn.execute(sa.select(e.c.affiliate_id, e.c.kind, p.c.operator_player_id,
                                      e.c.amount_minor, e.c.deal_type)
                            .join(p, p.c.id == e.c.player_id)).all()
    return sorted((names[r.affiliate_id], f"{r.kind} {r.deal_type}", r.operator_player_id,
                   r.amount_minor) for r in rows)


def _conversion(world: SimWorld, user: str) -> tuple[str, str]:
    c, p = t.conversions, t.players
    with world.engine.connect() as conn:
        row = conn.execute(sa.select(c.c.status, c.c.reason).join(p, p.c.id == c.c.player_id)
                           .where(p.c.operator_player_id == user, c.c.kind == "cpa")).one()
    return row.status, row.reason


def _rebuild_equals_live(world: SimWorld) -> None:
    report = ledger_rebuild.rebuild(world.engine)
    assert report.equal, (report.missing, report.extra, report.changed)


def _send(world: SimWorld, batches: list[list[Mapping[str, str]]]) -> None:
    for batch in batches:
        world.submit(list(batch))


def _ftd(txn: str, user: str, amount: str) -> dict[str, str]:
    return {"event": "ftd", "txn_id": txn, "user_id": user, "amount": amount, "currency": "EUR"}


def _registration(world: SimWorld, txn: str, user: str) -> dict[str, str]:
    return {"event": "registration", "txn_id": txn, "user_id": user,
            "click_id": world.click(MID)}


def _chargeback(txn: str, user: str, of: str) -> dict[str, str]:
    return {"event": "chargeback", "txn_id": txn, "user_id": user, "amount": "10",
            "currency": "EUR", "reverses_txn_id": of}


@pytest.mark.parametrize("gap_s", [0, 1])
def test_a_first_deposit_under_the_minimum_is_the_ftd_even_when_charged_back(
    gap_s: int,
) -> None:
    """The shrunk history the simulation found: FTD 5.00 with the registration, a chargeback
    of that FTD, then a deposit of 20.73 the operator labels 'ftd'.  The player's first
    deposit, 5.00, is its FTD and is under 20.00: the CPA is rejected for good when it
    arrives.  The chargeback touches no commission; 20.73 is a second deposit.  Nothing is
    paid, whether the three batches arrive in one second or a second apart."""
    world = build_world()
    world.gap_s = gap_s
    _send(world, [[_ftd("f1", "u1", "5"), _registration(world, "r1", "u1")],
                  [_chargeback("c1", "u1", "f1")],
                  [_ftd("f2", "u1", "20.73")]])
    assert _lines(world) == []
    assert _conversion(world, "u1") == ("rejected", "FTD 5 < 20")
    _rebuild_equals_live(world)


@pytest.mark.parametrize("gap_s", [0, 1])
def test_a_chargeback_of_a_paid_ftd_reverses_the_cpa_and_its_share_for_good(gap_s: int) -> None:
    """FTD 50.00 pays CPA 75.00 to Mid and 7.50 (10 %) to Top; the chargeback reverses both
    and the later 'ftd' of 20.73 pays nothing: the conversion is reversed.  The same events
    in one batch give the same lines."""
    expected = [("Mid", "commission hybrid", "u1", 7500),
                ("Mid", "reversal hybrid", "u1", -7500),
                ("Top", "commission sub_affiliate", "u1", 750),
                ("Top", "reversal sub_affiliate", "u1", -750)]
    apart = build_world()
    apart.gap_s = gap_s
    _send(apart, [[_registration(apart, "r1", "u1"), _ftd("f1", "u1", "50")],
                  [_chargeback("c1", "u1", "f1")],
                  [_ftd("f2", "u1", "20.73")]])
    together = build_world()
    _send(together, [[_registration(together, "r1", "u1"), _ftd("f1", "u1", "50"),
                      _chargeback("c1", "u1", "f1"), _ftd("f2", "u1", "20.73")]])
    assert _lines(apart) == _lines(together) == expected
    assert _conversion(apart, "u1")[0] == _conversion(together, "u1")[0] == "reversed"
    _rebuild_equals_live(apart)
    _rebuild_equals_live(together)


@pytest.mark.parametrize("gap_s", [0, 1])
def test_an_ftd_sent_before_its_registration_is_ranked_when_the_registration_arrives(
    gap_s: int,
) -> None:
    """u1's FTD (50.00) arrives first but u1 has no affiliate until its registration, which
    comes after u2 registered and qualified (FTD 30.00).  u2 is Mid's first qualified player
    of January (75.00), u1 the second (90.00); Top takes 7.50 and 9.00."""
    world = build_world()
    world.gap_s = gap_s
    _send(world, [[_ftd("f1", "u1", "50")],
                  [_registration(world, "r2", "u2"), _ftd("f2", "u2", "30")],
                  [_registration(world, "r1", "u1")]])
    assert _lines(world) == [("Mid", "commission hybrid", "u1", 9000),
                             ("Mid", "commission hybrid", "u2", 7500),
                             ("Top", "commission sub_affiliate", "u1", 900),
                             ("Top", "commission sub_affiliate", "u2", 750)]
    _rebuild_equals_live(world)
