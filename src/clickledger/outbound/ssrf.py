"""SSRF guard for affiliate-supplied targets (OWASP API7).

A target is refused when its URL is not plain http/https, carries credentials,
or its host resolves to any loopback, private, link-local, shared (CGNAT),
multicast, reserved or unspecified address (IPv4-mapped IPv6 included).
``allow_loopback`` (the ``allow_loopback_targets`` setting) admits loopback
only, for tests and demos.  The check runs when a template is saved, again
before each send, and a third time inside the connection itself
(``GuardedNetworkBackend``), so a DNS answer that changes between check and
connect (rebinding) still cannot reach an internal address.  An approved host
is remembered for ``RESOLVE_CACHE_SECONDS`` (a refusal never is), so the checks
cost a dictionary look-up per delivery, not a DNS query.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import SplitResult, urlsplit

import httpcore
import httpx

from clickledger.outbound.asyncio_backend import AsyncioBackend

Resolver = Callable[[str], Sequence[str]]
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

ALLOWED_SCHEMES = frozenset({"http", "https"})
RESOLVE_CACHE_SECONDS = 30.0
RESOLVE_CACHE_MAX_HOSTS = 10_000


class TargetNotAllowed(ValueError):
    """The target URL may not be called; ``code`` is always ``target_not_allowed``."""

    code = "target_not_allowed"


def system_resolver(host: str) -> list[str]:
    """Every address ``host`` resolves to (A and AAAA), via the system resolver."""
    infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    return sorted({str(info[4][0]) for info in infos})


def _literal(host: str) -> IpAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def _unmapped(address: IpAddress) -> IpAddress:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def address_refusal(address: IpAddress, allow_loopback: bool) -> str | None:
    """Why ``address`` may not be a target, or None when it may."""
    ip = _unmapped(address)
    if ip.is_loopback:
        return None if allow_loopback else "loopback address"
    if ip.is_unspecified:
        return "unspecified address"
    if ip.is_link_local:
        return "link-local address"
    if ip.is_multicast:
        return "multicast address"
    if ip.is_private:
        return "private address"
    if ip.is_reserved or not ip.is_global:
        return "reserved or non-global address"
    return None


def parse_target(url: str) -> SplitResult:
    """Check the URL's shape: http/https, a host, no credentials, a valid port."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise TargetNotAllowed(f"not a valid URL: {exc}") from exc
    if parts.scheme.lower() not in ALLOWED_SCHEMES:
        raise TargetNotAllowed("only http and https targets are allowed")
    if parts.username is not None or parts.password is not None:
        raise TargetNotAllowed("credentials in the URL are not allowed")
    if not parts.hostname:
        raise TargetNotAllowed("the URL has no host")
    if port == 0:
        raise TargetNotAllowed("port 0 is not allowed")
    return parts


@dataclass
class TargetGuard:
    """Checks URLs and hosts; ``resolver`` is injectable so tests never touch real DNS."""

    allow_loopback: bool = False
    resolver: Resolver = system_resolver
    cache_seconds: float = RESOLVE_CACHE_SECONDS
    _cache: dict[str, tuple[float, tuple[str, ...]]] = field(default_factory=dict, repr=False)
    # host -> (expiry, the checked address): a refusal is never cached, an approval briefly
    _verified: dict[str, tuple[float, str]] = field(default_factory=dict, repr=False)

    def resolve_allowed(self, host: str) -> str:
        """An address of ``host`` to connect to, after checking every address it resolves to."""
        verified = self._verified.get(host)
        if verified is not None and verified[0] > time.monotonic():
            return verified[1]
        address = self._check_host(host)
        if len(self._verified) >= RESOLVE_CACHE_MAX_HOSTS:
            self._verified.clear()
        self._verified[host] = (time.monotonic() + self.cache_seconds, address)
        return address

    def _check_host(self, host: str) -> str:
        literal = _literal(host)
        addresses = (str(literal),) if literal is not None else self._resolve(host)
        if not addresses:
            raise TargetNotAllowed(f"{host} does not resolve")
        for text in addresses:
            address = _literal(text)
            if address is None:
                raise TargetNotAllowed(f"{host} resolved to a non-address {text!r}")
            reason = address_refusal(address, self.allow_loopback)
            if reason is not None:
                raise TargetNotAllowed(f"{host} resolves to a {reason} ({text})")
        return addresses[0]

    def check_url(self, url: str) -> str:
        """Check ``url`` entirely (shape and every resolved address); returns the address used."""
        parts = parse_target(url)
        assert parts.hostname is not None
        return self.resolve_allowed(parts.hostname)

    async def check_url_async(self, url: str) -> str:
        """``check_url`` without blocking the event loop on a DNS lookup."""
        parts = parse_target(url)
        assert parts.hostname is not None
        host = parts.hostname
        verified = self._verified.get(host)
        if verified is not None and verified[0] > time.monotonic():
            return verified[1]
        if _literal(host) is None and not self._cached(host):
            await asyncio.to_thread(self._resolve, host)
        return self.resolve_allowed(host)

    def _cached(self, host: str) -> bool:
        hit = self._cache.get(host)
        return hit is not None and hit[0] > time.monotonic()

    def _resolve(self, host: str) -> tuple[str, ...]:
        hit = self._cache.get(host)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        try:
            addresses = tuple(self.resolver(host))
        except OSError as exc:
            raise TargetNotAllowed(f"{host} does not resolve: {exc}") from exc
        if len(self._cache) >= RESOLVE_CACHE_MAX_HOSTS:
            self._cache.clear()
        self._cache[host] = (time.monotonic() + self.cache_seconds, addresses)
        return addresses


class GuardedNetworkBackend(httpcore.AsyncNetworkBackend):
    """Connects only to addresses the guard allows, whatever the name resolves to now."""

    def __init__(self, guard: TargetGuard, inner: httpcore.AsyncNetworkBackend | None = None):
        self._guard = guard
        self._inner = inner or AsyncioBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            address = self._guard.resolve_allowed(host)
        except TargetNotAllowed as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        return await self._inner.connect_tcp(
            address, port, timeout=timeout, local_address=local_address,
            socket_options=socket_options,
        )

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not allowed targets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def guarded_transport(
    guard: TargetGuard, max_connections: int, ssl_context: ssl.SSLContext | None = None
) -> httpx.AsyncHTTPTransport:
    """An httpx transport whose every new connection goes through ``guard``.

    httpx has no public hook for the network backend, so the transport's pool
    is rebuilt with the same limits and a ``GuardedNetworkBackend``.  Pass one
    ``ssl_context`` to several transports: loading the CA bundle is slow.
    """
    context = ssl_context or httpx.create_ssl_context()
    limits = httpx.Limits(max_connections=max_connections,
                          max_keepalive_connections=max_connections)
    transport = httpx.AsyncHTTPTransport(verify=context, limits=limits, retries=0)
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=context,
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        http1=True,
        http2=False,
        retries=0,
        network_backend=GuardedNetworkBackend(guard),
    )
    return transport
