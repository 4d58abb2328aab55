"""``GET /metrics`` (Prometheus) and ``GET /readyz`` (readiness), plain ASGI like the hot paths.

``/metrics`` answers only peers in ``settings.metrics_allowed_ips`` (loopback by
default) or callers presenting ``settings.metrics_token`` as a bearer token;
anyone else gets 404, as for anything they may not see.  The peer is the TCP
peer: ``X-Forwarded-For`` is never believed here.

``/readyz`` answers 200 when the database answers, its schema is at the
newest migration and every group committer's writer runs; otherwise 503 with
the failing checks, so a load balancer stops sending traffic.  (``/healthz``
is liveness: the process answers.)
"""

from __future__ import annotations

import asyncio
import hmac
import json
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from clickledger.http.asgi import Receive, Scope, Send, header, respond
from clickledger.operations.collectors import CommitterCollector, DatabaseCollector, HttpCollector
from clickledger.operations.database_gauges import DatabaseGauges
from clickledger.operations.http_metrics import HttpMetrics
from clickledger.runtime import Runtime
from clickledger.store import migrate
from clickledger.store.group_commit import GroupCommitter
from clickledger.tracking.client_ip import (
    InvalidTrustedProxy,
    IpNetwork,
    parse_ip,
    parse_networks,
)

if TYPE_CHECKING:
    from clickledger.http.app import HotPaths

METRICS_PATH = "/metrics"
READY_PATH = "/readyz"
READY_TIMEOUT_S = 3.0
JSON = b"application/json"
_NO_STORE = [(b"cache-control", b"no-store")]


class MetricsHandler:
    """Serves the Prometheus text format to allowed peers."""

    def __init__(self, registry: CollectorRegistry, gauges: DatabaseGauges,
                 allowed: tuple[IpNetwork, ...], token: str | None) -> None:
        self._registry = registry
        self._gauges = gauges
        self._allowed = allowed
        self._token = token.encode() if token else None

    def allows(self, scope: Scope) -> bool:
        """True for an allowed TCP peer or the right bearer token."""
        if self._token is not None:
            authorization = header(scope, b"authorization") or b""
            if authorization[:7].lower() == b"bearer " and hmac.compare_digest(
                    authorization[7:].strip(), self._token):
                return True
        client = scope.get("client")
        peer = parse_ip(client[0]) if client else None
        return peer is not None and any(peer in network for network in self._allowed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.allows(scope):
            await respond(send, 404, b"not found\n", _NO_STORE)
            return
        if scope["method"] not in ("GET", "HEAD"):
            await respond(send, 405, b"method not allowed\n", [(b"allow", b"GET, HEAD")])
            return
        await self._gauges.refresh()
        body = generate_latest(self._registry)
        await respond(send, 200, b"" if scope["method"] == "HEAD" else body, _NO_STORE,
                      content_type=CONTENT_TYPE_LATEST.encode())


class ReadinessHandler:
    """Database reachable, schema at head, group committers running: 200, else 503."""

    def __init__(self, runtime: Runtime, committers: list[GroupCommitter[Any, Any]]) -> None:
        self._engine = runtime.engine
        self._committers = committers
        self._head: str | None = None

    def _database_checks(self) -> dict[str, str]:
        if self._head is None:
            self._head = migrate.head_revision(self._engine)
        with self._engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        current = migrate.current_revision(self._engine)
        schema = "ok" if current == self._head else f"at {current}, newest is {self._head}"
        return {"database": "ok", "schema": schema}

    async def checks(self) -> dict[str, str]:
        """Each check's outcome: ``ok`` or what is wrong."""
        try:
            found = await asyncio.wait_for(asyncio.to_thread(self._database_checks),
                                           READY_TIMEOUT_S)
        except TimeoutError:
            found = {"database": f"no answer within {READY_TIMEOUT_S:g} s", "schema": "unknown"}
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready", with its reason
            found = {"database": f"unreachable: {exc.__class__.__name__}", "schema": "unknown"}
        for committer in self._committers:
            found[f"committer:{committer.name}"] = "ok" if committer.running else "stopped"
        return found

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] not in ("GET", "HEAD"):
            await respond(send, 405, b"method not allowed\n", [(b"allow", b"GET, HEAD")])
            return
        found = await self.checks()
        ready = all(outcome == "ok" for outcome in found.values())
        body = json.dumps({"status": "ready" if ready else "not_ready", "checks": found})
        await respond(send, 200 if ready else 503, body.encode(), _NO_STORE, content_type=JSON)


def build_registry(
    hot: HotPaths, metrics: HttpMetrics, gauges: DatabaseGauges
) -> CollectorRegistry:
    """A registry of this app's collectors plus the process, platform and GC ones."""
    registry = CollectorRegistry(auto_describe=False)
    for collector in (HttpCollector(metrics), CommitterCollector(hot.committers),
                      DatabaseCollector(gauges)):
        registry.register(collector)
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return registry


def register(hot: HotPaths, runtime: Runtime) -> None:
    """Serve ``/readyz`` and, unless disabled, ``/metrics`` (and time every request)."""
    settings = runtime.settings
    hot.exact[READY_PATH] = ReadinessHandler(runtime, hot.committers)
    if not settings.metrics_enabled:
        return
    metrics = HttpMetrics()
    gauges = DatabaseGauges(runtime.engine, runtime.clock, settings.metrics_db_cache_seconds)
    try:
        allowed = parse_networks(settings.metrics_allowed_ips)
    except InvalidTrustedProxy as exc:
        raise ValueError(f"metrics_allowed_ips: {settings.metrics_allowed_ips!r} holds an entry "
                         "that is neither an IP address nor a CIDR") from exc
    hot.metrics = metrics
    hot.exact[METRICS_PATH] = MetricsHandler(
        build_registry(hot, metrics, gauges), gauges, allowed, settings.metrics_token)
