"""The process runtime handed to every entrypoint: settings, database engine and clock."""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa

from clickledger.clock import Clock, SystemClock
from clickledger.settings import Settings
from clickledger.store import migrate
from clickledger.store.engine import create_engine


@dataclass
class Runtime:
    settings: Settings
    engine: sa.Engine
    clock: Clock = field(default_factory=SystemClock)

    @classmethod
    def open(
        cls, settings: Settings, clock: Clock | None = None, migrate_db: bool = True
    ) -> Runtime:
        """Connect to the configured database, creating or upgrading it when asked."""
        engine = create_engine(settings.database_url)
        if migrate_db:
            migrate.upgrade(engine)
        return cls(settings=settings, engine=engine, clock=clock or SystemClock())
