"""Group commit: concurrent requests share one database transaction.

Each hot-path request ``submit``s one item and awaits its result.  A single
writer thread takes everything queued so far (up to ``max_batch_rows``),
runs ``flush(conn, items)`` inside one transaction, commits, and only then
resolves every waiting request.  If a batch fails as a whole, its items are
retried one transaction each, so one bad item cannot sink its neighbours.

Limits are explicit: at most ``max_queue_rows`` items wait; beyond that
``submit`` raises ``QueueFull`` at once (the caller answers 503).  With
``max_linger_s`` set, the writer waits up to that long for as many items as
were active around its previous commit (never at low load, where that is one),
so a steady load of N concurrent callers makes batches of N, not N/2.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import sqlalchemy as sa

log = logging.getLogger(__name__)

ItemT = TypeVar("ItemT")
ResultT = TypeVar("ResultT")

Flush = Callable[[sa.Connection, Sequence[ItemT]], Sequence[ResultT]]


class QueueFull(Exception):
    """More items are waiting than the committer's ``max_queue_rows`` allows."""


class CommitterStopped(Exception):
    """The committer is shutting down and takes no new work."""


@dataclass
class _Pending(Generic[ItemT, ResultT]):
    item: ItemT
    future: asyncio.Future[ResultT]


BATCH_ROWS_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000)


@dataclass
class BatchStats:
    """Running totals a metrics endpoint can read.

    ``size_counts[i]`` counts batches of at most ``BATCH_ROWS_BUCKETS[i]`` rows
    (not cumulative; the last slot counts larger batches).
    """

    batches: int = 0
    rows: int = 0
    largest_batch: int = 0
    failed_batches: int = 0
    last_sizes: deque[int] = field(default_factory=lambda: deque(maxlen=256))
    size_counts: list[int] = field(default_factory=lambda: [0] * (len(BATCH_ROWS_BUCKETS) + 1))


class GroupCommitter(Generic[ItemT, ResultT]):
    """Batches submitted items into shared transactions run by one writer thread."""

    def __init__(
        self,
        engine: sa.Engine,
        flush: Flush[ItemT, ResultT],
        *,
        name: str,
        max_batch_rows: int = 2000,
        max_queue_rows: int = 50_000,
        max_linger_s: float = 0.0,
    ) -> None:
        self._engine = engine
        self._flush = flush
        self.name = name
        self.max_batch_rows = max_batch_rows
        self.max_queue_rows = max_queue_rows
        self.max_linger_s = max_linger_s
        self._expected = 1  # items active around the last commit: the next batch's target
        self._queue: deque[_Pending[ItemT, ResultT]] = deque()
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._thread: threading.Thread | None = None
        self._stopping = False
        self.stats = BatchStats()

    # --- lifecycle -----------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name=f"group-commit-{self.name}",
                                        daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 30.0) -> None:
        """Finish every queued item, then stop the writer thread."""
        with self._wake:
            self._stopping = True
            self._wake.notify()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None

    @property
    def depth(self) -> int:
        return len(self._queue)

    @property
    def running(self) -> bool:
        """True while the writer thread is alive and new work is accepted."""
        thread = self._thread
        return thread is not None and thread.is_alive() and not self._stopping

    # --- the request side ----------------------------------------------------

    async def submit(self, item: ItemT) -> ResultT:
        """Queue ``item``; return its result once its transaction has committed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[ResultT] = loop.create_future()
        with self._wake:
            if self._stopping:
                raise CommitterStopped(self.name)
            if len(self._queue) >= self.max_queue_rows:
                raise QueueFull(self.name)
            self._queue.append(_Pending(item, future))
            depth = len(self._queue)
            if depth == 1 or depth == min(self._expected, self.max_batch_rows):
                self._wake.notify()
        if self._thread is None:
            self.start()
        return await future

    # --- the writer side -----------------------------------------------------

    def _take_batch(self) -> list[_Pending[ItemT, ResultT]] | None:
        with self._wake:
            while not self._queue:
                if self._stopping:
                    return None
                self._wake.wait()
            if self.max_linger_s > 0:
                self._linger()
            size = min(len(self._queue), self.max_batch_rows)
            return [self._queue.popleft() for _ in range(size)]

    def _linger(self) -> None:
        """Under load, wait (at most ``max_linger_s``) for as many items as were active
        around the last commit, so callers answered together come back as one batch
        instead of splitting into two alternating half-size batches.  Called locked."""
        target = min(self._expected, self.max_batch_rows)
        deadline = time.monotonic() + self.max_linger_s
        while len(self._queue) < target and not self._stopping:
            remaining_s = deadline - time.monotonic()
            if remaining_s <= 0:
                return
            self._wake.wait(remaining_s)

    def _run(self) -> None:
        while True:
            batch = self._take_batch()
            if batch is None:
                return
            self._commit(batch)

    def _commit(self, batch: list[_Pending[ItemT, ResultT]]) -> None:
        try:
            with self._engine.begin() as conn:
                results = self._flush(conn, [pending.item for pending in batch])
        except Exception:
            self.stats.failed_batches += 1
            log.warning("group commit batch of %d failed; retrying one by one", len(batch),
                        exc_info=True)
            for pending in batch:
                self._commit_one(pending)
            return
        self._record(len(batch))
        # counted before answering: answered callers that come back are in len(batch)
        self._expected = len(batch) + len(self._queue)
        _resolve_all([(p.future, r) for p, r in zip(batch, results, strict=True)])

    def _commit_one(self, pending: _Pending[ItemT, ResultT]) -> None:
        try:
            with self._engine.begin() as conn:
                (result,) = self._flush(conn, [pending.item])
        except Exception as exc:  # noqa: BLE001 - the request gets the error
            _fail(pending.future, exc)
            return
        self._record(1)
        _resolve(pending.future, result)

    def _record(self, size: int) -> None:
        self.stats.batches += 1
        self.stats.rows += size
        self.stats.largest_batch = max(self.stats.largest_batch, size)
        self.stats.last_sizes.append(size)
        self.stats.size_counts[bisect.bisect_left(BATCH_ROWS_BUCKETS, size)] += 1


def _resolve(future: asyncio.Future[ResultT], result: ResultT) -> None:
    _resolve_all([(future, result)])


def _resolve_all(outcomes: list[tuple[asyncio.Future[ResultT], ResultT]]) -> None:
    """Wake each event loop once per batch, not once per request."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[ResultT], ResultT]]] = {}
    for future, result in outcomes:
        by_loop.setdefault(future.get_loop(), []).append((future, result))
    for loop, pairs in by_loop.items():
        loop.call_soon_threadsafe(_set_results, pairs)


def _set_results(pairs: list[tuple[asyncio.Future[ResultT], ResultT]]) -> None:
    for future, result in pairs:
        _set_result(future, result)


def _fail(future: asyncio.Future[ResultT], exc: BaseException) -> None:
    loop = future.get_loop()
    loop.call_soon_threadsafe(_set_exception, future, exc)


def _set_result(future: asyncio.Future[ResultT], result: ResultT) -> None:
    if not future.done():
        future.set_result(result)


def _set_exception(future: asyncio.Future[ResultT], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)
