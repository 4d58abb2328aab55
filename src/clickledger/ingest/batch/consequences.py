"""Storing one chunk of imported rows with the same consequences as a postback batch.

The steps mirror ``ingest.pipeline.Flusher._store_new`` and reuse its parts:
existing (integration, txn id) pairs are found first and left alone; the
players the new rows name are bound by ``services.registration.PlayerBook``
(the one attribution); events are bulk-inserted with their player ids
(``insert … on conflict do nothing``; a row another writer stored first raises
``RaceLost`` and the caller retries); then ``evaluate_events`` and
``enqueue_for_events`` run with the new ids and the earlier events of players
registered now, and ``write_health`` adds to the hourly integration health.

Per player only the earliest new registration and the earliest new deposit
can change anything (later ones lose to them in the pipeline too), so the
Python work is per player, not per row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import polars as pl
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from clickledger.domain.attribution import DEPOSIT_KINDS, Method
from clickledger.ingest.batch.insert import (
    PLAYER_ID,
    Target,
    chunks,
    insert_chunk,
    new_ids,
    prepare,
)
from clickledger.ingest.pipeline import HealthCounters, write_health
from clickledger.outbound.enqueue import enqueue_for_events
from clickledger.services.conversion import evaluate_events
from clickledger.services.registration import (
    PlayerBook,
    RaceLost,
    load_clicks,
    load_promos,
    valid_uuid,
)
from clickledger.store import fraud_queue
from clickledger.store import tables as t
from clickledger.store.reports import record_event_rollups

EXISTING_QUERY_BATCH = 2000


@dataclass
class ChunkOutcome:
    inserted: int
    duplicates: int


def existing_txn_ids(conn: sa.Connection, integration_id: str, txn_ids: list[str]) -> set[str]:
    """Which of ``txn_ids`` this integration already has stored."""
    e = t.player_events.c
    found: set[str] = set()
    for start in range(0, len(txn_ids), EXISTING_QUERY_BATCH):
        batch = txn_ids[start:start + EXISTING_QUERY_BATCH]
        found.update(conn.execute(sa.select(e.txn_id).where(
            e.integration_id == integration_id, e.txn_id.in_(batch))).scalars())
    return found


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _time_column(rows: pl.DataFrame) -> str:
    return "occurred_at_t" if "occurred_at_t" in rows.columns else "activity_day_t"


def ensure_pending_players(conn: sa.Connection, brand_id: str, players: list[str],
                           now: datetime) -> None:
    """Create the players not seen before exactly as ``PlayerBook.ensure`` would (pending,
    unattributed), in bulk; existing ones are left alone (``on conflict do nothing``)."""
    if not players:
        return
    ids = new_ids(len(players)).to_list()
    if conn.dialect.name == "postgresql":
        conn.execute(
            postgresql.insert(t.players).on_conflict_do_nothing(
                index_elements=["brand_id", "operator_player_id"]),
            [{"id": i, "brand_id": brand_id, "operator_player_id": player,
              "attribution": Method.PENDING.value, "created_at": now, "updated_at": now}
             for i, player in zip(ids, players, strict=True)],
        )
        return
    stamp = now.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
    brand_hex = brand_id.replace("-", "")
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.executemany(
            "INSERT INTO players (id, brand_id, operator_player_id, attribution, created_at, "
            "updated_at) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (brand_id, operator_player_id) DO NOTHING",
            ((i, brand_hex, player, Method.PENDING.value, stamp, stamp)
             for i, player in zip(ids, players, strict=True)),
        )
    finally:
        cursor.close()


def _bind_players(conn: sa.Connection, rows: pl.DataFrame, target: Target,
                  window_days: int, now: datetime) -> PlayerBook:
    """Registrations and FTDs of the new rows, through the registration service."""
    book = PlayerBook(window_days)
    players = rows["player_id"].unique().sort().to_list()
    ensure_pending_players(conn, target.brand_id, players, now)
    book.load(conn, {(target.brand_id, player) for player in players})
    when = _time_column(rows)
    ordered = rows.sort(when, maintain_order=True)
    registrations = ordered.filter(pl.col("event_kind") == "registration").unique(
        "player_id", keep="first", maintain_order=True)
    if registrations.height:
        _register(conn, book, registrations, target, when)
    deposits = ordered.filter(pl.col("event_kind").is_in(sorted(DEPOSIT_KINDS))).unique(
        "player_id", keep="first", maintain_order=True)
    for player, kind, event_id, at in deposits.select(
            "player_id", "event_kind", "id", when).iter_rows():
        state = book.ensure(target.brand_id, player)
        book.note_deposit(state, kind, event_id, _aware(at))
    book.write(conn, now)
    return book


def _register(conn: sa.Connection, book: PlayerBook, registrations: pl.DataFrame,
              target: Target, when: str) -> None:
    def column(name: str) -> list[str | None]:
        if name in registrations.columns:
            return list(registrations[name].to_list())
        return [None] * registrations.height

    click_ids, promo_codes, countries = column("click_id"), column("promo_code"), column("country")
    clicks = load_clicks(conn, [c for c in click_ids if c])
    promos = load_promos(conn, [p for p in promo_codes if p])
    for index, (player, at) in enumerate(registrations.select("player_id", when).iter_rows()):
        click_id, code = click_ids[index], promo_codes[index]
        book.register(
            book.ensure(target.brand_id, player), registered_at=_aware(at),
            country=countries[index], click_id=click_id,
            click=clicks.get(valid_uuid(click_id) or ""), promo_code=code,
            promo=promos.get(code.upper()) if code else None,
        )


def store_rows(conn: sa.Connection, rows: pl.DataFrame, target: Target, window_days: int,
               now: datetime, *, rejected: int = 0, chunk_rows: int = 50_000,
               progress: Callable[[int], None] | None = None) -> ChunkOutcome:
    """Store ``rows`` (validated, with ids) and run every consequence, in ``conn``'s transaction.

    Players are bound once for all rows; events go in ``chunk_rows`` at a time,
    ``progress`` is told how many rows are done after each chunk.
    """
    existing = existing_txn_ids(conn, target.integration_id, rows["txn_id"].to_list())
    new = rows.filter(~pl.col("txn_id").is_in(sorted(existing))) if existing else rows
    health = HealthCounters()
    if new.height:
        book = _bind_players(conn, new, target, window_days, now)
        ids = pl.DataFrame(
            [(player, state.id) for (_, player), state in book.players.items()],
            schema={"player_id": pl.String, PLAYER_ID: pl.String}, orient="row",
        )
        with_players = new.join(ids, on="player_id", how="left", maintain_order="left")
        postgres = conn.dialect.name == "postgresql"
        inserted: list[str] = []
        for chunk in chunks(with_players, chunk_rows):
            stored = insert_chunk(conn, prepare(chunk, target, postgres=postgres))
            if len(stored) != chunk.height:
                raise RaceLost("an imported event was stored concurrently")
            evaluate_events(conn, stored, now)
            enqueue_for_events(conn, stored, now)
            fraud_queue.enqueue(conn, stored, now)  # assessed by the fraud worker
            record_event_rollups(conn, stored)  # report rollups, as postbacks do
            inserted.extend(stored)
            if progress:
                progress(len(inserted))
        seen = set(inserted)
        earlier = [e for e in book.earlier_event_ids(conn) if e not in seen]
        if earlier:
            evaluate_events(conn, earlier, now)
            enqueue_for_events(conn, earlier, now)
            fraud_queue.enqueue(conn, earlier, now)
            record_event_rollups(conn, earlier)
        _count_accepted(new, target, health)
    health.add(target.integration_id, target.received_at, duplicates=rows.height - new.height,
               rejected=rejected)
    write_health(conn, health.counts)
    return ChunkOutcome(inserted=new.height, duplicates=rows.height - new.height)


def _count_accepted(new: pl.DataFrame, target: Target, health: HealthCounters) -> None:
    received = target.received_at.replace(tzinfo=None)
    lag_max, lag_sum = new.select(
        (pl.lit(received) - pl.col(_time_column(new))).dt.total_milliseconds().clip(0)
        .alias("lag")
    ).select(pl.col("lag").max().fill_null(0).alias("max"), pl.col("lag").sum().alias("sum")
             ).row(0)
    health.add(target.integration_id, target.received_at, accepted=new.height,
               lag_ms=int(lag_max))
    slot = next(iter(health.counts.values()))
    slot.lag_ms_sum = int(lag_sum)
