"""Fraud storage: sliding-window click counters, shared identities and assessments.

Counters are rows of (dimension, key, bucket) → clicks, upserted with
``insert … on conflict do update set clicks = clicks + excluded.clicks`` by the
fraud worker's click step, aggregated in Python first.  The database adds
atomically, so any number of workers on PostgreSQL count into the same rows,
and a restart loses nothing.  Minute buckets serve the short windows around a
click, day buckets the baselines and histories (all day-aligned), hour buckets
of links and sub-ids the first hour they were seen.  A batch's windows are read
together (``window_sums``: one statement, one range scan per window over the
primary key).  Identities (ip, device, payment, ftd) are one row per (kind,
value, player), inserted idempotently.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from clickledger.store import tables as t
from clickledger.store.batch_reads import codec

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


# dimension, key, start, split, end, and the dimension whose first bucket in [start, end)
# is wanted ("" for none): e.g. a day-bucket baseline with the first hour seen
Window = tuple[str, str, datetime, datetime, datetime, str]
Totals = tuple[int, int, datetime | None]  # clicks before split, clicks from split, first seen
WINDOW_CHUNK = 2000  # windows per statement
_WINDOWS_SQL = {  # the windows as one parameter each, numbered n = 0, 1, ...
    "sqlite": """SELECT CAST(key AS INTEGER), json_extract(value, '$[0]'),
       json_extract(value, '$[1]'), json_extract(value, '$[2]'), json_extract(value, '$[3]'),
       json_extract(value, '$[4]'), json_extract(value, '$[5]') FROM json_each(?)""",
    "postgresql": """SELECT * FROM unnest(%s::int[], %s::text[], %s::text[],
       %s::timestamptz[], %s::timestamptz[], %s::timestamptz[], %s::text[])""",
}
_WINDOW_SUMS_SQL = """WITH w (n, dimension, "key", start_at, split_at, end_at, first_dimension)
 AS ({windows})
SELECT w.n, SUM(CASE WHEN c.bucket_at < w.split_at THEN c.clicks ELSE 0 END),
       SUM(CASE WHEN c.bucket_at >= w.split_at THEN c.clicks ELSE 0 END),
       (SELECT f.bucket_at FROM fraud_click_counts f
         WHERE f.dimension = w.first_dimension AND f."key" = w."key"
           AND f.bucket_at >= w.start_at AND f.bucket_at < w.end_at
         ORDER BY f.bucket_at LIMIT 1)
FROM w JOIN fraud_click_counts c ON c.dimension = w.dimension AND c."key" = w."key"
 AND c.bucket_at >= w.start_at AND c.bucket_at < w.end_at
GROUP BY w.n, w."key", w.start_at, w.end_at, w.first_dimension"""
_WINDOW_SUMS = {name: _WINDOW_SUMS_SQL.format(windows=windows)
                for name, windows in _WINDOWS_SQL.items()}
_SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy stores a DateTime in SQLite


def window_sums(conn: sa.Connection, windows: Iterable[Window]) -> dict[Window, Totals]:
    """Per window: (clicks in [start, split), clicks in [split, end), first bucket of its
    first-seen dimension in [start, end)) — every window of a batch in one statement per
    ``WINDOW_CHUNK``: the windows go in as one parameter (a JSON array on SQLite, arrays on
    PostgreSQL), are joined to the counters (one range scan per window over the primary
    key, one index seek for the first bucket) and come back as one row each; the driver
    runs it as written (SQL text, no Core compilation per batch)."""
    wanted = sorted(set(windows))
    found: dict[Window, Totals] = dict.fromkeys(wanted, (0, 0, None))
    c = codec(conn)
    sqlite = conn.dialect.name == "sqlite"
    for chunk in _chunks(wanted, WINDOW_CHUNK):
        if sqlite:
            params: tuple[Any, ...] = (json.dumps([
                [d, k, _sqlite_time(a), _sqlite_time(b), _sqlite_time(e), f]
                for d, k, a, b, e, f in chunk]),)
        else:
            columns = zip(*chunk, strict=True)
            params = (list(range(len(chunk))), *(list(column) for column in columns))
        for n, before, after, first in conn.exec_driver_sql(_WINDOW_SUMS[conn.dialect.name],
                                                            params):
            found[chunk[n]] = (int(before or 0), int(after or 0),
                               c.moment(first) if first is not None else None)
    return found


def _sqlite_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(_SQLITE_TIME)


def time_param(conn: sa.Connection, moment: datetime) -> Any:
    """``moment`` as a driver parameter compared with stored times (SQL run as text)."""
    return _sqlite_time(moment) if conn.dialect.name == "sqlite" else moment


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
