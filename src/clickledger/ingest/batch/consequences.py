"""Storing imported rows with the same consequences as a postback batch, set by set.

The steps mirror ``ingest.pipeline.Flusher._store_new`` and reuse its parts,
with one statement per step for a whole chunk instead of work per row:

1. the (integration, txn id) pairs already stored are found in one query
   (against the staged rows on SQLite, ``insert.StagedEvents``; per
   ``EXISTING_QUERY_BATCH`` keys on PostgreSQL) and left alone (counted as
   duplicates);
2. players are bound once for all rows: one query finds those we have (their id
   and whether an affiliate is bound); the others are inserted as ``PlayerBook``
   inserts new players — pending, unattributed, with their earliest deposit of
   the batch as FTD — in one ``executemany``; for those we had, the earliest
   deposit becomes the FTD by the guarded update the book uses (``ftd_at`` empty
   or later: the rule of ``domain.attribution.becomes_ftd``), one
   ``executemany``; registrations go through ``services.registration.PlayerBook``
   (the one attribution), loaded for the registering players only;
3. per chunk: the events go in with their player ids (``insert … on conflict
   do nothing``; on SQLite ``insert … select`` from the stage, the player id
   looked up in the same statement; a row another writer stored first raises
   ``RaceLost`` and the caller retries); every new event is queued for the
   fraud worker (one ``insert … select``, from the stage when the chunk had no
   known rows); ``evaluate_events``, ``enqueue_for_events`` and
   ``record_event_rollups`` get the events of attributed players — those
   three read events joined to their player and skip a player without an
   affiliate, so the others would cost a look-up and change nothing;
4. the earlier events of players registered now get the same four steps, and
   ``write_health`` adds to the hourly integration health.

Only the earliest new registration and the earliest new deposit of a player
can change it (later ones lose to them in the pipeline too), so the Python
work is per registration, never per row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import polars as pl
import sqlalchemy as sa

from clickledger.domain.attribution import DEPOSIT_KINDS, Method
from clickledger.ingest.batch.insert import (
    PLAYER_ID,
    StagedEvents,
    Target,
    dashed_ids,
    insert_new,
    new_ids,
    prepare,
)
from clickledger.ingest.batch.reader import LINE
from clickledger.ingest.pipeline import HealthCounters, write_health
from clickledger.outbound.enqueue import enqueue_for_events
from clickledger.services import evaluation_order
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
from clickledger.store.bulk import SAFE_LITERAL, in_list, insert_ids, list_param
from clickledger.store.reports import record_event_rollups

EXISTING_QUERY_BATCH = 50_000  # keys per look-up of already stored rows
ATTRIBUTED = "_attributed"


@dataclass
class ChunkOutcome:
    inserted: int
    duplicates: int


def existing_txn_ids(
    conn: sa.Connection, integration_id: str, txn_ids: pl.Series | list[str]
) -> set[str]:
    """Which of ``txn_ids`` this integration already has stored (the unique index)."""
    statement = (
        f"SELECT txn_id FROM player_events WHERE integration_id = {_mark(conn)} "  # noqa: S608
        f"AND txn_id {in_list(conn, 'text')}"
    )
    keys = txn_ids if isinstance(txn_ids, pl.Series) else pl.Series(txn_ids, dtype=pl.String)
    found: set[str] = set()
    for start in range(0, len(keys), EXISTING_QUERY_BATCH):
        batch = keys.slice(start, EXISTING_QUERY_BATCH).to_list()
        found.update(
            row[0]
            for row in conn.exec_driver_sql(
                statement, (_uuid(conn, integration_id), list_param(conn, batch))
            )
        )
    return found


def _mark(conn: sa.Connection) -> str:
    """The driver's positional parameter mark."""
    return "%s" if conn.dialect.name == "postgresql" else "?"


def _uuid(conn: sa.Connection, value: str) -> str:
    """A UUID parameter as the database stores it (32 hex digits on SQLite)."""
    return value if conn.dialect.name == "postgresql" else value.replace("-", "")


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _time_column(rows: pl.DataFrame) -> str:
    return "occurred_at_t" if "occurred_at_t" in rows.columns else "activity_day_t"


def _literal(value: str) -> str:
    """``value`` as a SQL text literal; only for our own ids, words and times (checked), so
    the same value need not be bound once per row."""
    if not SAFE_LITERAL.fullmatch(value):
        raise ValueError(f"not a plain value: {value!r}")
    return f"'{value}'"


def _stamp(conn: sa.Connection, at: datetime) -> str:
    """``at`` (UTC) as the database's time text."""
    text = at.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
    return text + "+00:00" if conn.dialect.name == "postgresql" else text


def create_players(conn: sa.Connection, brand_id: str, new: pl.DataFrame, now: datetime) -> None:
    """Insert players not seen before as ``PlayerBook`` inserts new ones: pending,
    unattributed, with their FTD when the batch has a deposit of theirs (``new``:
    ``player_id``, ``PLAYER_ID`` and, or null, ``ftd_event_id`` and ``ftd_at``).  One
    ``executemany``; a player another writer created since our look-up is a ``RaceLost``."""
    if new.height == 0:
        return
    brand, stamp = _literal(_uuid(conn, brand_id)), _literal(_stamp(conn, now))
    pending, mark = _literal(Method.PENDING.value), _mark(conn)
    tz = "+00:00" if conn.dialect.name == "postgresql" else ""
    at = (new["ftd_at"].cast(pl.String) + tz).to_list()  # as ``prepare`` writes occurred_at
    created = conn.exec_driver_sql(
        f"INSERT INTO players (id, brand_id, operator_player_id, attribution, ftd_event_id, "  # noqa: S608
        f"ftd_at, created_at, updated_at) VALUES ({mark}, {brand}, {mark}, {pending}, {mark}, "
        f"{mark}, {stamp}, {stamp}) ON CONFLICT (brand_id, operator_player_id) DO NOTHING",
        list(
            zip(
                new[PLAYER_ID].to_list(),
                new["player_id"].to_list(),
                new["ftd_event_id"].to_list(),
                at,
                strict=True,
            )
        ),
    ).rowcount
    if created != new.height:
        raise RaceLost("a player was created concurrently")


def set_first_deposits(
    conn: sa.Connection, brand_id: str, deposits: pl.DataFrame, when: str, now: datetime
) -> None:
    """Make each player's earliest deposit of ``deposits`` (one row per existing player:
    ``player_id``, ``id``, ``when``) its FTD unless it has an earlier one — ``becomes_ftd``
    as the guarded update ``PlayerBook`` uses, for all players in one ``executemany``."""
    if deposits.height == 0:
        return
    mark, brand, stamp = _mark(conn), _literal(_uuid(conn, brand_id)), _literal(_stamp(conn, now))
    tz = "+00:00" if conn.dialect.name == "postgresql" else ""
    at = (deposits[when].cast(pl.String) + tz).to_list()  # as ``prepare`` writes occurred_at
    conn.exec_driver_sql(
        f"UPDATE players SET ftd_event_id = {mark}, ftd_at = {mark}, updated_at = {stamp} "  # noqa: S608
        f"WHERE brand_id = {brand} AND operator_player_id = {mark} "
        f"AND (ftd_at IS NULL OR ftd_at > {mark})",
        list(zip(deposits["id"].to_list(), at, deposits["player_id"].to_list(), at, strict=True)),
    )


def known_players(conn: sa.Connection, brand_id: str, players: list[str]) -> pl.DataFrame:
    """``player_id`` (the operator's), our id (``PLAYER_ID``, 32 hex digits) and whether an
    affiliate is bound (``ATTRIBUTED``) of those of ``players`` we have, one query per
    ``EXISTING_QUERY_BATCH``."""
    statement = (
        "SELECT operator_player_id, CAST(id AS text), affiliate_id IS NOT NULL "  # noqa: S608
        f"FROM players WHERE brand_id = {_mark(conn)} "
        f"AND operator_player_id {in_list(conn, 'text')}"
    )
    brand = _uuid(conn, brand_id)
    rows: list[tuple[str, str, bool]] = []
    for start in range(0, len(players), EXISTING_QUERY_BATCH):
        batch = players[start : start + EXISTING_QUERY_BATCH]
        rows.extend(conn.exec_driver_sql(statement, (brand, list_param(conn, batch))).all())
    frame = pl.DataFrame(
        rows,
        schema={"player_id": pl.String, PLAYER_ID: pl.String, ATTRIBUTED: pl.Boolean},
        orient="row",
    )
    return frame.with_columns(pl.col(PLAYER_ID).str.replace_all("-", ""))


@dataclass
class Binding:
    """The players of a batch: ids and attribution per operator player id, and the book
    holding those registered by it (their earlier events are evaluated afterwards)."""

    players: pl.DataFrame
    book: PlayerBook


def bind_players(
    conn: sa.Connection, rows: pl.DataFrame, target: Target, window_days: int, now: datetime
) -> Binding:
    """Registrations and FTDs of ``rows`` (new, with ids), for all of them at once."""
    when = _time_column(rows)
    wanted = [
        c
        for c in ("player_id", "event_kind", "id", when, LINE, "click_id", "promo_code",
                  "country")
        if c in rows.columns
    ]
    by = [when, LINE] if LINE in rows.columns else [when]  # ties: the file's order
    ordered = rows.select(wanted).sort(by, maintain_order=True)  # narrow: cheap to sort
    deposits = (
        ordered.filter(pl.col("event_kind").is_in(sorted(DEPOSIT_KINDS)))
        .unique("player_id", keep="first", maintain_order=True)
        .select("player_id", "id", when)
    )
    players = rows.select(pl.col("player_id").unique().sort())
    known = known_players(conn, target.brand_id, players["player_id"].to_list())
    unseen = players.join(known, on="player_id", how="anti")
    unseen = unseen.with_columns(
        new_ids(unseen.height).alias(PLAYER_ID), pl.lit(False, dtype=pl.Boolean).alias(ATTRIBUTED)
    )
    create_players(
        conn,
        target.brand_id,
        unseen.join(
            deposits.select(
                "player_id", pl.col("id").alias("ftd_event_id"), pl.col(when).alias("ftd_at")
            ),
            on="player_id",
            how="left",
        ),
        now,
    )
    set_first_deposits(
        conn, target.brand_id, deposits.join(known, on="player_id", how="semi"), when, now
    )
    book = PlayerBook(window_days)
    registrations = ordered.filter(pl.col("event_kind") == "registration").unique(
        "player_id", keep="first", maintain_order=True
    )
    if registrations.height:
        book.load(conn, {(target.brand_id, p) for p in registrations["player_id"].to_list()})
        _register(conn, book, registrations, target, when)
        book.write(conn, now)
    bound = pl.concat([known, unseen.select(known.columns)])
    return Binding(_with_registrations(bound, book), book)


def _with_registrations(players: pl.DataFrame, book: PlayerBook) -> pl.DataFrame:
    """``players`` with ``ATTRIBUTED`` as the book left the players it registered."""
    if not book.players:
        return players
    registered = {key[1]: state.affiliate_id is not None for key, state in book.players.items()}
    return players.with_columns(
        pl.col("player_id")
        .replace_strict(registered, default=None, return_dtype=pl.Boolean)
        .fill_null(pl.col(ATTRIBUTED))
        .alias(ATTRIBUTED)
    )


def _register(
    conn: sa.Connection, book: PlayerBook, registrations: pl.DataFrame, target: Target, when: str
) -> None:
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
            book.ensure(target.brand_id, player),
            registered_at=_aware(at),
            country=countries[index],
            click_id=click_id,
            click=clicks.get(valid_uuid(click_id) or ""),
            promo_code=code,
            promo=promos.get(code.upper()) if code else None,
        )


def _consequences(
    conn: sa.Connection, chunk: pl.DataFrame, now: datetime, queued: bool = False
) -> None:
    """What a postback batch does after storing its events, for a stored chunk
    (``queued``: its events are in the fraud queue already)."""
    attributed = dashed_ids(chunk.filter(pl.col(ATTRIBUTED))["id"])
    if chunk.height:  # the order ``ledger rebuild`` replays (locked by ``store_rows``)
        evaluation_order.record_events(conn, now, arrived=chunk["id"].to_list())
    if attributed:
        evaluate_events(conn, attributed, now)
        enqueue_for_events(conn, attributed, now)
    if not queued:
        insert_ids(
            conn,
            t.fraud_queue,
            "event_id",
            chunk["id"].to_list(),  # the fraud worker's
            {"enqueued_at": now},
        )
    if attributed:
        record_event_rollups(conn, attributed)  # report rollups, as postbacks do


def store_rows(
    conn: sa.Connection,
    rows: pl.DataFrame,
    target: Target,
    window_days: int,
    now: datetime,
    *,
    rejected: int = 0,
    chunk_rows: int = 50_000,
    progress: Callable[[int], None] | None = None,
    staged: StagedEvents | None = None,
    first: int = 0,
) -> ChunkOutcome:
    """Store ``rows`` (validated, with ids) and run every consequence, in ``conn``'s transaction.

    Players are bound once for all rows; events go in ``chunk_rows`` at a time,
    ``progress`` is told how many rows are done after each chunk.  ``staged``:
    ``rows`` are the staged rows from position ``first`` on (SQLite), and go in
    from the stage.
    """
    if staged is not None:
        existing = staged.stored_txn_ids(conn, first, rows.height)
    else:
        existing = existing_txn_ids(conn, target.integration_id, rows["txn_id"])
    new = rows.filter(~pl.col("txn_id").is_in(sorted(existing))) if existing else rows
    health = HealthCounters()
    if new.height:
        binding = bind_players(conn, new, target, window_days, now)
        _lock_and_bind(conn, binding, now)
        done = 0
        for start in range(0, rows.height, chunk_rows):
            part = rows.slice(start, chunk_rows)
            fresh = part.filter(~pl.col("txn_id").is_in(sorted(existing))) if existing else part
            chunk = fresh.join(binding.players, on="player_id", how="left", maintain_order="left")
            queued = _insert_chunk(conn, chunk, target, now, staged, first + start,
                                   part.height, all_new=not existing)
            _consequences(conn, chunk, now, queued=queued)
            done += part.height
            if progress:
                progress(done)
        _earlier_events(conn, binding.book, new["id"], now)
        _count_accepted(new, target, health)
    health.add(
        target.integration_id,
        target.received_at,
        duplicates=rows.height - new.height,
        rejected=rejected,
    )
    write_health(conn, health.counts)
    return ChunkOutcome(inserted=new.height, duplicates=rows.height - new.height)


def _insert_chunk(
    conn: sa.Connection, chunk: pl.DataFrame, target: Target, now: datetime,
    staged: StagedEvents | None, first: int, count: int, *, all_new: bool,
) -> bool:
    """Insert the new rows ``chunk`` (with player ids) — from the stage when there is one,
    rows ``first … first + count - 1`` of it — or raise ``RaceLost`` if another writer stored
    one first.  Returns True when the events were also queued for the fraud worker (from the
    stage, when every staged row of the range is new)."""
    if staged is None:
        inserted = insert_new(conn, prepare(chunk, target, conn.dialect.name == "postgresql"))
    else:
        inserted = staged.insert(conn, first, count, players=True)
    if inserted != chunk.height:
        raise RaceLost("an imported event was stored concurrently")
    if staged is None or not all_new or not chunk.height:
        return False
    staged.ids_into(conn, "fraud_queue", "event_id", first, count,
                    {"enqueued_at": _literal(_stamp(conn, now))})
    return True


def _lock_and_bind(conn: sa.Connection, binding: Binding, now: datetime) -> None:
    """Lock the import's players for evaluation (``services.evaluation_order``: held to
    commit) and record the bindings its registrations made, before any chunk is evaluated."""
    evaluation_order.lock_players(conn, binding.players[PLAYER_ID].to_list())
    bound = binding.book.bound_ids()
    if bound:
        evaluation_order.record_events(conn, now, arrived=[], bound=bound)


def _earlier_events(
    conn: sa.Connection, book: PlayerBook, stored_ids: pl.Series, now: datetime
) -> None:
    """Stored events of players this batch registered: evaluated now they are bound."""
    earlier = earlier_event_ids(conn, book, stored_ids)
    if earlier:
        evaluation_order.record_events(conn, now, arrived=[], also=earlier)
        evaluate_events(conn, earlier, now)
        enqueue_for_events(conn, earlier, now)
        fraud_queue.enqueue(conn, earlier, now)
        record_event_rollups(conn, earlier)


def earlier_event_ids(conn: sa.Connection, book: PlayerBook, stored_ids: pl.Series) -> list[str]:
    """``PlayerBook.earlier_event_ids`` less this batch's own events (``stored_ids``), in one
    query per ``EXISTING_QUERY_BATCH`` players: the stored events of the players registered
    now (not those a manager had bound before), in event time order."""
    players = [s.id for s in book.players.values() if s.registered_now and not s.kept_binding]
    if not players:
        return []
    statement = (
        "SELECT CAST(id AS text) FROM player_events "  # noqa: S608
        f"WHERE player_id {in_list(conn, 'uuid')} ORDER BY occurred_at"
    )
    found: list[str] = []
    for start in range(0, len(players), EXISTING_QUERY_BATCH):
        batch = players[start : start + EXISTING_QUERY_BATCH]
        found.extend(
            row[0]
            for row in conn.exec_driver_sql(statement, (list_param(conn, batch, uuids=True),))
        )
    if not found:
        return []
    hexed = pl.Series(found, dtype=pl.String).str.replace_all("-", "").to_frame("hex")
    ours = stored_ids.str.replace_all("-", "").to_frame("hex")
    return dashed_ids(hexed.join(ours, on="hex", how="anti", maintain_order="left")["hex"])


def _count_accepted(new: pl.DataFrame, target: Target, health: HealthCounters) -> None:
    received = target.received_at.replace(tzinfo=None)
    lag_max, lag_sum = (
        new.select(
            (pl.lit(received) - pl.col(_time_column(new)))
            .dt.total_milliseconds()
            .clip(0)
            .alias("lag")
        )
        .select(pl.col("lag").max().fill_null(0).alias("max"), pl.col("lag").sum().alias("sum"))
        .row(0)
    )
    health.add(target.integration_id, target.received_at, accepted=new.height, lag_ms=int(lag_max))
    slot = next(iter(health.counts.values()))
    slot.lag_ms_sum = int(lag_sum)
