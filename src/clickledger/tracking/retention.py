"""Privacy of raw clicks: how IPs are stored, and pruning raw clicks past their retention.

IP storage (``settings.ip_storage``):

* ``full`` — the address as received;
* ``truncated`` — IPv4 to its /24 (``203.0.113.0``), IPv6 to its /48;
* ``hashed`` — HMAC-SHA256 keyed with ``settings.secret_key`` (64 hex characters):
  equal addresses still match each other, but the address cannot be read back
  without the key, and a dictionary of all IPv4 addresses is useless without it.

The country is looked up from the full address before it is truncated or hashed.

Pruning deletes raw clicks older than ``click_retention_days`` in bounded
chunks; the hourly rollups are kept, so reports are unchanged.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from datetime import datetime, timedelta
from typing import Literal

import sqlalchemy as sa

from clickledger.store.tables import clicks

IpStorage = Literal["full", "truncated", "hashed"]
IPV4_KEEP_PREFIX = 24
IPV6_KEEP_PREFIX = 48
PRUNE_CHUNK_ROWS = 5000
IP_MAX_CHARS = 64


class IpPolicy:
    """Turns a client address into the form kept in ``clicks.ip``."""

    def __init__(self, mode: IpStorage, secret_key: str) -> None:
        self.mode = mode
        self._key = secret_key.encode()

    def stored(self, address: str | None) -> str | None:
        if not address:
            return None
        if self.mode == "full":
            return address[:IP_MAX_CHARS]
        if self.mode == "hashed":
            return hmac.new(self._key, address.encode(), hashlib.sha256).hexdigest()
        return truncate_ip(address)


def truncate_ip(address: str) -> str | None:
    """The network part of ``address`` (IPv4 /24, IPv6 /48); None when it is not an IP."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return None
    prefix = IPV4_KEEP_PREFIX if parsed.version == 4 else IPV6_KEEP_PREFIX
    return str(ipaddress.ip_network(f"{parsed}/{prefix}", strict=False).network_address)


def prune_clicks(engine: sa.Engine, older_than_days: int, now: datetime) -> int:
    """Delete raw clicks created before ``now - older_than_days``; return how many."""
    if older_than_days < 1:
        raise ValueError("older_than_days must be at least 1")
    cutoff = now - timedelta(days=older_than_days)
    chunk = (
        sa.select(clicks.c.id)
        .where(clicks.c.created_at < cutoff)
        .limit(PRUNE_CHUNK_ROWS)
        .scalar_subquery()
    )
    deleted_rows = 0
    while True:
        with engine.begin() as conn:
            deleted = conn.execute(sa.delete(clicks).where(clicks.c.id.in_(chunk))).rowcount
        deleted_rows += deleted
        if deleted < PRUNE_CHUNK_ROWS:
            return deleted_rows
