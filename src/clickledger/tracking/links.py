"""An in-memory cache of tracking links, so a click never waits for a database read.

Each entry holds what a click needs: the link's affiliate and offer, its
default sub-ids, the offer's compiled landing template with its allowed
domains, whether the link may redirect (link, offer and brand active, and the
affiliate not suspended), and the brand's fallback URL.

Limits and freshness: at most ``max_entries`` links (the oldest entry is
evicted first) plus at most ``max_entries`` remembered unknown codes.  Startup
preloads the newest links; a miss is read from the database in a small
dedicated thread pool (so a flood of unknown codes cannot take every thread);
every ``refresh_s`` seconds the cached links are re-read in chunks and the
remembered unknown codes are forgotten, so a paused link stops redirecting
within ``refresh_s`` (or at once on this process when ``invalidate`` is called).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

import sqlalchemy as sa

from clickledger.background import stop_refresher
from clickledger.store.tables import affiliates, brands, offers, tracking_links
from clickledger.tracking.redirect import LandingTemplate, normalize_domains, safe_fallback

log = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")

DEFAULT_MAX_ENTRIES = 50_000
DEFAULT_REFRESH_S = 5.0
REFRESH_CHUNK_CODES = 500
MAX_CODE_CHARS = 64
LOADER_THREADS = 2
BLOCKED_AFFILIATE_STATUSES = frozenset({"suspended", "rejected", "blocked", "banned", "closed"})


@dataclass(frozen=True, slots=True)
class LinkTarget:
    """Everything a click on one link needs, read from the database."""

    code: str
    link_id: str
    affiliate_id: str
    offer_id: str
    default_subs: tuple[str | None, ...]
    landing: LandingTemplate
    active: bool
    fallback_url: str | None


def _select() -> sa.Select[tuple[object, ...]]:
    link, offer, brand, affiliate = tracking_links, offers, brands, affiliates
    return sa.select(
        link.c.code,
        link.c.id,
        link.c.affiliate_id,
        link.c.offer_id,
        link.c.sub1,
        link.c.sub2,
        link.c.sub3,
        link.c.sub4,
        link.c.sub5,
        link.c.status,
        offer.c.landing_url,
        offer.c.allowed_domains,
        offer.c.status,
        brand.c.fallback_url,
        brand.c.status,
        affiliate.c.status,
    ).select_from(
        link.join(offer, offer.c.id == link.c.offer_id)
        .join(brand, brand.c.id == offer.c.brand_id)
        .join(affiliate, affiliate.c.id == link.c.affiliate_id)
    )


def _target(row: Sequence[object]) -> LinkTarget:
    (
        code,
        link_id,
        affiliate_id,
        offer_id,
        s1,
        s2,
        s3,
        s4,
        s5,
        link_status,
        landing_url,
        allowed,
        offer_status,
        fallback_url,
        brand_status,
        affiliate_status,
    ) = row
    domains = normalize_domains(allowed if isinstance(allowed, list) else ())
    active = (
        link_status == "active"
        and offer_status == "active"
        and brand_status == "active"
        and affiliate_status not in BLOCKED_AFFILIATE_STATUSES
    )
    return LinkTarget(
        code=str(code),
        link_id=str(link_id),
        affiliate_id=str(affiliate_id),
        offer_id=str(offer_id),
        default_subs=tuple(s if isinstance(s, str) else None for s in (s1, s2, s3, s4, s5)),
        landing=LandingTemplate.compile(
            str(landing_url),
            domains,
            fixed={"affiliate_id": str(affiliate_id), "offer_id": str(offer_id)},
        ),
        active=active,
        fallback_url=safe_fallback(fallback_url if isinstance(fallback_url, str) else None),
    )


def read_links(engine: sa.Engine, codes: Iterable[str]) -> dict[str, LinkTarget]:
    """The links with these codes (missing codes are simply absent)."""
    wanted = list(codes)
    found: dict[str, LinkTarget] = {}
    with engine.connect() as conn:
        for start in range(0, len(wanted), REFRESH_CHUNK_CODES):
            chunk = wanted[start : start + REFRESH_CHUNK_CODES]
            for row in conn.execute(_select().where(tracking_links.c.code.in_(chunk))):
                target = _target(tuple(row))
                found[target.code] = target
    return found


def read_newest_links(engine: sa.Engine, limit: int) -> list[LinkTarget]:
    """Up to ``limit`` links, newest first (the startup preload)."""
    query = _select().order_by(tracking_links.c.created_at.desc()).limit(limit)
    with engine.connect() as conn:
        return [_target(tuple(row)) for row in conn.execute(query)]


class LinkCache:
    """Code → ``LinkTarget`` (or None for an unknown code), bounded and refreshed."""

    def __init__(
        self,
        engine: sa.Engine,
        *,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        refresh_s: float = DEFAULT_REFRESH_S,
    ) -> None:
        self._engine = engine
        self.max_entries = max_entries
        self.refresh_s = refresh_s
        self._links: dict[str, LinkTarget] = {}
        self._unknown: dict[str, None] = {}
        self._pool: ThreadPoolExecutor | None = None
        self._refresher: asyncio.Task[None] | None = None

    # --- lifecycle -----------------------------------------------------------

    async def start(self) -> None:
        """Preload the newest links and start the periodic refresh."""
        for target in await self._in_pool(read_newest_links, self._engine, self.max_entries):
            self._put(target)
        self._refresher = asyncio.create_task(self._refresh_forever(), name="link-cache")

    async def stop(self) -> None:
        await stop_refresher(self._refresher, self._pool)
        self._refresher, self._pool = None, None

    # --- reads -----------------------------------------------------------------

    async def get(self, code: str) -> LinkTarget | None:
        """The link for ``code``; a miss reads the database once and is remembered."""
        target = self._links.get(code)
        if target is not None:
            return target
        if code in self._unknown or len(code) > MAX_CODE_CHARS or not code:
            return None
        found = await self._in_pool(read_links, self._engine, [code])
        target = found.get(code)
        if target is None:
            if len(self._unknown) >= self.max_entries:
                del self._unknown[next(iter(self._unknown))]
            self._unknown[code] = None
            return None
        self._put(target)
        return target

    def invalidate(self, code: str) -> None:
        """Forget ``code`` so the next click reads it again (after an admin change)."""
        self._links.pop(code, None)
        self._unknown.pop(code, None)

    def __len__(self) -> int:
        return len(self._links)

    # --- internals -------------------------------------------------------------

    def _put(self, target: LinkTarget) -> None:
        links = self._links
        if target.code not in links and len(links) >= self.max_entries:
            del links[next(iter(links))]
        links[target.code] = target

    async def refresh(self) -> None:
        """Re-read every cached link and forget the remembered unknown codes."""
        codes = list(self._links)
        found = await self._in_pool(read_links, self._engine, codes)
        for code in codes:
            target = found.get(code)
            if target is None:
                self._links.pop(code, None)
            else:
                self._links[code] = target
        self._unknown.clear()

    async def _refresh_forever(self) -> None:
        while True:
            await asyncio.sleep(self.refresh_s)
            try:
                await self.refresh()
            except Exception:
                log.warning("link cache refresh failed", exc_info=True)

    async def _in_pool(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(LOADER_THREADS, thread_name_prefix="link-cache")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, functools.partial(fn, *args, **kwargs))
