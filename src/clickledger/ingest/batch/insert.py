"""Bulk insert of validated rows into ``player_events``, idempotent on (integration, txn id).

Rows go in as one statement per chunk, below the ORM and Core compilers
(row-by-row Python objects cannot reach the bulk targets).  SQLite: the
prepared rows of the whole file are staged once, before the transaction, in a
private file written by ADBC (``store.sqlite_bulk``: never the database
itself), and each chunk is ``insert … select … from`` that stage ``… on
conflict do nothing``, its player id looked up in the same statement
(``StagedEvents``); columns holding one plain value in every row are written
as literals instead of being staged.  PostgreSQL: a ``COPY`` into a session
temp table followed by ``insert … select … on conflict do nothing``.  Both
count the rows really inserted.  Values are written in
exactly the form SQLAlchemy uses for these columns (UUIDs as 32 hex digits on
SQLite, UTC times), so Core reads them back unchanged.  The caller owns the transaction.
"""

from __future__ import annotations

import contextlib
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
from clickledger.store.sqlite_bulk import Stage, rows_between, staged

COUNTER_DIGITS = 8  # the low 32 bits of each id count rows within one block
MAX_BLOCK_ROWS = 10**COUNTER_DIGITS
STAGE_TABLE = "import_stage"
PLAYER_ID = "_player_id"
SQLITE_CONFLICT = "ON CONFLICT (integration_id, txn_id) DO NOTHING"
EVENTS = "events"  # the staged table of prepared rows
ALWAYS_STAGED = frozenset({"id", "txn_id", "operator_player_id"})  # keys: never literals

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


def with_ids(rows: pl.DataFrame) -> pl.DataFrame:
    """``rows`` in key order (``txn_id``) with fresh ids (``new_ids``) in that same order, so
    both unique indexes of ``player_events`` (id; integration and txn id) grow at their end
    instead of at random places: far fewer pages touched on a large file.  The file's
    order stays in the line numbers (``LINE``)."""
    ordered = rows.sort("txn_id", maintain_order=True)
    return ordered.with_columns(new_ids(ordered.height).alias("id"))


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


@dataclass(frozen=True)
class StagedEvents:
    """A file's prepared rows staged on a SQLite connection (``staged_events``), addressed
    by position: rows ``first … first + count - 1`` of the frame that was staged."""

    stage: Stage
    columns: tuple[str, ...]  # player_events columns, in the staged frame's order
    literals: dict[str, str]  # column -> SQL literal, for those not staged
    brand_hex: str
    integration_hex: str

    def _source(self, first: int, count: int) -> str:
        return f"{self.stage.table(EVENTS)} AS s WHERE s.{rows_between(first, count)}"

    def insert(self, conn: sa.Connection, first: int, count: int, *, players: bool) -> int:
        """Insert the rows (``players``: with the id of their player, which must exist);
        returns how many were new."""
        names = list(self.columns)
        values = [self.literals.get(c, f"s.{c}") for c in self.columns]
        if players:
            names.append("player_id")
            values.append(
                "(SELECT p.id FROM players AS p WHERE p.brand_id = "  # noqa: S608 - hex id
                f"'{self.brand_hex}' AND p.operator_player_id = s.operator_player_id)"
            )
        statement = (
            f"INSERT INTO player_events ({', '.join(names)}) "  # noqa: S608 - fixed names
            f"SELECT {', '.join(values)} FROM {self._source(first, count)} {SQLITE_CONFLICT}"
        )
        return int(conn.exec_driver_sql(statement).rowcount)

    def stored_txn_ids(self, conn: sa.Connection, first: int, count: int) -> set[str]:
        """Which of the rows' txn ids the integration has stored already."""
        statement = (
            f"SELECT s.txn_id FROM {self._source(first, count)} AND EXISTS "  # noqa: S608
            "(SELECT 1 FROM player_events AS e WHERE e.integration_id = "
            f"'{self.integration_hex}' AND e.txn_id = s.txn_id)"
        )
        return {row[0] for row in conn.exec_driver_sql(statement)}

    def ids_into(self, conn: sa.Connection, table: str, column: str, first: int, count: int,
                 constants: dict[str, str]) -> int:
        """One row per staged id (``column``) with ``constants`` (SQL literals) into
        ``table``, ``on conflict (column) do nothing``; returns how many were new."""
        names = ", ".join([column, *constants])
        values = ", ".join(["s.id", *constants.values()])
        statement = (
            f"INSERT INTO {table} ({names}) SELECT {values} "  # noqa: S608 - fixed names
            f"FROM {self._source(first, count)} ON CONFLICT ({column}) DO NOTHING"
        )
        return int(conn.exec_driver_sql(statement).rowcount)


@contextlib.contextmanager
def staged_events(
    conn: sa.Connection, rows: pl.DataFrame, target: Target
) -> Iterator[StagedEvents | None]:
    """``rows`` (validated, with ids) prepared and staged on ``conn`` for the block (SQLite,
    outside any transaction); None on PostgreSQL, which stages chunk by chunk itself."""
    if conn.dialect.name != "sqlite":
        yield None
        return
    frame = prepare(rows, target, postgres=False)
    literals = {
        name: literal
        for name, literal in constant_literals(frame).items()
        if name not in ALWAYS_STAGED
    }
    with staged(conn, {EVENTS: frame.drop(list(literals))}) as stage:
        yield StagedEvents(
            stage=stage,
            columns=tuple(frame.columns),
            literals=literals,
            brand_hex=_hex32(target.brand_id),
            integration_hex=_hex32(target.integration_id),
        )


def insert_rows(engine: sa.Engine, rows: pl.DataFrame, target: Target, chunk_rows: int) -> int:
    """Insert ``rows`` (validated, with ids) in one transaction, ``chunk_rows`` per statement,
    without players or any other consequence; returns how many were new."""
    inserted = 0
    with engine.connect() as conn, staged_events(conn, rows, target) as stage, conn.begin():
        for first in range(0, rows.height, chunk_rows):
            count = min(chunk_rows, rows.height - first)
            if stage is not None:
                inserted += stage.insert(conn, first, count, players=False)
            else:
                chunk = prepare(rows.slice(first, count), target, postgres=True)
                inserted += insert_new(conn, chunk)
    return inserted
