"""In-memory directory of operator integrations (secrets, maps, allowlists) with a refresh.

The hot paths authenticate every request against this cache instead of the
database.  It reloads everything every ``refresh_s`` seconds and on a miss,
but at most once per ``miss_reload_s`` (0.2 s) so unknown keys cannot hammer the
database.  A disabled or deleted integration stops working within
``refresh_s``.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from dataclasses import dataclass

import sqlalchemy as sa

from clickledger.ingest.mapping import normalize_maps
from clickledger.store import tables as t

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


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


class IntegrationDirectory:
    """Integrations by id and by pixel key, reloaded from the database periodically."""

    def __init__(
        self, engine: sa.Engine, refresh_s: float = 10.0, miss_reload_s: float = 0.2
    ) -> None:
        self._engine = engine
        self.refresh_s = refresh_s
        self.miss_reload_s = miss_reload_s
        self._by_id: dict[str, IntegrationInfo] = {}
        self._by_pixel_key: dict[str, IntegrationInfo] = {}
        self._loaded_at = float("-inf")
        self._lock = threading.Lock()

    def reload(self) -> None:
        with self._engine.connect() as conn:
            rows = conn.execute(sa.select(t.integrations)).all()
        infos = [_info(row) for row in rows]
        with self._lock:
            self._by_id = {info.id: info for info in infos}
            self._by_pixel_key = {info.pixel_key: info for info in infos if info.pixel_key}
            self._loaded_at = time.monotonic()

    def _fresh(self, miss: bool) -> None:
        age_s = time.monotonic() - self._loaded_at
        if age_s > self.refresh_s or (miss and age_s > self.miss_reload_s):
            self.reload()

    def by_id(self, integration_id: str) -> IntegrationInfo | None:
        self._fresh(miss=False)
        info = self._by_id.get(integration_id)
        if info is None:
            self._fresh(miss=True)
            info = self._by_id.get(integration_id)
        return info

    def by_pixel_key(self, pixel_key: str) -> IntegrationInfo | None:
        self._fresh(miss=False)
        info = self._by_pixel_key.get(pixel_key)
        if info is None:
            self._fresh(miss=True)
            info = self._by_pixel_key.get(pixel_key)
        return info
