"""The fraud worker loop: counts new clicks, assesses queued events, every ≤1 s.

Each round (``FraudWorker.run_once``) first folds the clicks stored since its
cursor into the counters (at most ``CLICK_BATCHES_PER_ROUND`` batches, so a
click flood cannot starve assessment), then assesses one bounded batch of
queued events (``services.fraud_intake``).  When a round finds nothing it sleeps
``poll_interval_s``; after a full batch it goes on at once.  In-process, a round
first waits (at most ``MAX_DEFER_S``) while requests are queued for a hot-path
commit: on SQLite the assessment's transaction holds the single write lock, so
under a postback storm the queue grows (durably) and drains in the lulls.  A failing round is
logged and retried after the poll interval: the events stay queued.

It runs in a thread: inside ``clickledger serve`` (``register``, for the
single-node SQLite default, started and stopped by the app's lifespan) or beside
the outbox dispatcher in ``clickledger worker``.  Several workers may share one
PostgreSQL database (``SKIP LOCKED`` claims, a row-locked click cursor); on
SQLite one runs at a time in effect (the database's single write lock).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

import sqlalchemy as sa

from clickledger.clock import Clock
from clickledger.services import fraud
from clickledger.services import fraud_intake as intake
from clickledger.settings import Settings

if TYPE_CHECKING:
    from clickledger.http.app import HotPaths
    from clickledger.runtime import Runtime

log = logging.getLogger("clickledger.fraud")

CLICK_BATCH_ROWS = 20_000
CLICK_BATCHES_PER_ROUND = 5
PRUNE_EVERY_S = 3600.0
STOP_TIMEOUT_S = 30.0
MAX_DEFER_S = 5.0  # in-process: longest a round waits for the hot paths' queues to empty
BUSY_BATCH_EVENTS = 20  # in-process: the batch of a round that could not wait any longer
DEFER_STEP_S = 0.005
QUIET_S = 0.05  # in-process: hot paths without a commit this long count as idle


@dataclass
class FraudStats:
    """Running totals (for logs and tests)."""

    rounds: int = 0
    events: int = 0
    clicks: int = 0
    held_or_rejected: int = 0
    failures: int = 0
    last_error: str | None = None
    written: dict[str, int] = field(default_factory=dict)


class FraudWorker:
    """Runs fraud rounds against one database until stopped."""

    def __init__(self, engine: sa.Engine, clock: Clock, *, batch_events: int = 200,
                 poll_interval_s: float = 0.5, click_lag_s: float = 2.0,
                 click_batch_rows: int = CLICK_BATCH_ROWS,
                 config: fraud.FraudConfig | None = None,
                 hot_paths_busy: Callable[[], bool] | None = None) -> None:
        self.engine = engine
        self.clock = clock
        self.batch_events = batch_events
        self.poll_interval_s = poll_interval_s
        self.click_lag = timedelta(seconds=click_lag_s)
        self.click_batch_rows = click_batch_rows
        self.config = config
        self.hot_paths_busy = hot_paths_busy
        self.stats = FraudStats()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pruned_at = time.monotonic()

    @classmethod
    def from_settings(cls, engine: sa.Engine, clock: Clock, settings: Settings) -> FraudWorker:
        return cls(engine, clock, batch_events=settings.fraud_batch_events,
                   poll_interval_s=settings.fraud_poll_interval_s,
                   click_lag_s=settings.fraud_click_lag_s, config=fraud.config_from(settings))

    def run_once(self, batch_events: int | None = None) -> bool:
        """One round; True when work is probably left (a full batch of clicks or events)."""
        limit = batch_events or self.batch_events
        more_clicks = self._count_clicks()
        step = intake.assess_queued(self.engine, self.clock.now(), limit, self.config)
        self.stats.rounds += 1
        self.stats.events += step.events
        self.stats.held_or_rejected += step.enforced
        for action, count in step.written.items():
            self.stats.written[action] = self.stats.written.get(action, 0) + count
            if action in ("hold", "reject"):
                self.stats.held_or_rejected += count
        self._prune()
        return more_clicks or step.events >= limit

    def drain(self, max_rounds: int = 1_000_000) -> int:
        """Run rounds until nothing is left; returns the rounds run."""
        for rounds in range(1, max_rounds + 1):
            if not self.run_once():
                return rounds
        return max_rounds

    def _count_clicks(self) -> bool:
        for _ in range(CLICK_BATCHES_PER_ROUND):
            step = intake.count_new_clicks(self.engine, self.clock.now(), self.click_lag,
                                           self.click_batch_rows)
            self.stats.clicks += step.counted
            if step.caught_up:
                return False
        return True

    def _prune(self) -> None:
        if time.monotonic() - self._pruned_at < PRUNE_EVERY_S:
            return
        self._pruned_at = time.monotonic()
        with self.engine.begin() as conn:
            fraud.prune_counters(conn, self.clock.now())

    # --- the loop ------------------------------------------------------------

    def run(self) -> None:
        """Rounds until ``stop``; a failed round is logged and retried after the interval."""
        while not self._stop.is_set():
            limit = self._yield_to_hot_paths()
            try:
                busy = self.run_once(limit)
            except Exception as exc:  # logged; the events stay queued
                self.stats.failures += 1
                self.stats.last_error = f"{type(exc).__name__}: {exc}"[:500]
                log.warning("fraud round failed; retrying", exc_info=True)
                busy = False
            if not busy:
                self._stop.wait(self.poll_interval_s)

    def _yield_to_hot_paths(self) -> int:
        """In-process: let requests waiting for a commit go first (at most ``MAX_DEFER_S``);
        returns the batch size for the round (small when the hot paths are still busy)."""
        if self.hot_paths_busy is None:
            return self.batch_events
        deadline = time.monotonic() + MAX_DEFER_S
        while self.hot_paths_busy() and not self._stop.is_set():
            if time.monotonic() >= deadline:
                return min(BUSY_BATCH_EVENTS, self.batch_events)
            self._stop.wait(DEFER_STEP_S)
        return self.batch_events

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self.run, name="fraud-worker", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """Stop after the round in progress (its transaction commits or rolls back whole)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()


class HotPathActivity:
    """Whether the process's hot paths are busy: requests queued for a commit, or a commit
    in the last ``QUIET_S`` (under load the queue is often empty while a batch commits)."""

    def __init__(self, hot: HotPaths) -> None:
        self.hot = hot
        self.rows = -1
        self.changed_at = time.monotonic()

    def busy(self) -> bool:
        committers = self.hot.committers
        rows = sum(committer.stats.rows for committer in committers)
        now = time.monotonic()
        if rows != self.rows:
            self.rows, self.changed_at = rows, now
        return any(c.depth for c in committers) or now - self.changed_at < QUIET_S


def register(hot: HotPaths, runtime: Runtime) -> FraudWorker | None:
    """Run the worker inside ``serve`` (lifespan start/stop) when ``fraud_in_process``."""
    if not runtime.settings.fraud_in_process:
        return None
    worker = FraudWorker.from_settings(runtime.engine, runtime.clock, runtime.settings)
    worker.hot_paths_busy = HotPathActivity(hot).busy

    async def start() -> None:
        worker.start()

    async def stop() -> None:
        await asyncio.to_thread(worker.stop)

    hot.on_startup.append(start)
    hot.on_shutdown.append(stop)
    return worker
