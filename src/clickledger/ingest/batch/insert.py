"""Bulk insert of validated rows into ``player_events``, idempotent on (integration, txn id).

Rows go in as one statement batch per chunk, below the ORM and Core compilers
(row-by-row Python objects cannot reach the bulk targets): SQLite gets a
driver ``executemany`` of ``insert … on conflict do nothing``; PostgreSQL gets a
``COPY`` into a session temp table followed by ``insert … select … on conflict
do nothing``; both count the rows really inserted.  Values are written in
exactly the form SQLAlchemy uses for these columns (UUIDs as 32 hex digits on
SQLite, UTC times), so Core reads them back unchanged.  The caller owns the transaction.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import polars as pl
import sqlalchemy as sa
import uuid_utils

from clickledger.ingest.batch.reader import LINE
from clickledger.store.bulk import constant_literals

COUNTER_DIGITS = 8  # the low 32 bits of each id count rows within one block
MAX_BLOCK_ROWS = 10**COUNTER_DIGITS
STAGE_TABLE = "import_stage"
PLAYER_ID = "_player_id"
SQLITE_CONFLICT = "ON CONFLICT (integration_id, txn_id) DO NOTHING"

# our typed frame column -> player_events column
COLUMN_MAP = {
    "txn_id": "txn_id",
    "event_kind": "kind",
    "player_id": "operator_player_id",
    "occurred_at": "occurred_at",
    "amount_t": "amount_minor",
    "currency": "currency",
    "lots_t": "lots_milli",
    "instrument": "instrument",
    "account_type": "account_type",
    "spread_t": "spread_minor",
    "bets_t": "bets_minor",
    "wins_t": "wins_minor",
    "bonus_t": "bonus_minor",
    "chargebacks_t": "chargebacks_minor",
    "activity_day": "activity_day",
    "country": "country",
    "click_id": "click_id",
    "promo_code": "promo_code",
    "status": "status_raw",
    "reverses_txn_id": "reverses_txn_id",
}


@dataclass(frozen=True, slots=True)
class Target:
    """Where the rows go and what every row shares."""

    integration_id: str
    brand_id: str
    received_at: datetime
    file_digest: str  # provenance written into payload_hash: "<digest>:<line>"


def _hex32(value: str) -> str:
    return value.replace("-", "").lower()


def _dashed(hex_ids: pl.Expr) -> pl.Expr:
    return pl.concat_str(
        [
            hex_ids.str.slice(0, 8),
            hex_ids.str.slice(8, 4),
            hex_ids.str.slice(12, 4),
            hex_ids.str.slice(16, 4),
            hex_ids.str.slice(20, 12),
        ],
        separator="-",
    )


def new_ids(count: int) -> pl.Series:
    """``count`` fresh, time-ordered UUIDv7s (32 hex digits) built in one vectorised step.

    One UUIDv7 is drawn; its low 32 bits are replaced by the row number written
    in 8 decimal digits (decimal digits are hex digits), so the ids stay unique,
    ordered and valid version-7 UUIDs for up to 10^8 rows per block.
    """
    if count >= MAX_BLOCK_ROWS:
        raise ValueError("too many rows for one id block")
    prefix = uuid_utils.uuid7().hex[: 32 - COUNTER_DIGITS]
    counter = pl.int_range(0, count, dtype=pl.Int64, eager=True)
    return (prefix + counter.cast(pl.String).str.zfill(COUNTER_DIGITS)).alias("id")


def prepare(rows: pl.DataFrame, target: Target, postgres: bool) -> pl.DataFrame:
    """The rows as ``player_events`` columns, each value in its database text or integer form.

    ``rows`` carries an ``id`` column (from ``new_ids``) and optionally the
    resolved player id in ``PLAYER_ID``.
    """
    tz = "+00:00" if postgres else ""
    received = target.received_at.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f") + tz
    time_col = "occurred_at_t" if "occurred_at_t" in rows.columns else "activity_day_t"
    frame = rows.with_columns(
        (pl.col(time_col).cast(pl.String) + tz).alias("occurred_at"),
        *(
            [pl.col("activity_day_t").dt.date().cast(pl.String).alias("activity_day")]
            if "activity_day_t" in rows.columns
            else []
        ),
    )
    selected = [pl.col(src).alias(dst) for src, dst in COLUMN_MAP.items() if src in frame.columns]
    extra = (
        [pl.col(PLAYER_ID).str.replace_all("-", "").alias("player_id")]
        if (PLAYER_ID in frame.columns)
        else []
    )
    out = frame.select(
        pl.col("id"),
        pl.lit(_hex32(target.integration_id)).alias("integration_id"),
        pl.format(f"{target.file_digest}:{{}}", pl.col(LINE)).alias("payload_hash"),
        pl.lit("batch").alias("source"),
        pl.lit(_hex32(target.brand_id)).alias("brand_id"),
        pl.lit(received).alias("received_at"),
        *selected,
        *extra,
    )
    if "currency" in out.columns and not any(
        c in out.columns for c in ("amount_minor", "spread_minor", "bets_minor")
    ):
        out = out.drop("currency")
    return out


def chunks(frame: pl.DataFrame, chunk_rows: int) -> Iterator[pl.DataFrame]:
    for offset in range(0, frame.height, chunk_rows):
        yield frame.slice(offset, chunk_rows)


def insert_new(conn: sa.Connection, chunk: pl.DataFrame) -> int:
    """Insert ``chunk``; returns how many of its rows were new (no ids read back)."""
    if chunk.height == 0:
        return 0
    if conn.dialect.name == "postgresql":
        return _insert_postgres(conn, chunk)
    return _insert_sqlite(conn, chunk)


def dashed_ids(ids: pl.Series) -> list[str]:
    """Ids (32 hex digits or dashed) as canonical dashed UUID text."""
    return (
        ids.to_frame("h")
        .select(_dashed(pl.col("h").str.replace_all("-", "")))
        .to_series()
        .to_list()
    )


def _driver(conn: sa.Connection) -> Any:
    return conn.connection.driver_connection


def _insert_sqlite(conn: sa.Connection, chunk: pl.DataFrame) -> int:
    """One driver ``executemany``; returns the rows really inserted.

    A column holding one plain value in every row (the integration, brand,
    source and arrival time always; the kind and currency usually) is written
    into the statement as a literal instead of being bound row by row: binding
    is a large part of an ``executemany``'s cost.
    """
    literals = constant_literals(chunk)
    bound = [c for c in chunk.columns if c not in literals]
    names = ", ".join(chunk.columns)
    values = ", ".join(literals.get(c, "?") for c in chunk.columns)
    sql = f"INSERT INTO player_events ({names}) VALUES ({values}) " + SQLITE_CONFLICT  # noqa: S608 - fixed names, checked literals
    cursor = _driver(conn).cursor()
    try:
        cursor.executemany(sql, zip(*(chunk[c].to_list() for c in bound), strict=True))
        return int(cursor.rowcount)
    finally:
        cursor.close()


def _insert_postgres(conn: sa.Connection, chunk: pl.DataFrame) -> int:
    """COPY into a session temp table, then ``insert … select … on conflict do nothing``;
    returns the rows really inserted."""
    with _driver(conn).cursor() as cursor:
        cursor.execute(_staged_insert(cursor, chunk))
        return int(cursor.rowcount)


def _staged_insert(cursor: Any, chunk: pl.DataFrame) -> str:
    """Stage ``chunk`` in the session temp table; returns the insert from it."""
    columns = ", ".join(chunk.columns)
    cursor.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS {STAGE_TABLE} "
        "(LIKE player_events INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
    )
    cursor.execute(f"TRUNCATE {STAGE_TABLE}")
    buffer = io.BytesIO()
    chunk.write_csv(buffer, include_header=False, null_value="")
    with cursor.copy(f"COPY {STAGE_TABLE} ({columns}) FROM STDIN WITH (FORMAT csv)") as copy:
        copy.write(buffer.getvalue())
    return (
        f"INSERT INTO player_events ({columns}) SELECT {columns} FROM {STAGE_TABLE} "  # noqa: S608
        "ON CONFLICT (integration_id, txn_id) DO NOTHING"
    )
