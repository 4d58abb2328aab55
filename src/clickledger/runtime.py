"""The process runtime handed to every entrypoint: settings, database engine and clock."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import sqlalchemy as sa

from clickledger.clock import Clock, SystemClock
from clickledger.settings import Settings
from clickledger.store import migrate
from clickledger.store.engine import create_engine, create_reports_engine
from clickledger.store.report_reads import report_connection


@dataclass
class Runtime:
    settings: Settings
    engine: sa.Engine
    clock: Clock = field(default_factory=SystemClock)
    reports_engine: sa.Engine | None = None  # a read replica for reports, when configured

    @classmethod
    def open(
        cls, settings: Settings, clock: Clock | None = None, migrate_db: bool = True
    ) -> Runtime:
        """Connect to the configured database, creating or upgrading it when asked."""
        engine = create_engine(settings.database_url)
        if migrate_db:
            migrate.upgrade(engine)
        reports = settings.reports_database_url
        return cls(settings=settings, engine=engine, clock=clock or SystemClock(),
                   reports_engine=create_reports_engine(reports) if reports else None)

    @contextmanager
    def report_connection(self) -> Iterator[sa.Connection]:
        """Where a report reads: the replica when configured, else the main database."""
        with report_connection(self.engine, self.reports_engine, self.clock.now()) as conn:
            yield conn
