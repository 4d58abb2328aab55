"""``GET /c/{code}``: the tracking-link click, a plain ASGI handler (no framework on this path).

A click on an active link is queued to the group committer and answered
``302`` to the offer's landing URL (macros filled, click id included) only
after its row has committed.  The request does only what cannot be deferred:
look the link up in memory, read the query and headers within their limits,
resolve the client IP, fill the landing URL and check its host.  Enrichment,
IP hashing, uniqueness and rollups happen in the writer thread.

Answers: ``302`` landing (click recorded); ``302`` to the brand's fallback URL
or ``404`` for an unknown, paused or not-allowed link (nothing recorded);
``405`` for methods other than GET/HEAD; ``503`` with ``Retry-After`` when the
write queue is full or the database refused the click (never a redirect
without a committed click).  ``HEAD`` answers like ``GET`` but records nothing
(link checkers and previews), so its ``{click_id}`` is empty.

The first-party cookie ``cl_vid`` (HttpOnly, SameSite=Lax) carries a visitor
id used for unique-click counting; the click id itself travels in the URL.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

import sqlalchemy as sa

from clickledger.http.asgi import Receive, Scope, Send
from clickledger.ids import new_id
from clickledger.runtime import Runtime
from clickledger.store.group_commit import CommitterStopped, GroupCommitter, QueueFull
from clickledger.store.sqlite_checkpoint import WalCheckpointer
from clickledger.tracking.client_ip import ClientIpResolver
from clickledger.tracking.enrich import Enricher
from clickledger.tracking.links import LinkCache, LinkTarget
from clickledger.tracking.params import (
    ACCEPT_LANGUAGE_MAX_CHARS,
    REFERRER_MAX_CHARS,
    USER_AGENT_MAX_CHARS,
    header_text,
    parse_query,
)
from clickledger.tracking.retention import IpPolicy
from clickledger.tracking.writer import ClickWriter, PendingClick

if TYPE_CHECKING:
    from clickledger.http.app import HotPaths

log = logging.getLogger(__name__)

CLICK_PREFIX = "/c/"
# Left in the scope by the click limit (http/public_limits.py) when it has resolved the client
# address through trusted proxies already: X-Forwarded-For is walked once per click.
CLIENT_IP_SCOPE_KEY = "clickledger.client_ip"
_UNRESOLVED = object()
VISITOR_COOKIE = "cl_vid"
SECONDS_PER_DAY = 86_400
_VISITOR_RE = re.compile(rb"(?:^|[;\s])cl_vid=([0-9a-f-]{36})(?:;|\s|$)")
_NO_STORE = (b"cache-control", b"no-store")
_EMPTY = (b"content-length", b"0")


def _visitor_from(cookie: bytes | None) -> str | None:
    if not cookie:
        return None
    match = _VISITOR_RE.search(cookie)
    return match.group(1).decode() if match else None


class ClickHandler:
    """The ASGI callable for ``/c/{code}``."""

    def __init__(
        self,
        runtime: Runtime,
        links: LinkCache,
        committer: GroupCommitter[PendingClick, str],
        resolver: ClientIpResolver,
    ) -> None:
        settings = runtime.settings
        self._clock = runtime.clock
        self._links = links
        self._committer = committer
        self._resolver = resolver
        self._max_query_bytes = settings.max_query_string_bytes
        self._max_params = settings.max_query_params
        secure = "; Secure" if settings.public_base_url.startswith("https://") else ""
        self._cookie_suffix = (
            f"; Max-Age={settings.click_cookie_days * SECONDS_PER_DAY}; Path=/; HttpOnly; "
            f"SameSite=Lax{secure}"
        ).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"]
        if method != "GET" and method != "HEAD":
            await _answer(send, 405, b"method not allowed\n", [(b"allow", b"GET, HEAD")])
            return
        code: str = scope["path"][len(CLICK_PREFIX) :]
        target = await self._links.get(code)
        if target is None or not target.active:
            await _not_found(send, target)
            return
        user_agent = referrer = accept_language = cookie = forwarded = None
        for name, value in scope["headers"]:
            if name == b"user-agent":
                user_agent = value
            elif name == b"referer":
                referrer = value
            elif name == b"accept-language":
                accept_language = value
            elif name == b"cookie":
                cookie = value
            elif name == b"x-forwarded-for":
                forwarded = value if forwarded is None else forwarded + b"," + value
        query = parse_query(scope["query_string"], self._max_query_bytes, self._max_params)
        subs = query.subs
        defaults = target.default_subs
        for index in range(5):
            if subs[index] is None:
                subs[index] = defaults[index]
        click_id = new_id() if method == "GET" else ""
        location = target.landing.fill(
            (  # in MACROS order
                click_id,
                subs[0] or "",
                subs[1] or "",
                subs[2] or "",
                subs[3] or "",
                subs[4] or "",
                target.affiliate_id,
                target.offer_id,
            )
        )
        if location is None:
            await _not_found(send, target)
            return
        visitor = _visitor_from(cookie) or click_id or new_id()  # a new visitor: its first click
        if method == "GET":
            ip = scope.get(CLIENT_IP_SCOPE_KEY, _UNRESOLVED)
            if ip is _UNRESOLVED:
                client = scope.get("client")
                ip = self._resolver.resolve(client[0] if client else None, forwarded)
            click = PendingClick(  # positional: the fields in their order, for speed
                click_id,
                self._clock.now(),
                target,
                subs,
                query.extra,
                ip,
                header_text(user_agent, USER_AGENT_MAX_CHARS) if user_agent else "",
                header_text(referrer, REFERRER_MAX_CHARS) if referrer else None,
                header_text(accept_language, ACCEPT_LANGUAGE_MAX_CHARS)
                if accept_language
                else None,
                visitor,
            )
            if not await self._commit(click, send):
                return
        await send(
            {
                "type": "http.response.start",
                "status": 302,
                "headers": [
                    (b"location", location.encode()),
                    (b"set-cookie", b"cl_vid=" + visitor.encode() + self._cookie_suffix),
                    _NO_STORE,
                    _EMPTY,
                ],
            }
        )
        await send({"type": "http.response.body", "body": b""})

    async def _commit(self, click: PendingClick, send: Send) -> bool:
        """Wait for the click's commit; on failure answer 503 and return False."""
        try:
            await self._committer.submit(click)
        except (QueueFull, CommitterStopped):
            await _answer(send, 503, b"busy, retry\n", [(b"retry-after", b"1")])
            return False
        except Exception:
            log.exception("click %s not recorded", click.click_id)
            await _answer(send, 503, b"click not recorded, retry\n", [(b"retry-after", b"1")])
            return False
        return True


async def _not_found(send: Send, target: LinkTarget | None) -> None:
    fallback = target.fallback_url if target is not None else None
    if fallback:
        await _answer(send, 302, b"", [(b"location", fallback.encode())])
    else:
        await _answer(send, 404, b"unknown link\n")


async def _answer(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    all_headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        _NO_STORE,
        *(headers or ()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": all_headers})
    await send({"type": "http.response.body", "body": body})


class ClickTracking:
    """The click capability of one process: link cache, writer, committer and handler, and
    on SQLite the thread that checkpoints the write-ahead log outside the click batches."""

    def __init__(self, runtime: Runtime) -> None:
        settings = runtime.settings
        self.runtime = runtime
        self.links = LinkCache(runtime.engine)
        self.enricher = Enricher()
        self.writer = ClickWriter(
            runtime.engine.dialect.name,
            IpPolicy(settings.ip_storage, settings.secret_key),
            self.enricher,
            runtime.clock,
        )
        # SQLite: WAL checkpoints in a thread of their own, never inside a click batch's commit
        self.checkpointer = WalCheckpointer(runtime.engine)
        self.committer: GroupCommitter[PendingClick, str] = GroupCommitter(
            runtime.engine,
            self._flush,
            name="clicks",
            max_batch_rows=settings.group_commit_max_batch_rows,
            max_queue_rows=settings.group_commit_max_queue_rows,
        )
        self.handler = ClickHandler(
            runtime, self.links, self.committer, ClientIpResolver(settings.trusted_proxies)
        )

    def _flush(self, conn: sa.Connection, batch: Sequence[PendingClick]) -> list[str]:
        self.checkpointer.before_batch(conn)
        return self.writer.flush(conn, batch)

    async def start(self) -> None:
        """Load GeoIP/UA data, remember the current hour's visitors, fill the link cache."""
        await asyncio.to_thread(self.enricher.load)
        await asyncio.to_thread(self.writer.warm_up, self.runtime.engine)
        await self.links.start()
        await asyncio.to_thread(self.checkpointer.start)
        self.committer.start()

    async def stop(self) -> None:
        """Stop refreshing links and commit every queued click."""
        await self.links.stop()
        await asyncio.to_thread(self.committer.stop)
        await asyncio.to_thread(self.checkpointer.stop)


def register(hot: HotPaths, runtime: Runtime) -> ClickTracking:
    """Serve ``/c/`` on ``hot`` and start/stop the click machinery with the app's lifespan."""
    tracking = ClickTracking(runtime)
    hot.prefixes.append((CLICK_PREFIX, tracking.handler))
    hot.on_startup.append(tracking.start)
    hot.on_shutdown.append(tracking.stop)
    return tracking
