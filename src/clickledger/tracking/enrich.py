"""Click enrichment: country (offline geoip2fast data), device/OS/browser/bot (ua-parser).

It runs in the click writer thread, before the batch is inserted, never on the
request's path: the request only queues its raw click.  Running it there (and
not in a later background pass) keeps the rollup's country dimension right
from the first write, lets the country be read from the full IP before the IP
is truncated or hashed, and costs no second write per click.  Measured here:
a geoip2fast lookup ~7 µs, a ua-parser miss ~30 µs, a hit in the caches below
well under 1 µs.  Both caches are bounded.
"""

from __future__ import annotations

import re
import threading
from typing import Any, NamedTuple

GEO_DATA_FILE = "geoip2fast-ipv6.dat.gz"  # IPv4 and IPv6, shipped inside the package
UA_CACHE_MAX = 20_000
GEO_CACHE_MAX = 50_000
_BOT_RE = re.compile(
    r"bot|crawl|spider|slurp|preview|facebookexternalhit|headless|curl|wget|python-|httpclient"
    r"|java/|go-http-client|okhttp|libwww|scrapy|phantomjs|lighthouse",
    re.IGNORECASE,
)

_geo_lock = threading.Lock()
_geo_db: Any = None


class UaFacts(NamedTuple):
    device: str | None
    os: str | None
    browser: str | None
    is_bot: bool


_EMPTY_UA = UaFacts(None, None, None, False)


def _load_geo() -> Any:
    """The geoip2fast database, loaded once per process (~0.25 s, ~20 MB)."""
    global _geo_db
    with _geo_lock:
        if _geo_db is None:
            from geoip2fast import GeoIP2Fast  # noqa: PLC0415 - heavy, loaded on first use

            _geo_db = GeoIP2Fast(geoip2fast_data_file=GEO_DATA_FILE)
        return _geo_db


def _cut(text: str | None, max_chars: int) -> str | None:
    return text[:max_chars] if text else None


class Enricher:
    """Country and user-agent facts for clicks, with bounded caches (one writer thread)."""

    def __init__(self) -> None:
        self._geo: Any = None
        self._geo_cache: dict[str, str | None] = {}
        self._ua_cache: dict[str, UaFacts] = {}

    def load(self) -> None:
        """Load the GeoIP database and the UA parser (slow; call at startup)."""
        self._geo = _load_geo()
        self.user_agent("Mozilla/5.0")

    def country(self, address: str | None) -> str | None:
        """ISO-3166 alpha-2 country of ``address``; None for private, unknown or invalid."""
        if not address:
            return None
        cache = self._geo_cache
        if address in cache:
            return cache[address]
        if self._geo is None:
            self._geo = _load_geo()
        code = self._geo.lookup(address).country_code
        found = code if isinstance(code, str) and len(code) == 2 and code.isalpha() else None
        if len(cache) >= GEO_CACHE_MAX:
            cache.clear()
        cache[address] = found
        return found

    def user_agent(self, ua: str | None) -> UaFacts:
        """Device family, OS family, browser family and a bot flag for ``ua``."""
        if not ua:
            return _EMPTY_UA
        cache = self._ua_cache
        facts = cache.get(ua)
        if facts is None:
            facts = _parse_ua(ua)
            if len(cache) >= UA_CACHE_MAX:
                cache.clear()
            cache[ua] = facts
        return facts


def _parse_ua(ua: str) -> UaFacts:
    from ua_parser import parse  # noqa: PLC0415 - loads its regexes on first use

    result = parse(ua)
    device = result.device.family if result.device else None
    os_name = result.os.family if result.os else None
    browser = result.user_agent.family if result.user_agent else None
    is_bot = device == "Spider" or _BOT_RE.search(ua) is not None
    return UaFacts(_cut(device, 40), _cut(os_name, 60), _cut(browser, 60), is_bot)
