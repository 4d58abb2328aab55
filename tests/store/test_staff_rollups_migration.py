"""Upgrading a database that already has report rollups fills the staff rollup with their sums
over affiliates, so a manager's dashboard shows the same history after the upgrade."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from clickledger.ids import new_id
from clickledger.store import migrate
from clickledger.store.engine import create_engine

BEFORE = "0002_player_events_indexes"


def test_the_upgrade_sums_existing_affiliate_rows_into_the_staff_rollup(
    database_url: str,
) -> None:
    """Ann: 3 registrations and EUR 50.00 of deposits on 5 March; Bo: 2 and EUR 20.00 the
    same day, 1 registration the next: staff rows 5 / 5000 + 2000 and 1."""
    engine = create_engine(database_url)
    migrate.upgrade(engine, BEFORE)
    ann, bo = new_id(), new_id()
    rows = [
        (ann, "all", date(2026, 3, 5), "", "", 3, 0),
        (ann, "all", date(2026, 3, 5), "", "EUR", 0, 5000),
        (bo, "all", date(2026, 3, 5), "", "", 2, 0),
        (bo, "all", date(2026, 3, 5), "", "EUR", 0, 2000),
        (bo, "all", date(2026, 3, 6), "", "", 1, 0),
    ]
    columns = ("affiliate_id", "dim", "day", "value", "currency", "registrations", "deposits_minor")
    daily = sa.table("report_rollups_daily", *[sa.column(name) for name in columns])
    stored = (lambda a: a.replace("-", "")) if engine.dialect.name == "sqlite" else str
    with engine.begin() as conn:
        conn.execute(
            daily.insert(),
            [dict(zip(columns, (stored(row[0]), *row[1:]), strict=True)) for row in rows],
        )
    migrate.upgrade(engine)
    with engine.connect() as conn:
        staff = conn.execute(
            sa.text(
                "SELECT day, currency, registrations, deposits_minor, clicks"
                " FROM report_rollups_staff ORDER BY day, currency"
            )
        ).all()
    assert [(str(d)[:10], c, r, m, k) for d, c, r, m, k in staff] == [
        ("2026-03-05", "", 5, 0, 0),
        ("2026-03-05", "EUR", 0, 7000, 0),
        ("2026-03-06", "", 1, 0, 0),
    ]
    migrate.downgrade(engine, BEFORE)
    names = sa.inspect(engine).get_table_names()
    indexes = {ix["name"] for ix in sa.inspect(engine).get_indexes("report_rollups_daily")}
    assert "report_rollups_staff" not in names and "ix_report_rollups_daily_dim_day" in indexes
    engine.dispose()
