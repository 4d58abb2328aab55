"""The deal catalogue's change counter: the database itself counts every change to the
programme (affiliates, deals, versions, assignments), so a change made by another process —
the admin API beside the postback writer — shows in the very next evaluation, and the check
is one primary-key read; the rank count of tiered deals is answered from one index."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from clickledger.ids import new_id
from clickledger.store import deals as deal_store
from clickledger.store import evaluation_reads, migrate
from clickledger.store import tables as t
from clickledger.store.batch_reads import codec, driver_execute
from clickledger.store.engine import create_engine
from commission_builder import T0, World, at

CPL = {"amount": "5"}
COUNTER = sa.select(t.catalogue_version.c.version).where(t.catalogue_version.c.id == 1)


def _counter(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(COUNTER).scalar_one())


@pytest.fixture
def admin_engine(engine: sa.Engine) -> Iterator[sa.Engine]:
    """A second engine on the same database: the admin API in another process."""
    other = create_engine(engine.url.render_as_string(hide_password=False))
    try:
        yield other
    finally:
        other.dispose()


def test_a_deal_version_added_by_another_process_pays_the_next_evaluation(
    engine: sa.Engine, admin_engine: sa.Engine,
) -> None:
    writer, admin = World(engine), World(admin_engine)
    brand = writer.brand()  # the operator's integration: the writer's side
    alice = admin.affiliate("Alice")
    deal = admin.deal(brand, "cpl", CPL)
    admin.assign(alice, deal)
    writer.evaluate(writer.event(writer.player(brand, alice, at(2)), "registration", at(2)))
    assert [row.amount_minor for row in writer.entries(alice)] == [500]  # catalogue cached

    admin.version(deal, {"amount": "7"}, at(3), 2)
    writer.evaluate(writer.event(writer.player(brand, alice, at(4)), "registration", at(4)))
    assert sorted(row.amount_minor for row in writer.entries(alice)) == [500, 700]


def test_an_assignment_ended_by_another_process_stops_paying_at_once(
    engine: sa.Engine, admin_engine: sa.Engine,
) -> None:
    writer = World(engine)
    brand = writer.brand()
    alice = writer.affiliate("Alice")
    assignment = writer.assign(alice, writer.deal(brand, "cpl", CPL))
    writer.evaluate(writer.event(writer.player(brand, alice, at(2)), "registration", at(2)))
    with admin_engine.begin() as conn:  # no updated_at anywhere: the triggers still count it
        conn.execute(t.deal_assignments.update().where(t.deal_assignments.c.id == assignment)
                     .values(effective_to=at(3)))
    writer.evaluate(writer.event(writer.player(brand, alice, at(4)), "registration", at(4)))
    assert [row.amount_minor for row in writer.entries(alice)] == [500]


def test_every_change_to_the_programme_moves_the_counter_and_nothing_else_does(
    engine: sa.Engine,
) -> None:
    world = World(engine)
    brand = world.brand()
    moves: list[int] = []

    def moved(change: sa.Executable) -> None:
        before = _counter(engine)
        with engine.begin() as conn:
            conn.execute(change)
        moves.append(_counter(engine) - before)

    alice = world.affiliate("Alice")
    deal = world.deal(brand, "cpl", CPL)
    version = new_id()
    moved(t.deal_versions.insert().values(id=version, deal_id=deal, version=2,
                                          effective_from=at(3), terms=CPL, created_at=T0))
    assignment = world.assign(alice, deal)
    moved(t.deals.update().where(t.deals.c.id == deal).values(name="CPL 5 (renamed)"))
    moved(t.affiliates.update().where(t.affiliates.c.id == alice).values(name="Alice B."))
    moved(t.deal_assignments.update().where(t.deal_assignments.c.id == assignment)
          .values(overrides={"amount": "6"}))
    moved(t.deal_assignments.delete().where(t.deal_assignments.c.id == assignment))
    moved(t.deal_versions.delete().where(t.deal_versions.c.id == version))
    moved(t.affiliates.insert().values(id=new_id(), name="Bob", email="bob@example.com",
                                       status="active", payout_currency="EUR",
                                       created_at=T0, updated_at=T0))
    assert all(move >= 1 for move in moves), moves

    before = _counter(engine)
    world.player(brand, alice, at(5))  # players, events and periods are not the catalogue
    world.fx(at(5).date(), "USD", "EUR", "0.9")
    assert _counter(engine) == before


def test_an_unchanged_programme_is_checked_with_one_read_of_the_counter(
    engine: sa.Engine,
) -> None:
    world = World(engine)
    world.assign(world.affiliate("Alice"), world.deal(world.brand(), "cpl", CPL))
    statements: list[str] = []
    with engine.connect() as conn:
        sa.event.listen(conn, "before_cursor_execute",
                        lambda *args: statements.append(str(args[2])))
        first = deal_store.catalogue(conn)
        assert deal_store.catalogue(conn) is first
    assert statements == ["SELECT version FROM catalogue_version WHERE id = 1"] * 2


def test_the_revision_downgrades_to_no_counter_and_upgrades_to_a_working_one(
    database_url: str,
) -> None:
    engine = create_engine(database_url)
    try:
        migrate.upgrade(engine)
        migrate.downgrade(engine, "0005_evaluation_order")
        inspector = sa.inspect(engine)
        assert "catalogue_version" not in inspector.get_table_names()
        assert "ix_conversions_affiliate_period" in {
            index["name"] for index in inspector.get_indexes("conversions")}
        World(engine).affiliate("Alice")  # no trigger left behind naming the dropped table
        migrate.upgrade(engine)
        before = _counter(engine)
        World(engine).affiliate("Bob")
        assert _counter(engine) == before + 1
    finally:
        engine.dispose()


def test_the_rank_count_reads_only_its_index(engine: sa.Engine) -> None:
    world = World(engine)
    alice = world.affiliate("Alice")
    with engine.begin() as conn:
        sql = evaluation_reads._PAID.sql[engine.dialect.name]  # the statement the engine runs
        params = (codec(conn).id_list([alice]), evaluation_reads._time_param(conn, at(1)))
        if engine.dialect.name == "sqlite":
            plan = " ".join(str(row[-1]) for row in driver_execute(
                conn, f"EXPLAIN QUERY PLAN {sql}", params).fetchall())
            assert "USING COVERING INDEX ix_conversions_affiliate_period_paid" in plan, plan
        else:  # an empty table: forbid the plans PostgreSQL prefers on so few rows
            conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
            conn.exec_driver_sql("SET LOCAL enable_bitmapscan = off")
            plan = " ".join(str(row[0]) for row in driver_execute(
                conn, f"EXPLAIN {sql}", params).fetchall())
            assert "Index Only Scan using ix_conversions_affiliate_period_paid" in plan, plan
        assert evaluation_reads.paid_conversions(conn, [alice], at(1)) == {}
