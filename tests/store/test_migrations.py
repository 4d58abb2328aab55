"""Migrations build every supported database from empty, match the table definitions,
and upgrade an older database."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from clickledger.store import migrate
from clickledger.store.engine import create_engine
from clickledger.store.tables import metadata


def test_an_empty_database_is_migrated_to_head_and_matches_the_tables(database_url: str) -> None:
    engine = create_engine(database_url)
    assert migrate.current_revision(engine) is None
    migrate.upgrade(engine)
    assert migrate.is_up_to_date(engine)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []
    engine.dispose()


def test_upgrading_twice_changes_nothing_and_downgrade_then_upgrade_round_trips(
    database_url: str,
) -> None:
    engine = create_engine(database_url)
    migrate.upgrade(engine)
    migrate.upgrade(engine)
    migrate.downgrade(engine, "base")
    assert "brands" not in sa.inspect(engine).get_table_names()
    migrate.upgrade(engine)
    assert set(metadata.tables) <= set(sa.inspect(engine).get_table_names())
    engine.dispose()


def test_the_embedded_default_is_a_wal_sqlite_file_created_on_first_use(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "nested" / "clickledger.db"
    engine = create_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    assert path.exists()
    with engine.connect() as conn:
        assert conn.execute(sa.text("PRAGMA journal_mode")).scalar() == "wal"
    engine.dispose()
