"""fraud counters: day buckets for the baselines, filled from the hour buckets

The click-flooding baselines (a link's and a sub-id's clicks over the seven
completed days before a click) and the conversion-rate windows (an affiliate's
and the programme's clicks and FTDs over thirty-seven days) are day-aligned, yet
were summed from hour buckets: up to 888 rows per window.  The fraud worker now
reads and writes day buckets for them (``link_d``, ``sub_d``, ``aff_d``,
``all_d``, ``aff_ftd_d``, ``all_ftd_d``: the same sums from 7 to 37 rows);
``link_h`` and ``sub_h`` stay (a new link's first hour seen), and the other hour
dimensions are no longer written — their rows age out with the counters'
retention.  This revision fills the day buckets from the hour buckets already
counted, so no baseline starts empty (a day bucket that exists already is left as
it is).  No schema change.

Revision ID: 0004_fraud_day_counters
Revises: 0003_staff_report_rollups
Create Date: 2026-11-29 01:10:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0004_fraud_day_counters'
down_revision: str | None = '0003_staff_report_rollups'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HOUR_TO_DAY = (("link_h", "link_d"), ("sub_h", "sub_d"), ("aff_h", "aff_d"),
               ("all_h", "all_d"), ("aff_ftd_h", "aff_ftd_d"), ("all_ftd_h", "all_ftd_d"))


def _day(dialect: str) -> str:
    """The UTC day of ``bucket_at``, as each database stores a bucket start."""
    if dialect == "postgresql":
        return "date_trunc('day', bucket_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"
    return "substr(bucket_at, 1, 10) || ' 00:00:00.000000'"  # SQLAlchemy's SQLite text form


def upgrade() -> None:
    day = _day(op.get_bind().dialect.name)
    for hour_dimension, day_dimension in HOUR_TO_DAY:
        op.execute(  # fixed names only
            "INSERT INTO fraud_click_counts (dimension, key, bucket_at, clicks)"  # noqa: S608
            f" SELECT '{day_dimension}', key, {day}, sum(clicks) FROM fraud_click_counts"
            f" WHERE dimension = '{hour_dimension}' GROUP BY key, {day}"
            " ON CONFLICT (dimension, key, bucket_at) DO NOTHING")  # a day already kept


def downgrade() -> None:
    days = ", ".join(f"'{day_dimension}'" for _hour, day_dimension in HOUR_TO_DAY)
    op.execute(f"DELETE FROM fraud_click_counts WHERE dimension IN ({days})")  # noqa: S608
