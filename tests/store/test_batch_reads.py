"""Batch reads below Core: the keys go as one parameter, values come back as Core gives them
(canonical id text, aware UTC times, parsed JSON) — on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from clickledger.ids import new_id
from clickledger.store import tables as t
from clickledger.store.batch_reads import BatchRead, codec, driver_execute

AT = datetime(2026, 3, 4, 5, 6, 7, 890, tzinfo=UTC)
BRANDS = BatchRead("SELECT id, name, created_at FROM brands WHERE id {ids}")
BY_NAME = BatchRead("SELECT id, name FROM brands WHERE kind = ? AND name {texts}")
MAPS = BatchRead("SELECT parameter_map FROM integrations WHERE brand_id = ?")


def _brands(conn: sa.Connection, names: list[str]) -> dict[str, str]:
    ids = {name: new_id() for name in names}
    for name, brand_id in ids.items():
        conn.execute(
            t.brands.insert().values(
                id=brand_id,
                name=name,
                kind="casino",
                default_currency="EUR",
                created_at=AT,
                updated_at=AT,
            )
        )
    return ids


def test_rows_named_by_id_come_back_with_canonical_ids_and_utc_times(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        ids = _brands(conn, ["alpha", "beta", "gamma"])
        c = codec(conn)
        rows = BRANDS.rows(conn, c.id_list([ids["alpha"], ids["gamma"], new_id()]))
        found = {c.id_text(brand_id): (name, c.moment(at)) for brand_id, name, at in rows}
        none = BRANDS.rows(conn, c.id_list([]))
    assert found == {ids["alpha"]: ("alpha", AT), ids["gamma"]: ("gamma", AT)}
    assert all(moment.tzinfo is UTC for _, moment in found.values())
    assert list(none) == []


def test_rows_named_by_text_and_a_plain_parameter(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        ids = _brands(conn, ["one", "two", "it's three"])
        c = codec(conn)
        rows = BY_NAME.rows(conn, "casino", c.text_list(["two", "it's three", "four"]))
        broker_rows = BY_NAME.rows(conn, "broker", c.text_list(["two"]))
    assert {(c.id_text(i), name) for i, name in rows} == {
        (ids["two"], "two"),
        (ids["it's three"], "it's three"),
    }
    assert list(broker_rows) == []


def test_an_id_parameter_and_a_json_column(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        brand_id = _brands(conn, ["json"])["json"]
        conn.execute(
            t.integrations.insert().values(
                id=new_id(),
                brand_id=brand_id,
                name="op",
                signing_secret="s",
                parameter_map={"sum": "amount", "n": 2},
                created_at=AT,
                updated_at=AT,
            )
        )
        c = codec(conn)
        (row,) = MAPS.rows(conn, c.id_param(brand_id))
    assert c.json(row[0]) == {"sum": "amount", "n": 2}
    assert c.id_or_none(None) is None


# --- driver_execute: the driver's cursor, with SQLAlchemy's transaction and errors ---------

_COUNT_BRANDS = "SELECT count(*) FROM brands"
_INSERT_BRAND = ("INSERT INTO brands (id, name, kind, default_currency, created_at, updated_at)"
                 " VALUES (?, ?, ?, ?, ?, ?)")


def test_a_driver_write_as_the_first_statement_is_committed_with_the_connection(
    engine: sa.Engine,
) -> None:
    insert = _INSERT_BRAND if engine.dialect.name == "sqlite" else _INSERT_BRAND.replace("?", "%s")
    stamp = "2026-03-04 05:06:07" if engine.dialect.name == "sqlite" else AT
    brand_id = new_id()
    with engine.connect() as conn:  # commit as you go: nothing begun before the driver runs
        written = driver_execute(
            conn,
            insert,
            [(codec(conn).id_param(brand_id), "driver", "casino", "EUR", stamp, stamp)],
            many=True,
        ).rowcount
        conn.commit()
    with engine.connect() as conn:
        names = conn.execute(sa.select(t.brands.c.name).where(t.brands.c.id == brand_id))
        assert written == 1 and names.scalars().all() == ["driver"]


def test_a_driver_error_is_raised_as_sqlalchemys(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        try:
            driver_execute(conn, "SELECT no_such_column FROM brands", ())
        except sa.exc.DBAPIError as exc:
            assert isinstance(exc.orig, conn.dialect.loaded_dbapi.Error)
        else:
            raise AssertionError("the bad statement ran")


def test_statements_are_seen_by_listeners_when_someone_listens(engine: sa.Engine) -> None:
    seen: list[str] = []
    with engine.begin() as conn:
        _brands(conn, ["listened"])
        sa.event.listen(conn, "before_cursor_execute", lambda *args: seen.append(args[2]))
        (count,) = driver_execute(conn, _COUNT_BRANDS, ()).fetchall()[0]
        rows = BRANDS.rows(conn, codec(conn).id_list([new_id()]))
    assert count >= 1 and list(rows) == []
    assert seen[0] == _COUNT_BRANDS and len(seen) == 2
