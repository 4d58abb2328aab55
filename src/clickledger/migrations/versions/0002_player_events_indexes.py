"""player_events: drop the unread (brand, operator player) index; reversals index only reversals

Every secondary index of player_events costs each inserted event (postback or
import) a B-tree insert.  ``ix_player_events_brand_player`` served no query:
nothing reads events by the operator's player id (players are found in
``players``), and the brand's events are found through its integrations with
the unique (integration_id, txn_id) index.  ``ix_player_events_reverses`` is
read only with ``reverses_txn_id = …`` / ``IN (…)`` (chargebacks and reversals
naming their target), so it now holds only the rows that have one: partial,
``WHERE reverses_txn_id IS NOT NULL`` (SQLite and PostgreSQL both use a partial
index when the query's condition implies its predicate).

Revision ID: 0002_player_events_indexes
Revises: 0001_initial
Create Date: 2026-11-29 00:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_player_events_indexes"
down_revision: str | None = "0001_initial"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HAS_REVERSED = sa.text("reverses_txn_id IS NOT NULL")


def upgrade() -> None:
    op.drop_index("ix_player_events_brand_player", table_name="player_events")
    op.drop_index("ix_player_events_reverses", table_name="player_events")
    op.create_index(
        "ix_player_events_reverses",
        "player_events",
        ["integration_id", "reverses_txn_id"],
        unique=False,
        sqlite_where=HAS_REVERSED,
        postgresql_where=HAS_REVERSED,
    )


def downgrade() -> None:
    op.drop_index("ix_player_events_reverses", table_name="player_events")
    op.create_index(
        "ix_player_events_reverses",
        "player_events",
        ["integration_id", "reverses_txn_id"],
        unique=False,
    )
    op.create_index(
        "ix_player_events_brand_player",
        "player_events",
        ["brand_id", "operator_player_id"],
        unique=False,
    )
