"""Idempotent bulk inserts store exactly what Core stores, skip what exists, and count exactly
what they added — on SQLite and on PostgreSQL (the exactly-once guards rely on the count)."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from clickledger.ids import new_id
from clickledger.store import tables as t
from clickledger.store.inserts import PreparedInsert, insert_ignoring

COLUMNS = (
    "id",
    "name",
    "status",
    "pixel_key",
    "signing_secret",
    "require_signature",
    "parameter_map",
    "brand_id",
    "created_at",
    "updated_at",
)
AT = datetime(2026, 3, 4, 5, 6, 7, 890, tzinfo=UTC)


def _brand(conn: sa.Connection) -> str:
    brand_id = new_id()
    conn.execute(
        t.brands.insert().values(
            id=brand_id,
            name=f"b-{brand_id}",
            kind="casino",
            default_currency="EUR",
            created_at=AT,
            updated_at=AT,
        )
    )
    return brand_id


def _integration(brand_id: str, name: str, key: str | None = None) -> tuple[object, ...]:
    return (
        key or new_id(),
        name,
        "active",
        None,
        "s3cret",
        True,
        {"sum": "amount"},
        brand_id,
        AT,
        AT,
    )


def test_a_prepared_insert_stores_what_a_core_insert_stores_and_skips_conflicts(
    engine: sa.Engine,
) -> None:
    prepared = PreparedInsert(t.integrations, COLUMNS, ["id"])
    with engine.begin() as conn:
        brand_id = _brand(conn)
        fast = _integration(brand_id, "fast")
        core = _integration(brand_id, "core")
        assert prepared.run(conn, [fast]) == 1
        conn.execute(t.integrations.insert().values(dict(zip(COLUMNS, core, strict=True))))
        assert prepared.run(conn, [(fast[0], "again", *fast[2:])]) == 0  # conflict: skipped
        raw = {
            row[0]: row[1:]
            for row in conn.exec_driver_sql(
                "SELECT name, id, brand_id, created_at, parameter_map, require_signature "
                "FROM integrations"
            )
        }
        read = {row.name: row for row in conn.execute(sa.select(t.integrations))}
    assert set(raw) == {"fast", "core"}
    assert raw["fast"][1:] == raw["core"][1:]  # same stored form: ids, time, JSON, flag
    assert read["fast"].id == fast[0] and read["fast"].brand_id == brand_id
    assert read["fast"].parameter_map == {"sum": "amount"}
    assert read["fast"].created_at.replace(tzinfo=UTC) == AT


def test_the_count_is_exact_when_some_rows_exist_and_some_repeat_in_the_batch(
    engine: sa.Engine,
) -> None:
    prepared = PreparedInsert(t.integrations, COLUMNS, ["id"])
    with engine.begin() as conn:
        brand_id = _brand(conn)
        old = [_integration(brand_id, f"old-{n}") for n in range(3)]
        assert prepared.run(conn, old) == 3
        repeated = _integration(brand_id, "twice")
        fresh = [_integration(brand_id, f"new-{n}") for n in range(4)]
        # 2 already stored + 4 new + one new row sent twice: 5 rows are new, not 8
        assert prepared.run(conn, [old[0], *fresh, repeated, old[2], repeated]) == 5
        assert prepared.run(conn, []) == 0
        count = conn.execute(sa.select(sa.func.count()).select_from(t.integrations)).scalar()
    assert count == 8


def test_insert_ignoring_takes_dicts_and_a_missing_key_is_null(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        brand_id = _brand(conn)
        first, second = new_id(), new_id()
        rows = [
            {
                "id": first,
                "name": "with key",
                "pixel_key": "pk-1",
                "signing_secret": "s",
                "brand_id": brand_id,
                "created_at": AT,
                "updated_at": AT,
            },
            {
                "id": second,
                "name": "without key",
                "signing_secret": "s",
                "brand_id": brand_id,
                "created_at": AT,
                "updated_at": AT,
            },
        ]
        assert insert_ignoring(conn, t.integrations, rows, ["id"]) == 2
        assert insert_ignoring(conn, t.integrations, rows, ["id"]) == 0
        keys = {row.id: row.pixel_key for row in conn.execute(sa.select(t.integrations))}
    assert keys == {first: "pk-1", second: None}


def test_an_upsert_adds_to_the_stored_row(engine: sa.Engine) -> None:
    h = t.integration_health_hourly
    upsert = PreparedInsert(
        h,
        (
            "integration_id",
            "hour",
            "accepted",
            "duplicates",
            "rejected",
            "lag_ms_sum",
            "lag_ms_max",
        ),
        ["integration_id", "hour"],
        update=lambda table, new: {
            "accepted": table.c.accepted + new.accepted,
            "lag_ms_max": sa.case(
                (new.lag_ms_max > table.c.lag_ms_max, new.lag_ms_max), else_=table.c.lag_ms_max
            ),
        },
    )
    with engine.begin() as conn:
        brand_id = _brand(conn)
        integration = _integration(brand_id, "op")
        PreparedInsert(t.integrations, COLUMNS, ["id"]).run(conn, [integration])
        hour = datetime(2026, 3, 4, 5, tzinfo=UTC)
        assert upsert.run(conn, [(integration[0], hour, 3, 0, 0, 30, 20)]) == 1
        assert upsert.run(conn, [(integration[0], hour, 4, 0, 0, 10, 50)]) == 1
        accepted, lag_max = conn.execute(sa.select(h.c.accepted, h.c.lag_ms_max)).one()
    assert (accepted, lag_max) == (7, 50)  # 3 + 4 accepted; the larger of 20 and 50 ms
