"""Per-route request counts and latency histograms, recorded by the front ASGI app.

Cheap on purpose, because every click passes through it: plain dicts and
lists updated on the event loop thread (no locks, no label lookups), one
``perf_counter`` pair and one ``bisect`` per request.  ``/metrics`` turns the
totals into Prometheus series at scrape time (``collectors.HttpCollector``).

Labels are bounded: hot paths by their registered path (``/postback``) or
prefix (``/c/*``), API routes by their route template (``/api/v1/affiliates/
{affiliate_id}``), anything no route matched as ``unmatched``; methods outside
the usual seven as ``other``; status as the three-digit code.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field
from time import perf_counter

from clickledger.http.asgi import ASGIApp, Message, Receive, Scope, Send

LATENCY_BUCKETS_S = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                     1.0, 2.5, 5.0, 10.0)
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"
STATUS_BEFORE_RESPONSE = 500  # the handler raised before answering: the server sends a 500


@dataclass(slots=True)
class LatencyHistogram:
    """Non-cumulative bucket counts (the last slot is +Inf) and their sum."""

    counts: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BUCKETS_S) + 1))
    sum_s: float = 0.0


class _StatusSend:
    """Wraps ``send`` to remember the response status."""

    __slots__ = ("send", "status")

    def __init__(self, send: Send) -> None:
        self.send = send
        self.status = 0

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        await self.send(message)


class HttpMetrics:
    """Request totals per (route, method, status) and a latency histogram per route."""

    def __init__(self) -> None:
        self.requests: dict[tuple[str, str, int], int] = {}
        self.latency: dict[str, LatencyHistogram] = {}

    def record(self, route: str, method: str, status: int, seconds: float) -> None:
        """Count one answered request (the common case is two dict hits and a bisect)."""
        key = (route, method, status)
        requests = self.requests
        if key in requests:
            requests[key] += 1
        else:
            self._first(route, method, status)
        histogram = self.latency.get(route)
        if histogram is None:
            histogram = self.latency[route] = LatencyHistogram()
        histogram.counts[bisect_left(LATENCY_BUCKETS_S, seconds)] += 1
        histogram.sum_s += seconds

    def _first(self, route: str, method: str, status: int) -> None:
        """A key not seen yet: bound its labels, then count it."""
        key = (route, method if method in KNOWN_METHODS else "other",
               status or STATUS_BEFORE_RESPONSE)
        self.requests[key] = self.requests.get(key, 0) + 1

    async def observe(
        self, route: str, app: ASGIApp, scope: Scope, receive: Receive, send: Send
    ) -> None:
        """Run a hot-path handler, then count it under ``route``."""
        recorder = _StatusSend(send)
        started = perf_counter()
        try:
            await app(scope, receive, recorder)
        finally:
            self.record(route, scope["method"], recorder.status, perf_counter() - started)

    async def observe_framework(
        self, app: ASGIApp, scope: Scope, receive: Receive, send: Send
    ) -> None:
        """Run the framework app, then count it under the template of the route that matched."""
        recorder = _StatusSend(send)
        started = perf_counter()
        try:
            await app(scope, receive, recorder)
        finally:
            route = getattr(scope.get("route"), "path", None)
            self.record(route if isinstance(route, str) else UNMATCHED, scope["method"],
                        recorder.status, perf_counter() - started)
