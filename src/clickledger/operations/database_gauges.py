"""Gauges read from the database for ``/metrics``: outbox depth, dead letters, ingestion lag.

Each query is cheap (the outbox counts use the ``(status, next_attempt_at)``
index; ingestion lag reads the last day of ``integration_health_hourly``) and
the snapshot is cached for ``metrics_db_cache_seconds``, so scrapers hitting
every app node cannot load the database.  A failed refresh keeps the previous
figures and reports ``clickledger_metrics_database_up 0``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa

from clickledger.clock import Clock, utc
from clickledger.store import tables as t

log = logging.getLogger(__name__)

LAG_WINDOW = timedelta(hours=1)  # lag: the current and the previous hour
LAST_EVENT_WINDOW = timedelta(days=7)  # "last event" is looked for this far back


@dataclass(frozen=True, slots=True)
class IntegrationLag:
    """One integration's recent ingestion lag (event time to arrival) and last arrival."""

    integration_id: str
    name: str
    lag_avg_s: float | None
    lag_max_s: float | None
    last_event_age_s: float | None


@dataclass
class DatabaseSnapshot:
    """What the last refresh read; ``up`` is False when it failed."""

    up: bool = False
    outbox_pending: int = 0
    outbox_dead: int = 0
    outbox_oldest_due_age_s: float = 0.0
    integrations: list[IntegrationLag] = field(default_factory=list)


def _age_s(now: datetime, then: datetime | None) -> float | None:
    return None if then is None else max(0.0, (now - utc(then)).total_seconds())


def _outbox(conn: sa.Connection, now: datetime, snapshot: DatabaseSnapshot) -> None:
    o = t.outbox
    snapshot.outbox_pending = int(conn.execute(
        sa.select(sa.func.count()).select_from(o).where(o.c.status == "pending")).scalar_one())
    snapshot.outbox_dead = int(conn.execute(
        sa.select(sa.func.count()).select_from(o).where(o.c.status == "dead")).scalar_one())
    oldest = conn.execute(sa.select(sa.func.min(o.c.next_attempt_at)).where(
        o.c.status == "pending", o.c.next_attempt_at <= now)).scalar_one()
    snapshot.outbox_oldest_due_age_s = _age_s(now, oldest) or 0.0


def _lags(conn: sa.Connection, now: datetime) -> list[IntegrationLag]:
    h = t.integration_health_hourly
    recent_hour = now.replace(minute=0, second=0, microsecond=0) - LAG_WINDOW
    window = (
        sa.select(
            h.c.integration_id,
            sa.func.sum(sa.case((h.c.hour >= recent_hour, h.c.accepted), else_=0)).label("n"),
            sa.func.sum(sa.case((h.c.hour >= recent_hour, h.c.lag_ms_sum), else_=0)).label("s"),
            sa.func.max(sa.case((h.c.hour >= recent_hour, h.c.lag_ms_max))).label("mx"),
            sa.func.max(h.c.last_event_at).label("last"),
        )
        .where(h.c.hour >= now - LAST_EVENT_WINDOW)
        .group_by(h.c.integration_id)
        .subquery()
    )
    i = t.integrations
    rows = conn.execute(
        sa.select(i.c.id, i.c.name, window.c.n, window.c.s, window.c.mx, window.c.last)
        .select_from(i.outerjoin(window, window.c.integration_id == i.c.id))
        .order_by(i.c.id)
    ).all()
    lags = []
    for row in rows:
        accepted = int(row.n or 0)
        lags.append(IntegrationLag(
            integration_id=row.id, name=row.name,
            lag_avg_s=int(row.s or 0) / 1000 / accepted if accepted else None,
            lag_max_s=int(row.mx) / 1000 if row.mx is not None else None,
            last_event_age_s=_age_s(now, row.last),
        ))
    return lags


def read_snapshot(engine: sa.Engine, now: datetime) -> DatabaseSnapshot:
    """Read every database gauge in one short read-only transaction."""
    snapshot = DatabaseSnapshot(up=True)
    with engine.connect() as conn:
        _outbox(conn, now, snapshot)
        snapshot.integrations = _lags(conn, now)
    return snapshot


class DatabaseGauges:
    """The cached snapshot, refreshed at most every ``cache_s`` seconds."""

    def __init__(self, engine: sa.Engine, clock: Clock, cache_s: float) -> None:
        self._engine = engine
        self._clock = clock
        self._cache_s = cache_s
        self._read_at: float | None = None
        self._lock = asyncio.Lock()
        self.snapshot = DatabaseSnapshot()

    async def refresh(self) -> DatabaseSnapshot:
        """The snapshot, re-read off the event loop when older than the cache period."""
        async with self._lock:
            fresh = self._read_at is not None and time.monotonic() - self._read_at < self._cache_s
            if not fresh:
                try:
                    self.snapshot = await asyncio.to_thread(
                        read_snapshot, self._engine, self._clock.now())
                except Exception:  # a scrape must answer; the gauge says why
                    log.warning("metrics: database gauges not refreshed", exc_info=True)
                    self.snapshot.up = False
                self._read_at = time.monotonic()
        return self.snapshot
