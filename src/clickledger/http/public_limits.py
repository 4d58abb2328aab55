"""Rate limits on the public hot paths: token buckets per client address and per integration.

* ``GET /c/{code}`` (clicks): per client address, ``click_rate_per_ip_per_s`` with bursts of
  ``click_burst_per_ip``.  Over it: ``429`` with ``Retry-After``, no click recorded, no
  redirect.
* ``/p.gif`` (pixel): per pixel key and client address (``pixel_*_per_ip``) and per pixel key
  (``pixel_*_per_key``).  Over it: the GIF as always (a thank-you page never breaks) with
  ``X-CL-Status: rejected``, ``X-CL-Reason: rate_limited`` and ``Retry-After``; nothing stored.
* ``/postback`` and ``/api/v1/events``: per integration, *after* the signature is verified
  (``postback_*_per_integration``; a batch spends one token per event).  Over it: ``429``
  ``rate_limited`` with ``Retry-After``; nothing stored.  Counting only verified requests
  means nobody without the integration's secret can spend its budget; per source address
  before verification would let a neighbour behind the operator's NAT (or a forged flood
  from any address an allowlist does not stop) starve the operator's real postbacks, and an
  operator usually sends from one or two addresses anyway.

The client address is the one ``tracking.client_ip`` resolves (``X-Forwarded-For`` only from
``trusted_proxies``).  Requests whose address is unknown or in ``public_rate_exempt_ips``
(loopback by default: a local reverse proxy not listed as trusted, local tools) are never
refused per address — behind such a proxy every client would otherwise share one budget.

Every limit is per process (N server processes allow N times the rate); a rate of 0 turns
it off.  Memory is bounded: each limiter tracks at most ``public_rate_max_tracked_keys``
keys and forgets the least recently used first (a forgotten key starts with a full bucket).
The buckets live on the event loop's thread only, so they take no lock.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from clickledger.http.asgi import ASGIApp, Receive, Scope, Send, respond
from clickledger.tracking.client_ip import (
    ClientIpResolver,
    InvalidTrustedProxy,
    parse_ip,
    parse_networks,
)

if TYPE_CHECKING:
    from clickledger.http.app import HotPaths
    from clickledger.settings import Settings

CLICK_PREFIX = "/c/"  # = tracking.click.CLICK_PREFIX (that module loads the click machinery)
# The client address ``ClickLimit`` resolved through trusted proxies, left in the scope for the
# click handler (= tracking.click.CLIENT_IP_SCOPE_KEY), so X-Forwarded-For is walked once.
CLIENT_IP_SCOPE_KEY = "clickledger.client_ip"
_EXEMPT_CACHE_MAX = 4096
_TOO_MANY_CLICKS = b"too many clicks from this address, retry later\n"


class TokenBuckets:
    """Token buckets by key: bursts of ``burst`` tokens, refilled at ``rate_per_s``.

    At most ``max_keys`` buckets are kept; a new key beyond that forgets the least
    recently used one.  Not thread-safe (used from the event loop only).
    """

    __slots__ = ("_buckets", "_monotonic", "burst", "max_keys", "rate_per_s")

    def __init__(
        self,
        rate_per_s: float,
        burst: int,
        max_keys: int,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate_per_s <= 0 or burst < 1 or max_keys < 1:
            raise ValueError("rate_per_s must be positive, burst and max_keys at least 1")
        self.rate_per_s = float(rate_per_s)
        self.burst = float(burst)
        self.max_keys = max_keys
        self._monotonic = monotonic
        self._buckets: OrderedDict[str, list[float]] = OrderedDict()  # key → [tokens, at_s]

    def __len__(self) -> int:
        return len(self._buckets)

    def __contains__(self, key: object) -> bool:
        return key in self._buckets

    def take(self, key: str, cost: int = 1) -> float | None:
        """Spend ``cost`` tokens of ``key``: ``None`` when allowed, else seconds to wait.

        A cost above the burst spends a full bucket (a large batch is slowed, never
        refused for ever).  A refusal spends nothing.
        """
        now_s = self._monotonic()
        buckets = self._buckets
        bucket = buckets.get(key)
        if bucket is None:
            if len(buckets) >= self.max_keys:
                buckets.popitem(last=False)
            bucket = buckets[key] = [self.burst, now_s]
        else:
            buckets.move_to_end(key)
            tokens = bucket[0] + (now_s - bucket[1]) * self.rate_per_s
            bucket[0] = tokens if tokens < self.burst else self.burst
            bucket[1] = now_s
        need = cost if cost < self.burst else self.burst
        if bucket[0] >= need:
            bucket[0] -= need
            return None
        return (need - bucket[0]) / self.rate_per_s


def retry_after_s(wait_s: float) -> int:
    """Whole seconds for a ``Retry-After`` header (at least 1)."""
    return max(1, math.ceil(wait_s))


def buckets_or_none(rate_per_s: float, burst: int, max_keys: int) -> TokenBuckets | None:
    """Buckets for a configured limit, or None when its rate is 0 (the limit is off)."""
    return TokenBuckets(rate_per_s, burst, max_keys) if rate_per_s > 0 else None


class ExemptAddresses:
    """Membership in ``public_rate_exempt_ips`` (addresses or CIDRs), cached per address."""

    def __init__(self, entries: Iterable[str]) -> None:
        try:
            self._networks = parse_networks(entries)
        except InvalidTrustedProxy as exc:
            raise ValueError(f"public_rate_exempt_ips: {exc}") from exc
        self._known: dict[str, bool] = {}

    def __contains__(self, ip: object) -> bool:
        if not isinstance(ip, str):
            return False
        known = self._known.get(ip)
        if known is None:
            known = self.learn(ip)
        return known

    @property
    def known(self) -> dict[str, bool]:
        """The cache itself (address → exempt; cleared, never replaced, when full), for a
        caller's own look-up: ``known.get(ip)``, and ``learn(ip)`` when it is missing."""
        return self._known

    def learn(self, ip: str) -> bool:
        """Whether ``ip`` is exempt, remembered in ``known``."""
        address = parse_ip(ip)
        known = address is not None and any(address in n for n in self._networks)
        if len(self._known) >= _EXEMPT_CACHE_MAX:
            self._known.clear()
        self._known[ip] = known
        return known


class AddressLimit:
    """Buckets keyed by client address (optionally under a prefix), with the exemptions."""

    def __init__(self, buckets: TokenBuckets, exempt: ExemptAddresses) -> None:
        self.buckets = buckets
        self.exempt = exempt

    def take(self, ip: str | None, prefix: str = "") -> float | None:
        """``None`` when ``ip`` may go on, else seconds to wait.  Exemptions are looked up
        only on a refusal, so the usual path is one bucket update."""
        if ip is None:
            return None  # no address to limit by (a Unix socket): never refused per address
        wait_s = self.buckets.take(prefix + ip if prefix else ip)
        if wait_s is not None and ip in self.exempt:
            return None
        return wait_s


@dataclass
class IngestLimits:
    """The ingestion limiters of one process (``None``: that limit is off)."""

    pixel_per_ip: AddressLimit | None
    pixel_per_key: TokenBuckets | None
    per_integration: TokenBuckets | None

    @classmethod
    def from_settings(cls, settings: Settings) -> IngestLimits:
        keys = settings.public_rate_max_tracked_keys
        exempt = ExemptAddresses(settings.public_rate_exempt_ips)
        per_ip = buckets_or_none(
            settings.pixel_rate_per_ip_per_s, settings.pixel_burst_per_ip, keys
        )
        return cls(
            pixel_per_ip=AddressLimit(per_ip, exempt) if per_ip is not None else None,
            pixel_per_key=buckets_or_none(
                settings.pixel_rate_per_key_per_s, settings.pixel_burst_per_key, keys
            ),
            per_integration=buckets_or_none(
                settings.postback_rate_per_integration_per_s,
                settings.postback_burst_per_integration,
                keys,
            ),
        )


class ClickLimit:
    """ASGI wrapper in front of the click handler: one bucket per client address.

    The usual path is one cached exemption look-up (a dict hit) and, for an address that
    is not exempt, one bucket update.  Behind trusted proxies the resolved address is left
    in the scope (``CLIENT_IP_SCOPE_KEY``) for the handler.
    """

    def __init__(
        self,
        app: ASGIApp,
        buckets: TokenBuckets,
        exempt: ExemptAddresses,
        trusted_proxies: list[str],
    ) -> None:
        self.app = app
        self.buckets = buckets
        self.exempt = exempt
        self._exempt_known = exempt.known
        self._resolver = ClientIpResolver(trusted_proxies)
        self._behind_proxies = bool(trusted_proxies)

    def _forwarded_client(self, scope: Scope, peer: str | None) -> str | None:
        forwarded: bytes | None = None
        for name, value in scope["headers"]:
            if name == b"x-forwarded-for":
                forwarded = value if forwarded is None else forwarded + b"," + value
        return self._resolver.resolve(peer, forwarded)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        ip: str | None = client[0] if client else None
        if self._behind_proxies:  # X-Forwarded-For is believed only from trusted proxies
            ip = scope[CLIENT_IP_SCOPE_KEY] = self._forwarded_client(scope, ip)
        if ip is not None:  # no address (a Unix socket): never refused per address
            exempt = self._exempt_known.get(ip)
            if exempt is None:
                exempt = self.exempt.learn(ip)
            wait_s = None if exempt else self.buckets.take(ip)
            if wait_s is not None:
                await respond(
                    send,
                    429,
                    _TOO_MANY_CLICKS,
                    [
                        (b"retry-after", str(retry_after_s(wait_s)).encode()),
                        (b"cache-control", b"no-store"),
                    ],
                )
                return
        await self.app(scope, receive, send)


def limit_clicks(hot: HotPaths, settings: Settings) -> ClickLimit | None:
    """Put the per-address click limit in front of the ``/c/`` handler (None when off)."""
    buckets = buckets_or_none(
        settings.click_rate_per_ip_per_s,
        settings.click_burst_per_ip,
        settings.public_rate_max_tracked_keys,
    )
    if buckets is None:
        return None
    exempt = ExemptAddresses(settings.public_rate_exempt_ips)
    for index, (prefix, handler) in enumerate(hot.prefixes):
        if prefix == CLICK_PREFIX:
            wrapped = ClickLimit(handler, buckets, exempt, settings.trusted_proxies)
            hot.prefixes[index] = (prefix, wrapped)
            return wrapped
    raise LookupError("the click handler must be registered before its limit")
