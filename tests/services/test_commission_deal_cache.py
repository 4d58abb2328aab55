"""The engine keeps deals, assignments and parents between calls: every change to them must
show in the very next evaluation, on both databases, and an unchanged programme is not
re-read."""

from __future__ import annotations

import sqlalchemy as sa

from clickledger.store import deals as deal_store
from clickledger.store import tables as t
from commission_builder import World, at

CPL = {"amount": "5"}


def _lines(world: World, affiliate_id: str) -> dict[str, int]:
    return {row.entry_key.split(":")[0]: row.amount_minor for row in world.entries(affiliate_id)}


def test_a_deal_assigned_between_two_calls_pays_the_next_lead(engine: sa.Engine) -> None:
    world = World(engine)
    brand = world.brand()
    alice = world.affiliate("Alice")
    first = world.player(brand, alice, at(2))
    world.evaluate(world.event(first, "registration", at(2)))
    assert world.entries(alice) == []  # no deal yet (and the empty catalogue is now cached)
    world.assign(alice, world.deal(brand, "cpl", CPL))
    second = world.player(brand, alice, at(3))
    world.evaluate(world.event(second, "registration", at(3)))
    assert [row.amount_minor for row in world.entries(alice)] == [500]


def test_a_new_version_and_an_ended_assignment_apply_at_once(engine: sa.Engine) -> None:
    world = World(engine)
    brand = world.brand()
    alice = world.affiliate("Alice")
    deal = world.deal(brand, "cpl", CPL)
    assignment = world.assign(alice, deal)
    world.evaluate(world.event(world.player(brand, alice, at(2)), "registration", at(2)))
    world.version(deal, {"amount": "7"}, at(3), 2)
    world.evaluate(world.event(world.player(brand, alice, at(4)), "registration", at(4)))
    assert sorted(row.amount_minor for row in world.entries(alice)) == [500, 700]
    with engine.begin() as conn:  # a direct update, as a manager's tool might make
        conn.execute(t.deal_assignments.update().where(t.deal_assignments.c.id == assignment)
                     .values(effective_to=at(5)))
    world.evaluate(world.event(world.player(brand, alice, at(6)), "registration", at(6)))
    assert len(world.entries(alice)) == 2  # the ended assignment pays nothing more


def test_a_new_parent_earns_its_share_from_the_next_line(engine: sa.Engine) -> None:
    world = World(engine)
    brand = world.brand()
    boss = world.affiliate("Boss")
    alice = world.affiliate("Alice")
    world.assign(alice, world.deal(brand, "cpl", CPL))
    world.assign(boss, world.deal(brand, "sub_affiliate", {"levels_pct": ["10"]}))
    world.evaluate(world.event(world.player(brand, alice, at(2)), "registration", at(2)))
    assert world.entries(boss) == []
    with engine.begin() as conn:
        conn.execute(t.affiliates.update().where(t.affiliates.c.id == alice)
                     .values(parent_id=boss, updated_at=at(3)))
    world.evaluate(world.event(world.player(brand, alice, at(4)), "registration", at(4)))
    assert [row.amount_minor for row in world.entries(boss)] == [50]


def test_an_unchanged_programme_is_read_once_and_shared(engine: sa.Engine) -> None:
    world = World(engine)
    brand = world.brand()
    alice = world.affiliate("Alice")
    world.assign(alice, world.deal(brand, "cpl", CPL))
    world.evaluate(world.event(world.player(brand, alice, at(2)), "registration", at(2)))
    with engine.connect() as conn:
        first = deal_store.catalogue(conn)
        second = deal_store.catalogue(conn)
    assert first is second and alice in first.assignments
    world.affiliate("Bob")  # any affiliate change starts a fresh catalogue
    with engine.connect() as conn:
        assert deal_store.catalogue(conn) is not first
