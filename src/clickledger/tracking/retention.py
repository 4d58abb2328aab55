"""Privacy of raw clicks: how IPs are stored, and pruning raw clicks past their retention.

IP storage (``settings.ip_storage``):

* ``full`` — the address as received;
* ``truncated`` — IPv4 to its /24 (``203.0.113.0``), IPv6 to its /48;
* ``hashed`` — HMAC-SHA256 keyed with ``settings.secret_key`` (64 hex characters):
  equal addresses still match each other, but the address cannot be read back
  without the key, and a dictionary of all IPv4 addresses is useless without it.

The country is looked up from the full address before it is truncated or hashed.

Pruning removes raw clicks older than ``click_retention_days``; the hourly
rollups are kept, so reports are unchanged.  On PostgreSQL with ``clicks``
partitioned by month of ``created_at`` (docs/scaling.md), every partition that
ended before the cut-off is dropped whole (instant, no vacuum); then the rows
left before the cut-off (the one partly expired month) are deleted in bounded
chunks, which is all pruning does on a plain table and on SQLite.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import sqlalchemy as sa

from clickledger.store.tables import clicks

IpStorage = Literal["full", "truncated", "hashed"]
IPV4_KEEP_PREFIX = 24
IPV6_KEEP_PREFIX = 48
PRUNE_CHUNK_ROWS = 5000
PARTITION_LOCK_TIMEOUT_MS = 5000  # dropping a partition locks ``clicks``: never queue long
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


@dataclass(frozen=True)
class PruneOutcome:
    """What one prune removed: whole monthly partitions, then rows."""

    dropped_partitions: tuple[str, ...]
    deleted_rows: int


class PartitionBusy(RuntimeError):
    """A partition could not be dropped within ``PARTITION_LOCK_TIMEOUT_MS``."""


def prune_clicks(engine: sa.Engine, older_than_days: int, now: datetime) -> int:
    """Remove raw clicks created before ``now - older_than_days``; return how many rows
    were deleted (whole partitions dropped are in ``prune_raw_clicks``'s outcome)."""
    return prune_raw_clicks(engine, older_than_days, now).deleted_rows


def prune_raw_clicks(engine: sa.Engine, older_than_days: int, now: datetime) -> PruneOutcome:
    """Drop the expired monthly partitions (PostgreSQL, partitioned ``clicks``), then delete
    the remaining rows created before ``now - older_than_days`` in chunks."""
    if older_than_days < 1:
        raise ValueError("older_than_days must be at least 1")
    cutoff = now - timedelta(days=older_than_days)
    dropped: tuple[str, ...] = ()
    if engine.dialect.name == "postgresql":
        dropped = _drop_expired_partitions(engine, cutoff)
    return PruneOutcome(dropped, _delete_before(engine, cutoff))


_PARTITIONS = sa.text(
    "SELECT c.relname,"
    " (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \\(''([^'']+)''\\)'))[1]"
    "::timestamptz AS upper_bound"
    " FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
    " WHERE i.inhparent = to_regclass('clicks')"
    " AND pg_get_partkeydef(i.inhparent) = 'RANGE (created_at)'"
    " ORDER BY 2"
)


def _drop_expired_partitions(engine: sa.Engine, cutoff: datetime) -> tuple[str, ...]:
    """Drop every range partition of ``clicks`` whose upper bound is at or before ``cutoff``
    (none unless ``clicks`` is range-partitioned by ``created_at``); one transaction each."""
    with engine.connect() as conn:
        expired = [
            str(name)
            for name, upper in conn.execute(_PARTITIONS)
            if upper is not None and upper <= cutoff
        ]
    preparer = engine.dialect.identifier_preparer
    for name in expired:
        try:
            with engine.begin() as conn:
                conn.execute(sa.text(f"SET LOCAL lock_timeout = {PARTITION_LOCK_TIMEOUT_MS}"))
                conn.execute(sa.text(f"DROP TABLE {preparer.quote(name)}"))
        except sa.exc.OperationalError as exc:
            raise PartitionBusy(
                f"partition {name} stayed locked for {PARTITION_LOCK_TIMEOUT_MS} ms (a long "
                f"query on clicks?); {expired.index(name)} dropped before it; run prune again"
            ) from exc
    return tuple(expired)


def _delete_before(engine: sa.Engine, cutoff: datetime) -> int:
    """Delete rows created before ``cutoff`` in chunks of ``PRUNE_CHUNK_ROWS``; the
    ``created_at`` condition on the delete itself lets PostgreSQL touch only the partitions
    that can hold such rows."""
    old = clicks.c.created_at < cutoff
    chunk = sa.select(clicks.c.id).where(old).limit(PRUNE_CHUNK_ROWS).scalar_subquery()
    deleted_rows = 0
    while True:
        with engine.begin() as conn:
            deleted = conn.execute(sa.delete(clicks).where(old, clicks.c.id.in_(chunk))).rowcount
        deleted_rows += deleted
        if deleted < PRUNE_CHUNK_ROWS:
            return deleted_rows
