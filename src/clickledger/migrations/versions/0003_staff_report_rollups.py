"""report_rollups_staff: the daily report rollup summed over every affiliate, for staff views

A manager's report over every affiliate used to read and sum one
``report_rollups_daily`` row per affiliate, day and dimension value (57,600 rows for
a 30-day breakdown by hour with 40 affiliates), so its cost grew with the number of
affiliates.  ``report_rollups_staff`` holds the same figures summed over affiliates,
written by the same upserts (``store.reports.Folder``); this revision fills it from
the existing rows.  ``ix_report_rollups_daily_dim_day`` served only those staff reads
(affiliate reads use the primary key) and is dropped: one B-tree less per new row.

Revision ID: 0003_staff_report_rollups
Revises: 0002_player_events_indexes
Create Date: 2026-11-29 00:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_staff_report_rollups"
down_revision: str | None = "0002_player_events_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

METRICS = (
    "clicks",
    "unique_clicks",
    "registrations",
    "ftds",
    "qualified_cpas",
    "ftd_amount_minor",
    "deposits_minor",
    "bets_minor",
    "wins_minor",
    "bonus_minor",
    "chargebacks_minor",
    "lots_milli",
    "commission_minor",
)


def upgrade() -> None:
    op.create_table(
        "report_rollups_staff",
        sa.Column("dim", sa.String(length=8), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        sa.Column("currency", sa.String(length=4), nullable=False),
        *[sa.Column(name, sa.BigInteger(), server_default="0", nullable=False) for name in METRICS],
        sa.PrimaryKeyConstraint(
            "dim", "day", "value", "currency", name=op.f("pk_report_rollups_staff")
        ),
    )
    columns = ", ".join(METRICS)
    sums = ", ".join(f"sum({name})" for name in METRICS)
    op.execute(  # fixed names only
        f"INSERT INTO report_rollups_staff (dim, day, value, currency, {columns})"  # noqa: S608
        f" SELECT dim, day, value, currency, {sums} FROM report_rollups_daily"
        " GROUP BY dim, day, value, currency"
    )
    op.drop_index("ix_report_rollups_daily_dim_day", table_name="report_rollups_daily")


def downgrade() -> None:
    op.create_index(
        "ix_report_rollups_daily_dim_day", "report_rollups_daily", ["dim", "day"], unique=False
    )
    op.drop_table("report_rollups_staff")
