"""catalogue version: a change counter for the deal catalogue, and the rank count's index

Every flush checked whether the deal catalogue it keeps cached (assignments,
deal versions, deals, affiliates' parents) was still current with one query
summarising all of ``affiliates``, ``deals``, ``deal_versions`` and
``deal_assignments``: a pass over each, growing with the programme.
``catalogue_version`` is one row (id 1) whose ``version`` the database itself
bumps, through triggers, on every insert, update or delete of those four tables
(PostgreSQL: per statement, TRUNCATE included; SQLite: per row), whichever
process makes the change; the check is now a primary-key read of one integer.
The counter starts at a random value, so a database created afresh never matches
a catalogue cached for an earlier one at the same address.

Tiered CPA and caps count an affiliate's paid conversions of a period, by kind
and deal, on every evaluation that needs a rank:
``ix_conversions_affiliate_period_paid`` (affiliate_id, period_start, kind,
deal_id, status) answers it from the index alone, in the GROUP BY's order (no
sort: 4-5x faster than with ``status`` third, on SQLite); it replaces
``ix_conversions_affiliate_period`` (0005), its prefix.

Revision ID: 0006_catalogue_version
Revises: 0005_evaluation_order
Create Date: 2026-11-29 03:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_catalogue_version"
down_revision: str | None = "0005_evaluation_order"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The same statements as ``store.tables`` (keep both identical).
CATALOGUE_TABLES = ("affiliates", "deals", "deal_versions", "deal_assignments")
OPERATIONS = ("INSERT", "UPDATE", "DELETE")
BUMP = "UPDATE catalogue_version SET version = version + 1 WHERE id = 1"
START = {
    "sqlite": "INSERT INTO catalogue_version (id, version)"
              " VALUES (1, random() & 1125899906842623)",  # 0 … 2**50 - 1
    "postgresql": "INSERT INTO catalogue_version (id, version)"
                  " VALUES (1, floor(random() * 1000000000000000)::bigint)",
}


def _triggers(dialect: str) -> list[str]:
    if dialect == "sqlite":
        return [f"CREATE TRIGGER catalogue_version_{table}_{operation.lower()}"
                f" AFTER {operation} ON {table} BEGIN {BUMP}; END"
                for table in CATALOGUE_TABLES for operation in OPERATIONS]
    return ["CREATE OR REPLACE FUNCTION catalogue_version_bump() RETURNS trigger"
            f" LANGUAGE plpgsql AS $$ BEGIN {BUMP}; RETURN NULL; END $$",
            *(f"CREATE TRIGGER catalogue_version_{table} AFTER INSERT OR UPDATE OR DELETE"
              f" OR TRUNCATE ON {table} FOR EACH STATEMENT"
              " EXECUTE FUNCTION catalogue_version_bump()" for table in CATALOGUE_TABLES)]


def _drop_triggers(dialect: str) -> list[str]:
    if dialect == "sqlite":
        return [f"DROP TRIGGER IF EXISTS catalogue_version_{table}_{operation.lower()}"
                for table in CATALOGUE_TABLES for operation in OPERATIONS]
    return [*(f"DROP TRIGGER IF EXISTS catalogue_version_{table} ON {table}"
              for table in CATALOGUE_TABLES),
            "DROP FUNCTION IF EXISTS catalogue_version_bump()"]


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.create_table(
        "catalogue_version",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalogue_version")),
    )
    op.execute(START[dialect])
    for statement in _triggers(dialect):
        op.execute(statement)
    op.create_index("ix_conversions_affiliate_period_paid", "conversions",
                    ["affiliate_id", "period_start", "kind", "deal_id", "status"],
                    unique=False)
    op.drop_index("ix_conversions_affiliate_period", table_name="conversions")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.create_index("ix_conversions_affiliate_period", "conversions",
                    ["affiliate_id", "period_start"], unique=False)
    op.drop_index("ix_conversions_affiliate_period_paid", table_name="conversions")
    for statement in _drop_triggers(dialect):
        op.execute(statement)
    op.drop_table("catalogue_version")
