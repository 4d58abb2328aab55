"""player_events keeps only the indexes its readers use (each one costs every inserted
event): reversal look-ups use the partial reversals index, a brand's events are found
through the unique (integration, txn id) index, and no index on the operator's player id."""

from __future__ import annotations

import sqlalchemy as sa

REVERSAL_LOOKUP = (
    "SELECT id FROM player_events WHERE integration_id IN ({i}) AND reverses_txn_id IN ('D1', 'D2')"
)
BRAND_KEYS = (
    "SELECT txn_id FROM player_events WHERE integration_id IN "
    "(SELECT id FROM integrations WHERE brand_id = {i}) AND txn_id IN ('D1', 'D2')"
)


def _indexes(conn: sa.Connection) -> dict[str, str]:
    if conn.dialect.name == "postgresql":
        rows = conn.exec_driver_sql(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'player_events'"
        )
    else:
        rows = conn.exec_driver_sql(
            "SELECT name, coalesce(sql, '') FROM sqlite_master "
            "WHERE type = 'index' AND tbl_name = 'player_events'"
        )
    return {str(name): str(definition) for name, definition in rows}


def test_the_reversals_index_holds_only_rows_naming_a_reversed_transaction(
    engine: sa.Engine,
) -> None:
    with engine.connect() as conn:
        indexes = _indexes(conn)
    assert "ix_player_events_brand_player" not in indexes
    assert "reverses_txn_id IS NOT NULL" in indexes["ix_player_events_reverses"]
    assert "ix_player_events_player_id" in indexes


def test_sqlite_reads_reversals_and_brand_keys_through_an_index(engine: sa.Engine) -> None:
    if engine.dialect.name != "sqlite":
        return  # PostgreSQL's plans depend on its statistics; the definitions are checked above
    nil = "x'00'"
    with engine.connect() as conn:
        plans = {
            name: " | ".join(
                str(row[3])
                for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql.format(i=nil))
            )
            for name, sql in (("reversal", REVERSAL_LOOKUP), ("brand", BRAND_KEYS))
        }
    assert "ix_player_events_reverses (integration_id=? AND reverses_txn_id=?)" in plans["reversal"]
    assert "sqlite_autoindex_player_events_2 (integration_id=? AND txn_id=?)" in plans["brand"]
