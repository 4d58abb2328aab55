"""In-memory directory of operator integrations (secrets, maps, allowlists), reloaded off the loop.

The hot paths authenticate every request against this cache instead of the
database, and never read the database on the event loop:

* ``start`` loads the directory in its own worker thread and starts a task that
  reloads it every ``refresh_s / 2`` seconds, in that thread too.  A reload reads
  everything, then swaps in the new view with one assignment, so a request sees
  either the old view or the new one, never a mix; requests go on being answered
  from the old view while a reload runs, however slow.
* ``lookup`` and ``lookup_pixel_key`` (for coroutines) wait, off the loop, for a
  reload when the key is unknown (a new integration works at its first request)
  or when the view is older than ``refresh_s`` (the refresher is late or not
  running).  Either happens at most once per ``miss_reload_s`` (0.2 s), so unknown
  keys cannot hammer the database; other requests meanwhile are answered as usual.
* ``by_id`` and ``by_pixel_key`` (for plain functions) never wait once loaded: they
  start such a reload in the background and answer from the current view.  The
  first call on a directory that never loaded reads the database at once.

So a new integration works at once, and a changed, disabled or deleted one takes
effect within ``refresh_s`` (10 s): at most ``refresh_s / 2`` plus one read with
the refresher running, and never later than ``refresh_s`` for a coroutine's
look-up.  A failed reload is logged and the current view is kept (and retried
after ``miss_reload_s``).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import sqlalchemy as sa

from clickledger.background import stop_refresher
from clickledger.ingest.mapping import normalize_maps
from clickledger.store import tables as t

log = logging.getLogger(__name__)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
REFRESH_S = 10.0
MISS_RELOAD_S = 0.2


@dataclass(frozen=True, slots=True)
class IntegrationInfo:
    id: str
    brand_id: str
    name: str
    signing_secret: str
    require_signature: bool
    networks: tuple[Network, ...]
    parameter_map: dict[str, str]
    status_map: dict[str, str]
    pixel_key: str | None
    active: bool

    def ip_allowed(self, ip: str | None) -> bool:
        """True without an allowlist; else only for an address inside one of its networks."""
        if not self.networks:
            return True
        if ip is None:
            return False
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return False
        return any(address in network for network in self.networks)


def parse_networks(entries: list[str] | None) -> tuple[Network, ...]:
    """Allowlist entries (addresses or CIDR blocks) as networks; raises ValueError if malformed."""
    return tuple(ipaddress.ip_network(str(entry).strip(), strict=False) for entry in entries or [])


def _info(row: sa.Row[tuple[object, ...]]) -> IntegrationInfo:
    params, words = normalize_maps(row.parameter_map, row.status_map)
    return IntegrationInfo(
        id=str(row.id), brand_id=str(row.brand_id), name=row.name,
        signing_secret=row.signing_secret, require_signature=bool(row.require_signature),
        networks=parse_networks(row.ip_allowlist), parameter_map=params, status_map=words,
        pixel_key=row.pixel_key, active=row.status == "active",
    )


def database_source(engine: sa.Engine) -> Callable[[], list[IntegrationInfo]]:
    """Every integration in the database (a blocking read: call it off the event loop)."""

    def read() -> list[IntegrationInfo]:
        with engine.connect() as conn:
            rows = conn.execute(sa.select(t.integrations)).all()
        return [_info(row) for row in rows]

    return read


@dataclass(frozen=True, slots=True)
class _View:
    """One complete reading of the integrations; replaced whole, never changed."""

    by_id: dict[str, IntegrationInfo]
    by_pixel_key: dict[str, IntegrationInfo]
    read_at_s: float  # monotonic time the read started

    @classmethod
    def of(cls, infos: Iterable[IntegrationInfo], read_at_s: float) -> _View:
        infos = list(infos)
        return cls({info.id: info for info in infos},
                   {info.pixel_key: info for info in infos if info.pixel_key}, read_at_s)


_NEVER_LOADED = _View({}, {}, float("-inf"))


class IntegrationDirectory:
    """Integrations by id and by pixel key, reloaded in a worker thread (see the module)."""

    def __init__(
        self,
        engine: sa.Engine | None = None,
        refresh_s: float = REFRESH_S,
        miss_reload_s: float = MISS_RELOAD_S,
        *,
        source: Callable[[], list[IntegrationInfo]] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if source is None:
            if engine is None:
                raise ValueError("give the engine or a source of integrations")
            source = database_source(engine)
        self._source = source
        self.refresh_s = refresh_s
        self.miss_reload_s = miss_reload_s
        self._monotonic = monotonic
        self._view = _NEVER_LOADED
        self._attempted_at_s = float("-inf")  # the last reload's start, whatever its outcome
        self._reload_lock = threading.Lock()  # one reload at a time; readers never take it
        self._pending_lock = threading.Lock()
        self._pending: Future[None] | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._refresher: asyncio.Task[None] | None = None

    # --- lifecycle -----------------------------------------------------------

    async def start(self) -> None:
        """Load (off the loop; a failure here is raised) and start reloading every
        ``refresh_s / 2`` seconds."""
        await asyncio.get_running_loop().run_in_executor(self._executor(), self.reload)
        if self._refresher is None:
            self._refresher = asyncio.create_task(self._refresh_forever(), name="integrations")

    async def stop(self) -> None:
        await stop_refresher(self._refresher, self._pool)
        self._refresher, self._pool = None, None

    async def _refresh_forever(self) -> None:
        while True:
            await asyncio.sleep(self.refresh_s / 2)
            await self.refresh()

    # --- reloading -----------------------------------------------------------

    def reload(self) -> None:
        """Read every integration and swap the new view in (blocking: not on the loop)."""
        with self._reload_lock:
            started_s = self._attempted_at_s = self._monotonic()
            infos = self._source()
            self._view = _View.of(infos, started_s)  # the swap: one assignment

    def _reload_logged(self) -> None:
        try:
            self.reload()
        except Exception:
            log.warning("integration directory reload failed; keeping the last one",
                        exc_info=True)

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="integrations")
        return self._pool

    def _reload_soon(self) -> Future[None]:
        """The reload running or queued in the directory's thread, else a new one."""
        with self._pending_lock:
            pending = self._pending
            if pending is None or pending.done():
                pending = self._pending = self._executor().submit(self._reload_logged)
            return pending

    async def refresh(self) -> None:
        """Reload in the directory's thread and wait for it; concurrent callers share one
        (a waiter that is cancelled leaves the reload running for the others)."""
        await asyncio.shield(asyncio.wrap_future(self._reload_soon()))

    def _wants_reload(self, view: _View, missing: bool) -> bool:
        """True when the view is past ``refresh_s`` or a key is missing, unless a reload
        started less than ``miss_reload_s`` ago."""
        now_s = self._monotonic()
        if now_s - self._attempted_at_s <= self.miss_reload_s:
            return False
        return missing or now_s - view.read_at_s > self.refresh_s

    # --- look-ups --------------------------------------------------------------

    def cached(self, integration_id: str) -> IntegrationInfo | None:
        """The integration with this id when the current view may answer for it without a
        reload (the usual case, no waiting); None when ``lookup`` must be awaited."""
        view = self._view
        info = view.by_id.get(integration_id)
        if info is None or self._monotonic() - view.read_at_s > self.refresh_s:
            return None
        return info

    async def lookup(self, integration_id: str) -> IntegrationInfo | None:
        """The integration with this id; waits (off the loop) for a reload when needed."""
        view = self._view
        info = view.by_id.get(integration_id)
        if self._wants_reload(view, info is None):
            await self.refresh()
            info = self._view.by_id.get(integration_id)
        return info

    async def lookup_pixel_key(self, pixel_key: str) -> IntegrationInfo | None:
        """The integration with this pixel key; waits (off the loop) for a reload when needed."""
        view = self._view
        info = view.by_pixel_key.get(pixel_key)
        if self._wants_reload(view, info is None):
            await self.refresh()
            info = self._view.by_pixel_key.get(pixel_key)
        return info

    def _loaded_view(self) -> _View:
        if self._view is _NEVER_LOADED:
            self.reload()
        return self._view

    def by_id(self, integration_id: str) -> IntegrationInfo | None:
        """The integration with this id from the current view (a reload starts in the
        background when the key is unknown or the view is old)."""
        view = self._loaded_view()
        info = view.by_id.get(integration_id)
        if self._wants_reload(view, info is None):
            self._reload_soon()
        return info

    def by_pixel_key(self, pixel_key: str) -> IntegrationInfo | None:
        """``by_id`` for a pixel key."""
        view = self._loaded_view()
        info = view.by_pixel_key.get(pixel_key)
        if self._wants_reload(view, info is None):
            self._reload_soon()
        return info
