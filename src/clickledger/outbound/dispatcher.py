"""The outbox relay: claims due deliveries, sends them with httpx, records every attempt.

Sending: one ``httpx.AsyncClient`` (``postback_client``: keep-alive pools, no
cookies) with at most ``concurrency`` requests in flight, and at most
``per_host`` of them to one host; a 15 s deadline per attempt,
``follow_redirects=False`` (a 3xx is a failure) and no proxies from the
environment.  Every target is checked by the SSRF guard before sending and
again when a connection is opened (an approved host is cached briefly).  A URL
postback is a GET of the rendered URL; a webhook is a POST of the JSON body
with Standard Webhooks headers signed at sending time.

What happens after an attempt is decided by ``domain.delivery.decide``:
delivered, retried on the Svix schedule, dead-lettered after the eighth
attempt, or disabled (410, together with its template and its other pending
rows).  A 429/502/504 also pauses the target host: rows for it claimed while
paused are given back unsent until the pause ends.

Database work (claim, record) runs in a thread so deliveries keep flowing.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar
from urllib.parse import urlsplit

import httpx
import sqlalchemy as sa

from clickledger import __version__
from clickledger.clock import Clock, utc
from clickledger.domain.delivery import Decision, Outcome, RandomSource, ResponseFacts, decide
from clickledger.ids import new_id
from clickledger.outbound import outbox_store as store
from clickledger.outbound.postback_client import guarded_pools, postback_client
from clickledger.outbound.ssrf import Resolver, TargetGuard, TargetNotAllowed
from clickledger.outbound.webhooks import signed_headers

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 15.0
LEASE = timedelta(minutes=2)
DEFAULT_CONCURRENCY = 32
MAX_CONCURRENCY = 1024
MAX_PER_HOST = 64  # default cap on deliveries in flight to one host
EXCERPT_BYTES = 1000
FLUSH_INTERVAL_SECONDS = 0.05
IDLE_POLL_SECONDS = 1.0
USER_AGENT = f"ClickLedger-Postback/{__version__}"

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class _Sent:
    facts: ResponseFacts
    excerpt: str | None
    duration_ms: int


def default_worker_id() -> str:
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{new_id()[-8:]}"


@dataclass(slots=True)
class _HostSlot:
    free: asyncio.Semaphore
    users: int = 0  # deliveries holding or waiting for this host's semaphore


class _HostSlots:
    """At most ``limit`` deliveries in flight per host; a host's semaphore lives while used."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._slots: dict[str, _HostSlot] = {}

    async def acquire(self, host: str) -> None:
        slot = self._slots.get(host)
        if slot is None:
            slot = self._slots[host] = _HostSlot(asyncio.Semaphore(self.limit))
        slot.users += 1
        try:
            await slot.free.acquire()
        except BaseException:
            self._leave(host, slot)
            raise

    def release(self, host: str) -> None:
        slot = self._slots[host]
        slot.free.release()
        self._leave(host, slot)

    def _leave(self, host: str, slot: _HostSlot) -> None:
        slot.users -= 1
        if not slot.users:
            del self._slots[host]


class Dispatcher:
    """Delivers outbox rows; one instance per worker process (several may share a database)."""

    def __init__(
        self,
        engine: sa.Engine,
        clock: Clock,
        *,
        allow_loopback: bool = False,
        concurrency: int = DEFAULT_CONCURRENCY,
        per_host: int | None = None,
        worker_id: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        resolver: Resolver | None = None,
        rand: RandomSource | None = None,
        lease: timedelta = LEASE,
        timeout_s: float = TIMEOUT_SECONDS,
    ) -> None:
        if not 1 <= concurrency <= MAX_CONCURRENCY:
            raise ValueError(f"concurrency must be 1..{MAX_CONCURRENCY}")
        per_host = per_host or min(concurrency, MAX_PER_HOST)
        if not 1 <= per_host <= concurrency:
            raise ValueError("per_host must be 1..concurrency")
        self.engine = engine
        self.clock = clock
        self.concurrency = concurrency
        self.worker_id = worker_id or default_worker_id()
        self.guard = (TargetGuard(allow_loopback=allow_loopback, resolver=resolver)
                      if resolver is not None else TargetGuard(allow_loopback=allow_loopback))
        self.rand: RandomSource = rand or random.Random()  # jitter, not secrets
        self.lease = lease
        self.timeout_s = timeout_s
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._host_slots = _HostSlots(per_host)
        self._throttled: dict[str, datetime] = {}
        self._records: list[store.AttemptRecord] = []
        self._deferrals: list[store.Deferral] = []
        self.delivered = 0
        self.attempted = 0

    # --- lifecycle -----------------------------------------------------------

    async def __aenter__(self) -> Dispatcher:
        transport = self._transport or guarded_pools(self.guard, self.concurrency)
        self._client = postback_client(transport, self.timeout_s, USER_AGENT)
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.flush()
        if self._client is not None:
            await self._client.aclose()
        self._client = None

    # --- the loops -----------------------------------------------------------

    async def run_once(self, limit: int | None = None) -> int:
        """Claim one batch of due rows, send them all, record; returns how many were claimed."""
        claimed = await self._claim(limit or self.concurrency)
        await asyncio.gather(*(self._deliver(row) for row in claimed))
        await self.flush()
        return len(claimed)

    async def run_until_idle(self) -> int:
        """Deliver until nothing is due now; returns attempts made."""
        before = self.attempted
        await self.run(stop=None)
        return self.attempted - before

    async def run(self, stop: asyncio.Event | None) -> None:
        """Keep ``concurrency`` deliveries in flight until ``stop`` is set (or, without one,
        until nothing is due); in-flight deliveries always finish and are recorded."""
        inflight: set[asyncio.Task[None]] = set()
        last_flush = time.monotonic()
        idle_until = 0.0
        while stop is None or not stop.is_set():
            free = self.concurrency - len(inflight)
            draining = stop is None and not inflight
            if free >= max(1, self.concurrency // 4) and (
                    draining or time.monotonic() >= idle_until):
                claimed = await self._claim(free)
                inflight.update(asyncio.create_task(self._deliver(row)) for row in claimed)
                if not claimed:
                    if draining:
                        break
                    idle_until = time.monotonic() + (
                        FLUSH_INTERVAL_SECONDS if stop is None else IDLE_POLL_SECONDS)
            if (self._records or self._deferrals) and (
                    len(self._records) >= self.concurrency or not inflight
                    or time.monotonic() - last_flush >= FLUSH_INTERVAL_SECONDS):
                await self.flush()
                last_flush = time.monotonic()
            wait_s = FLUSH_INTERVAL_SECONDS if inflight else max(
                0.0, min(IDLE_POLL_SECONDS, idle_until - time.monotonic()))
            inflight = await _wait_some(inflight, stop, wait_s)
        if inflight:
            await asyncio.gather(*inflight)
        await self.flush()

    async def flush(self) -> None:
        """Write every finished attempt and deferral, in one transaction."""
        records, self._records = self._records, []
        deferrals, self._deferrals = self._deferrals, []
        if not records and not deferrals:
            return
        now = self.clock.now()

        def write(conn: sa.Connection) -> None:
            store.record_attempts(conn, self.worker_id, records, now)
            store.defer(conn, self.worker_id, deferrals, now)

        await self._in_transaction(write)

    # --- one delivery --------------------------------------------------------

    async def _claim(self, limit: int) -> list[store.Claimed]:
        now = self.clock.now()
        lease_end = now + self.lease
        return await self._in_transaction(
            lambda conn: store.claim_due(conn, self.worker_id, now, lease_end, limit)
        )

    async def _deliver(self, row: store.Claimed) -> None:
        host = urlsplit(row.url).hostname or ""
        paused_until = self._throttled.get(host)
        now = self.clock.now()
        if paused_until is not None and paused_until > now:
            self._deferrals.append(store.Deferral(row.id, paused_until))
            return
        await self._host_slots.acquire(host)
        try:
            sent = await self._send(row)
        finally:
            self._host_slots.release(host)
        at = self.clock.now()
        attempt = row.attempts + 1
        decision = decide(attempt, at, sent.facts, self.rand)
        self._note_throttle(host, decision)
        self.attempted += 1
        self.delivered += decision.outcome is Outcome.DELIVERED
        self._records.append(store.AttemptRecord(
            outbox_id=row.id, template_id=row.template_id, attempt=attempt,
            cycle=row.resend_count, at=at, outcome=decision.outcome,
            next_attempt_at=decision.next_attempt_at, status_code=sent.facts.status_code,
            error=sent.facts.error, excerpt=sent.excerpt, duration_ms=sent.duration_ms,
        ))

    def _note_throttle(self, host: str, decision: Decision) -> None:
        if decision.throttle_until is not None:
            current = self._throttled.get(host)
            if current is None or decision.throttle_until > current:
                self._throttled[host] = decision.throttle_until

    async def _send(self, row: store.Claimed) -> _Sent:
        started = time.perf_counter()
        try:
            await self.guard.check_url_async(row.url)
        except TargetNotAllowed as exc:
            return _Sent(ResponseFacts(None, error=f"target_not_allowed: {exc}"), None, 0)
        try:
            headers = {}
            if row.body is not None and row.webhook_secret:
                headers = signed_headers(row.webhook_secret, row.id, utc(self.clock.now()),
                                         row.body)
            facts, excerpt = await self._request(row, headers)
        except (TimeoutError, httpx.TimeoutException):
            facts, excerpt = ResponseFacts(None, error=f"timeout after {self.timeout_s:g} s"), None
        except httpx.HTTPError as exc:
            facts, excerpt = ResponseFacts(None, error=f"{type(exc).__name__}: {exc}"), None
        except Exception as exc:  # recorded as a failed attempt, never lost
            log.exception("delivery %s failed unexpectedly", row.id)
            facts = ResponseFacts(None, error=f"internal error: {type(exc).__name__}")
            excerpt = None
        return _Sent(facts, excerpt, int((time.perf_counter() - started) * 1000))

    async def _request(self, row: store.Claimed,
                       headers: dict[str, str]) -> tuple[ResponseFacts, str | None]:
        assert self._client is not None, "use the dispatcher as an async context manager"
        async with asyncio.timeout(self.timeout_s):
            async with self._client.stream(row.method, row.url, content=row.body,
                                           headers=headers) as response:
                excerpt = await _read_excerpt(response)
                return ResponseFacts(response.status_code,
                                     retry_after=response.headers.get("retry-after")), excerpt

    async def _in_transaction(self, work: Callable[[sa.Connection], T]) -> T:
        def run() -> T:
            with self.engine.begin() as conn:
                return work(conn)

        return await asyncio.to_thread(run)


async def _read_excerpt(response: httpx.Response) -> str | None:
    """The first ``EXCERPT_BYTES`` of the body, as text; the rest is not kept."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size >= EXCERPT_BYTES:
            break
    body = b"".join(chunks)[:EXCERPT_BYTES]
    return body.decode("utf-8", errors="replace") if body else None


async def _wait_some(inflight: set[asyncio.Task[None]], stop: asyncio.Event | None,
                     timeout_s: float) -> set[asyncio.Task[None]]:
    """Wait until a delivery finishes, ``stop`` is set or ``timeout_s`` passes; return the rest."""
    if not inflight:
        if stop is None:
            return inflight
        try:
            await asyncio.wait_for(stop.wait(), timeout_s)
        except TimeoutError:
            pass
        return inflight
    _done, pending = await asyncio.wait(inflight, timeout=timeout_s,
                                        return_when=asyncio.FIRST_COMPLETED)
    return set(pending)
