"""Alembic environment: runs against the engine handed over by ``store.migrate``."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from clickledger.store.tables import metadata

POSTGRES_MIGRATION_LOCK = 7_400_112_233  # advisory lock: one migrating process at a time


def run_migrations_online() -> None:
    engine: sa.Engine = context.config.attributes["engine"]
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(sa.text(f"SELECT pg_advisory_lock({POSTGRES_MIGRATION_LOCK})"))
            connection.commit()
        try:
            context.configure(
                connection=connection,
                target_metadata=metadata,
                render_as_batch=connection.dialect.name == "sqlite",
                compare_type=True,
            )
            with context.begin_transaction():
                context.run_migrations()
            connection.commit()
        finally:
            if connection.dialect.name == "postgresql":
                connection.execute(
                    sa.text(f"SELECT pg_advisory_unlock({POSTGRES_MIGRATION_LOCK})")
                )
                connection.commit()


run_migrations_online()
