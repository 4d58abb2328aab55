"""Fraud storage: sliding-window click counters, shared identities and assessments.

Counters are rows of (dimension, key, bucket) → clicks, upserted with
``insert … on conflict do update set clicks = clicks + excluded.clicks`` in the
click writer's own batch, aggregated in Python first.  The database adds
atomically, so any number of server processes on PostgreSQL count into the
same rows, and a restart loses nothing; a window is a range scan over the
primary key.  Minute buckets serve the short windows, hour buckets the
baselines.  Identities (ip, device, payment, ftd) are one row per (kind,
value, player), inserted idempotently.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from clickledger.store import tables as t

IN_CHUNK = 400
INSERT_CHUNK_ROWS = 400
MAX_SHARING_PLAYERS = 50  # players listed per shared identity (the count is capped there too)

CounterKey = tuple[str, str, datetime]  # dimension, key, bucket start


def _insert(conn: sa.Connection) -> Any:
    return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert


def _chunks(values: Sequence[Any], size: int = IN_CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


def bump_counts(conn: sa.Connection, counts: Mapping[CounterKey, int]) -> None:
    """Add ``counts`` to the counters (one upsert per distinct key)."""
    if not counts:
        return
    table = t.fraud_click_counts
    statement = _insert(conn)(table)
    statement = statement.on_conflict_do_update(
        index_elements=["dimension", "key", "bucket_at"],
        set_={"clicks": table.c.clicks + statement.excluded.clicks},
    )
    rows = [{"dimension": d, "key": k, "bucket_at": b, "clicks": n}
            for (d, k, b), n in sorted(counts.items())]
    for chunk in _chunks(rows, INSERT_CHUNK_ROWS):
        conn.execute(statement, list(chunk))


def minute_counts(conn: sa.Connection, dimension: str,
                  pairs: Iterable[tuple[str, datetime]]) -> list[tuple[str, datetime, int]]:
    """(key, bucket, clicks) for exactly the given (key, bucket start) pairs."""
    c = t.fraud_click_counts
    found: list[tuple[str, datetime, int]] = []
    for chunk in _chunks(sorted(set(pairs))):
        query = sa.select(c.c.key, c.c.bucket_at, c.c.clicks).where(
            c.c.dimension == dimension, sa.tuple_(c.c.key, c.c.bucket_at).in_(list(chunk)))
        found += [(str(k), b, int(n)) for k, b, n in conn.execute(query)]
    return found


def window_totals(conn: sa.Connection, dimension: str, keys: Iterable[str], start: datetime,
                  split: datetime, end: datetime) -> dict[str, tuple[int, int, datetime | None]]:
    """key → (clicks in [start, split), clicks in [split, end), first bucket) — summed by the
    database, one grouped query per chunk of keys."""
    c = t.fraud_click_counts
    recent = sa.case((c.c.bucket_at >= split, c.c.clicks), else_=0)
    older = sa.case((c.c.bucket_at < split, c.c.clicks), else_=0)
    found: dict[str, tuple[int, int, datetime | None]] = {}
    for chunk in _chunks(sorted(set(keys))):
        query = (sa.select(c.c.key, sa.func.sum(older), sa.func.sum(recent),
                           sa.func.min(c.c.bucket_at))
                 .where(c.c.dimension == dimension, c.c.key.in_(list(chunk)),
                        c.c.bucket_at >= start, c.c.bucket_at < end)
                 .group_by(c.c.key))
        for key, before, after, first in conn.execute(query):
            found[str(key)] = (int(before or 0), int(after or 0),
                               first if isinstance(first, datetime) else None)
    return found


def prune_counts(conn: sa.Connection, dimensions: Sequence[str], before: datetime) -> int:
    """Delete buckets of ``dimensions`` older than ``before``; returns rows deleted."""
    c = t.fraud_click_counts
    result = conn.execute(c.delete().where(c.c.dimension.in_(list(dimensions)),
                                           c.c.bucket_at < before))
    return int(result.rowcount or 0)


def add_identities(conn: sa.Connection, rows: Sequence[Mapping[str, Any]]) -> set[tuple[str, str]]:
    """Insert identity rows idempotently; returns (kind, player_id) of the rows that were new."""
    if not rows:
        return set()
    table = t.fraud_identities
    statement = _insert(conn)(table).on_conflict_do_nothing(
        index_elements=["kind", "value", "player_id"]
    ).returning(table.c.kind, table.c.player_id)
    ordered = sorted(rows, key=lambda r: (r["kind"], r["value"], r["player_id"]))
    # executemany with RETURNING ("insertmanyvalues"): one cached statement, any row count
    return {(str(kind), str(player)) for kind, player in conn.execute(statement, ordered)}


def players_sharing(conn: sa.Connection, brand_id: str, kind: str, values: Iterable[str],
                    since: datetime | None = None) -> dict[str, list[tuple[str, str | None]]]:
    """value → [(player_id, affiliate_id)] of the brand's players seen with it (first seen at
    or after ``since`` when given), ``MAX_SHARING_PLAYERS`` at most."""
    i = t.fraud_identities
    found: dict[str, list[tuple[str, str | None]]] = defaultdict(list)
    for chunk in _chunks(sorted(set(values))):
        query = sa.select(i.c.value, i.c.player_id, i.c.affiliate_id).where(
            i.c.kind == kind, i.c.value.in_(list(chunk)), i.c.brand_id == brand_id)
        if since is not None:
            query = query.where(i.c.seen_at >= since)
        for value, player_id, affiliate_id in conn.execute(query):
            if len(found[value]) < MAX_SHARING_PLAYERS:
                found[value].append((str(player_id), str(affiliate_id) if affiliate_id else None))
    return found


def latest_assessments(conn: sa.Connection, player_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The newest assessment row per player (any status)."""
    a = t.fraud_assessments
    found: dict[str, dict[str, Any]] = {}
    for chunk in _chunks(sorted(set(player_ids))):
        rows = conn.execute(sa.select(a).where(a.c.player_id.in_(list(chunk))).order_by(a.c.id))
        for row in rows.mappings():
            found[str(row["player_id"])] = dict(row)
    return found


def insert_assessments(conn: sa.Connection, rows: Sequence[Mapping[str, Any]]) -> set[str]:
    """Insert assessment rows, skipping existing ``dedupe_key``s; returns the ids inserted."""
    if not rows:
        return set()
    table = t.fraud_assessments
    statement = _insert(conn)(table).on_conflict_do_nothing(
        index_elements=["dedupe_key"]).returning(table.c.id)
    return {str(value) for value in conn.execute(statement, list(rows)).scalars()}


def supersede(conn: sa.Connection, assessment_ids: Iterable[str], now: datetime) -> None:
    """Open assessments replaced by a newer one for the same player."""
    a = t.fraud_assessments
    ids = sorted(set(assessment_ids))
    for chunk in _chunks(ids):
        conn.execute(a.update().where(a.c.id.in_(list(chunk)), a.c.status == "open")
                     .values(status="superseded", updated_at=now))


def get_assessment(conn: sa.Connection, assessment_id: str) -> dict[str, Any] | None:
    a = t.fraud_assessments
    row = conn.execute(sa.select(a).where(a.c.id == assessment_id)).mappings().first()
    return dict(row) if row else None
