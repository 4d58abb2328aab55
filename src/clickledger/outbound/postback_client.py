"""The dispatcher's HTTP client: one ``httpx.AsyncClient`` over small keep-alive pools.

- Keep-alive: HTTP/1.1 connections are pooled and reused across deliveries.
- One connection per pool: httpcore scans every connection of a pool (with a
  ``poll`` system call for each idle one, and a count of idle ones for each
  idle one) whenever a request enters or leaves it, so one pool of 64
  connections costs CPU per request in proportion to its size, and more.
  ``ConnectionSlots`` holds ``max_connections`` one-connection pools and lends
  each to one request at a time, preferring a warm connection to the request's
  origin (measured with ``bench/outbox_cpu.py``: see the module's docstring).
- Guarded: every new connection is opened through the SSRF guard's
  ``GuardedNetworkBackend``, over the plain asyncio backend.
- No cookies: a cookie set by one affiliate's tracker is never sent to another
  affiliate on the same host, and no cookie jar is parsed per response.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable

import httpx

from clickledger.outbound.ssrf import TargetGuard, guarded_transport

Origin = tuple[bytes, bytes, int | None]  # scheme, host, port


class ConnectionSlots(httpx.AsyncBaseTransport):
    """``max_connections`` one-connection transports, each lent to one request at a time.

    A request takes the idle slot that last spoke to its origin (its connection is
    kept alive and reused), else the slot idle longest (its old connection, if
    any, is closed and a new one opened).  The slot comes back when the response
    is closed.  At most ``max_connections`` requests are in flight; more wait.
    """

    def __init__(self, make_transport: Callable[[], httpx.AsyncBaseTransport],
                 max_connections: int) -> None:
        if max_connections < 1:
            raise ValueError("at least one connection")
        self._slots = [make_transport() for _ in range(max_connections)]
        self._free = asyncio.Semaphore(max_connections)
        # Idle slots, least recently used first, with the origin each last spoke to.
        self._idle: OrderedDict[int, Origin | None] = OrderedDict.fromkeys(
            range(max_connections))
        self._idle_by_origin: dict[Origin, dict[int, None]] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        origin = (url.raw_scheme, url.raw_host, url.port)
        await self._free.acquire()
        index = self._take(origin)
        try:
            response = await self._slots[index].handle_async_request(request)
        except BaseException:
            self._give_back(index, origin)
            raise
        if response.is_closed:  # read in full already (an in-memory answer)
            self._give_back(index, origin)
            return response
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _GivenBackOnClose(response.stream, self, index, origin)
        return response

    def _take(self, origin: Origin) -> int:
        warm = self._idle_by_origin.get(origin)
        if warm:
            index = next(reversed(warm))  # the most recently used connection
            del warm[index]
            if not warm:
                del self._idle_by_origin[origin]
            del self._idle[index]
            return index
        index, previous = self._idle.popitem(last=False)
        if previous is not None:
            others = self._idle_by_origin[previous]
            del others[index]
            if not others:
                del self._idle_by_origin[previous]
        return index

    def _give_back(self, index: int, origin: Origin) -> None:
        self._idle[index] = origin
        self._idle_by_origin.setdefault(origin, {})[index] = None
        self._free.release()

    async def aclose(self) -> None:
        for transport in self._slots:
            await transport.aclose()


class _GivenBackOnClose(httpx.AsyncByteStream):
    """A response body whose slot is given back (once) when it is closed."""

    def __init__(self, inner: httpx.AsyncByteStream, slots: ConnectionSlots, index: int,
                 origin: Origin) -> None:
        self._inner = inner
        self._slots: ConnectionSlots | None = slots
        self._index = index
        self._origin = origin

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        finally:
            slots, self._slots = self._slots, None
            if slots is not None:
                slots._give_back(self._index, self._origin)


class _NoCookies(httpx.Cookies):
    """A jar that stays empty: responses' ``Set-Cookie`` headers are ignored."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


class CookielessClient(httpx.AsyncClient):
    """An ``httpx.AsyncClient`` that neither keeps nor sends cookies."""

    _no_cookies = _NoCookies()

    @property
    def cookies(self) -> httpx.Cookies:
        return self._no_cookies

    @cookies.setter
    def cookies(self, cookies: object) -> None:
        if cookies:
            raise ValueError("the postback client sends no cookies")


def guarded_pools(guard: TargetGuard, max_connections: int) -> ConnectionSlots:
    """``max_connections`` keep-alive connections, each opened through ``guard``."""
    context = httpx.create_ssl_context()  # loading the CA bundle is slow: share one
    return ConnectionSlots(lambda: guarded_transport(guard, 1, context), max_connections)


def postback_client(transport: httpx.AsyncBaseTransport, timeout_s: float,
                    user_agent: str) -> CookielessClient:
    """The client: no redirects followed (a 3xx is a failure), no proxies from the environment."""
    return CookielessClient(transport=transport, timeout=httpx.Timeout(timeout_s),
                            follow_redirects=False, trust_env=False,
                            headers={"user-agent": user_agent})
