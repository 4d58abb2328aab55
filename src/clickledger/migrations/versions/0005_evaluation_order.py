"""evaluation order: the steps live evaluation took, and the paid-conversion count index

``evaluation_steps`` records, in the order live evaluation happened, every step
that changes what the commission engine pays: a batch of arriving events (which
events arrived, which earlier ones were evaluated with them, which players were
bound), a manager's remap, a conversion rejection, a period close.  ``seq`` is
assigned inside the step's transaction, under the lock that serialises
evaluation (SQLite: the write lock; PostgreSQL: advisory locks, see
``services.evaluation_order``), so ``ledger rebuild`` replays the steps in the
order they were taken whatever the batching or the number of server processes.
Rows stored before this revision have no step: the rebuild replays them first,
in their deterministic arrival order (``received_at``, then the event id).

Tiered CPA and caps count paid conversions per affiliate and period on every
evaluation: ``ix_conversions_affiliate_period`` (affiliate_id, period_start)
serves that count (it read every conversion the affiliate ever had through
``ix_conversions_affiliate_id``) and replaces that index, whose leading column
it shares.

Revision ID: 0005_evaluation_order
Revises: 0004_fraud_day_counters
Create Date: 2026-11-29 02:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_evaluation_order"
down_revision: str | None = "0004_fraud_day_counters"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEQ_TYPE = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # SQLite: the rowid


def upgrade() -> None:
    op.create_table(
        "evaluation_steps",
        sa.Column("seq", SEQ_TYPE, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_evaluation_steps")),
    )
    op.create_index("ix_conversions_affiliate_period", "conversions",
                    ["affiliate_id", "period_start"], unique=False)
    op.drop_index("ix_conversions_affiliate_id", table_name="conversions")


def downgrade() -> None:
    op.create_index("ix_conversions_affiliate_id", "conversions", ["affiliate_id"],
                    unique=False)
    op.drop_index("ix_conversions_affiliate_period", table_name="conversions")
    op.drop_table("evaluation_steps")
