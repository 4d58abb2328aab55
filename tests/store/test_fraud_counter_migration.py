"""Upgrading a database whose fraud counters were kept by the hour (revision 0003) fills the
day buckets the fraud worker now reads, so no link's baseline or affiliate's history starts
empty; a downgrade takes them away again; SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from clickledger.clock import utc
from clickledger.store import migrate
from clickledger.store import tables as t
from clickledger.store.engine import create_engine


def at(day: int, hour: int) -> datetime:
    return datetime(2026, 3, day, hour, tzinfo=UTC)


HOUR_ROWS = [  # what the old click counting left: clicks per hour (and one day)
    ("link_h", "link-1", at(1, 10), 3),
    ("link_h", "link-1", at(1, 23), 2),  # the last hour of 1 March
    ("link_h", "link-1", at(2, 0), 4),  # the first of 2 March
    ("sub_h", "link-1|spring", at(1, 10), 3),
    ("aff_h", "aff-1", at(1, 10), 3),
    ("aff_h", "aff-1", at(2, 0), 4),
    ("all_h", "", at(1, 10), 7),
    ("aff_ftd_h", "aff-1", at(2, 5), 1),
    ("all_ftd_h", "", at(2, 5), 2),
    ("ip", "192.0.2.1", at(2, 0), 4),  # minute buckets are not touched
    ("sub_d", "link-1|spring", at(2, 0), 9),  # a day already kept is left as it is
]


def day_rows(engine: sa.Engine) -> dict[tuple[str, str, datetime], int]:
    c = t.fraud_click_counts
    with engine.connect() as conn:
        rows = conn.execute(sa.select(c).where(c.c.dimension.like("%_d")))
        return {(r.dimension, r.key, utc(r.bucket_at)): r.clicks for r in rows}


def test_hour_counters_are_summed_into_day_buckets_on_upgrade(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        migrate.upgrade(engine, "0003_staff_report_rollups")
        with engine.begin() as conn:
            conn.execute(
                t.fraud_click_counts.insert(),
                [
                    {"dimension": d, "key": k, "bucket_at": b, "clicks": n}
                    for d, k, b, n in HOUR_ROWS
                ],
            )
        migrate.upgrade(engine)
        assert day_rows(engine) == {
            ("link_d", "link-1", at(1, 0)): 5,  # 3 + 2
            ("link_d", "link-1", at(2, 0)): 4,
            ("sub_d", "link-1|spring", at(1, 0)): 3,
            ("sub_d", "link-1|spring", at(2, 0)): 9,
            ("aff_d", "aff-1", at(1, 0)): 3,
            ("aff_d", "aff-1", at(2, 0)): 4,
            ("all_d", "", at(1, 0)): 7,
            ("aff_ftd_d", "aff-1", at(2, 0)): 1,
            ("all_ftd_d", "", at(2, 0)): 2,
        }
        migrate.downgrade(engine, "0003_staff_report_rollups")
        assert day_rows(engine) == {}
        with engine.connect() as conn:  # the hour and minute buckets are as they were
            left = conn.execute(sa.select(sa.func.count()).select_from(t.fraud_click_counts))
            assert left.scalar_one() == len(HOUR_ROWS) - 1
    finally:
        engine.dispose()
