"""The ASGI application: hot paths dispatched by prefix, everything else to FastAPI.

Clicks, pixels and postbacks are plain ASGI handlers registered in
``HotPaths``; they never enter the framework's routing, middleware or
validation.  The admin API, docs and web pages are served by FastAPI behind.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from clickledger.http.asgi import ASGIApp, Receive, Scope, Send
from clickledger.runtime import Runtime

if TYPE_CHECKING:
    from clickledger.operations.http_metrics import HttpMetrics
    from clickledger.store.group_commit import GroupCommitter

Lifecycle = Callable[[], Awaitable[None]]


@dataclass
class HotPaths:
    """Exact paths and path prefixes served by plain ASGI handlers.

    ``committers`` lists every group committer of the process (for metrics and
    readiness); ``metrics``, when set, times every request in the front app.
    """

    exact: dict[str, ASGIApp] = field(default_factory=dict)
    prefixes: list[tuple[str, ASGIApp]] = field(default_factory=list)
    on_startup: list[Lifecycle] = field(default_factory=list)
    on_shutdown: list[Lifecycle] = field(default_factory=list)
    committers: list[GroupCommitter[Any, Any]] = field(default_factory=list)
    metrics: HttpMetrics | None = None

    def match(self, path: str) -> ASGIApp | None:
        handler = self.exact.get(path)
        if handler is not None:
            return handler
        for prefix, prefix_handler in self.prefixes:
            if path.startswith(prefix):
                return prefix_handler
        return None

    def route(self, path: str) -> tuple[str, ASGIApp] | None:
        """The handler for ``path`` with its metrics label (the path, or ``prefix*``)."""
        handler = self.exact.get(path)
        if handler is not None:
            return path, handler
        for prefix, prefix_handler in self.prefixes:
            if path.startswith(prefix):
                return prefix + "*", prefix_handler
        return None


class ClickLedgerApp:
    """Front ASGI app: routes hot paths itself and hands the rest to the framework app."""

    def __init__(self, runtime: Runtime, hot: HotPaths, framework: ASGIApp) -> None:
        self.runtime = runtime
        self.hot = hot
        self.framework = framework

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            metrics = self.hot.metrics
            if metrics is not None:
                found = self.hot.route(scope["path"])
                if found is not None:
                    await metrics.observe(found[0], found[1], scope, receive, send)
                else:
                    await metrics.observe_framework(self.framework, scope, receive, send)
                return
            handler = self.hot.match(scope["path"])
            if handler is not None:
                await handler(scope, receive, send)
                return
        elif scope["type"] == "lifespan":
            await self._lifespan(scope, receive, send)
            return
        await self.framework(scope, receive, send)

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                for start in self.hot.on_startup:
                    await start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                for stop in self.hot.on_shutdown:
                    await stop()
                await send({"type": "lifespan.shutdown.complete"})
                return


def create_app(runtime: Runtime) -> ClickLedgerApp:
    """Wire every hot-path handler and the admin API around one runtime."""
    from clickledger.http.api.main import create_api  # noqa: PLC0415 - keeps import graph flat
    from clickledger.http.hot_paths import register_hot_paths  # noqa: PLC0415

    hot = HotPaths()
    register_hot_paths(hot, runtime)
    return ClickLedgerApp(runtime, hot, create_api(runtime))
