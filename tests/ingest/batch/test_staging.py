"""On SQLite an import is staged in a private file written by ADBC and copied in by SQL: the
file never is the database, it is gone after the import (succeeded or failed), and the rows
land exactly as the executemany path stored them — once, each with its own values, even
when files overlap or repeat a line."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import sqlalchemy as sa
from tests.ingest.batch.seed import Seeded, count, events, seed

from clickledger.clock import FakeClock
from clickledger.ingest.batch import consequences
from clickledger.ingest.batch.insert import Target, insert_rows, with_ids
from clickledger.ingest.batch.kinds import FileKind, Policy
from clickledger.ingest.batch.limits import ImportLimits
from clickledger.ingest.batch.parse import parse_bytes
from clickledger.ingest.batch.profiles import Profile
from clickledger.ingest.batch.runner import ImportRequest, ImportResult, run_import
from clickledger.store import migrate, sqlite_bulk
from clickledger.store import tables as t
from clickledger.store.engine import create_engine

WINDOW_DAYS = 30
HEADER = "txn_id,player_id,occurred_at,amount,currency"


def deposit_line(number: int) -> str:
    """Deposit ``number``: txn T<number>, player p<number % 7>, amount <number>.25 EUR."""
    return f"T{number:04d},p{number % 7},2025-12-{1 + number % 28:02d} 10:00:00,{number}.25,EUR"


def deposits_file(numbers: list[int], extra: list[str] | None = None) -> str:
    return "\n".join([HEADER, *(deposit_line(n) for n in numbers), *(extra or [])]) + "\n"


def run(engine: sa.Engine, clock: FakeClock, seeded: Seeded, text: str,
        policy: Policy = Policy.REJECT_FILE, chunk_rows: int = 100) -> ImportResult:
    request = ImportRequest(text.encode(), "file.csv", FileKind.DEPOSITS, seeded.integration_id,
                            Profile(), policy)
    return run_import(engine, clock, WINDOW_DAYS, request, ImportLimits(chunk_rows=chunk_rows))


class AdbcOpenings:
    """A fake around ``sqlite_bulk.open_adbc``: records every path ADBC is asked to open."""

    def __init__(self) -> None:
        self.paths: list[Path] = []
        self._real = sqlite_bulk.open_adbc

    def __call__(self, path: Path, main: Path | None) -> Any:
        self.paths.append(Path(path).resolve())
        return self._real(path, main)


@pytest.fixture
def sqlite_engine(sqlite_url: str) -> sa.Engine:
    engine = create_engine(sqlite_url)
    migrate.upgrade(engine)
    return engine


@pytest.fixture
def openings(monkeypatch: pytest.MonkeyPatch) -> AdbcOpenings:
    recorder = AdbcOpenings()
    monkeypatch.setattr(sqlite_bulk, "open_adbc", recorder)
    return recorder


def database_path(engine: sa.Engine) -> Path:
    assert engine.url.database
    return Path(engine.url.database).resolve()


def attached_names(engine: sa.Engine) -> list[str]:
    with engine.connect() as conn:
        return [row[1] for row in conn.exec_driver_sql("PRAGMA database_list")]


def test_an_import_is_staged_beside_the_database_and_the_stage_is_gone_afterwards(
    sqlite_engine: sa.Engine, clock: FakeClock, openings: AdbcOpenings
) -> None:
    seeded = seed(sqlite_engine, clock.now())
    result = run(sqlite_engine, clock, seeded, deposits_file(list(range(250))),
                 policy=Policy.SKIP_INVALID)
    assert (result.status, result.inserted) == ("imported", 250)
    main = database_path(sqlite_engine)
    assert len(openings.paths) == 1
    stage = openings.paths[0]
    assert stage != main and stage.parent == main.parent
    assert not stage.exists()
    assert not list(main.parent.glob(f".{main.name}.stage-*"))
    assert sqlite_bulk.STAGE_SCHEMA not in attached_names(sqlite_engine)


def test_a_failed_import_removes_its_stage_and_leaves_nothing_behind(
    sqlite_engine: sa.Engine, clock: FakeClock, openings: AdbcOpenings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seeded = seed(sqlite_engine, clock.now())

    def disk_full(*_args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(consequences, "write_health", disk_full)  # after every chunk is in
    with pytest.raises(OSError, match="disk full"):
        run(sqlite_engine, clock, seeded, deposits_file(list(range(250))))
    assert count(sqlite_engine, t.player_events) == 0
    assert count(sqlite_engine, t.players) == 0
    assert count(sqlite_engine, t.fraud_queue) == 0
    assert len(openings.paths) == 1 and not openings.paths[0].exists()
    assert sqlite_bulk.STAGE_SCHEMA not in attached_names(sqlite_engine)


def test_adbc_refuses_to_open_the_main_database_or_an_existing_file(
    sqlite_engine: sa.Engine, tmp_path: Path
) -> None:
    main = database_path(sqlite_engine)
    for path in (main, Path(f"{main}-wal"), Path(f"{main}-journal")):
        with pytest.raises(sqlite_bulk.StagingError, match="main database"):
            sqlite_bulk.open_adbc(path, main)
    taken = tmp_path / "taken.sqlite"
    taken.write_bytes(b"")
    with pytest.raises(sqlite_bulk.StagingError, match="exists"):
        sqlite_bulk.open_adbc(taken, main)


def test_a_stage_cannot_be_attached_inside_a_transaction(sqlite_engine: sa.Engine) -> None:
    frame = pl.DataFrame({"id": ["a", "b"]})
    with sqlite_engine.connect() as conn, conn.begin():
        conn.exec_driver_sql("CREATE TEMP TABLE scratch (x)")
        conn.exec_driver_sql("INSERT INTO scratch VALUES (1)")  # the transaction has begun
        with pytest.raises(sqlite_bulk.StagingError), sqlite_bulk.staged(conn, {"t": frame}):
            pass


def test_every_row_lands_with_its_own_values_whatever_the_order_of_the_file(
    engine: sa.Engine, clock: FakeClock
) -> None:
    seeded = seed(engine, clock.now())
    numbers = [(n * 37) % 230 for n in range(230)]  # every number once, shuffled
    result = run(engine, clock, seeded, deposits_file(numbers), chunk_rows=100)
    assert (result.inserted, result.duplicates) == (230, 0)
    stored = events(engine)
    assert [(e.txn_id, e.amount_minor) for e in stored] == [
        (f"T{n:04d}", n * 100 + 25) for n in range(230)]
    with engine.connect() as conn:
        query = sa.select(t.players.c.id, t.players.c.operator_player_id)
        players = {str(row.id): row.operator_player_id for row in conn.execute(query)}
    assert all(players[str(e.player_id)] == f"p{int(e.txn_id[1:]) % 7}" for e in stored)
    assert {int(str(e.payload_hash).split(":")[1]) for e in stored} == set(range(2, 232))
    assert count(engine, t.fraud_queue) == 230


def test_a_line_repeated_in_one_file_is_stored_once(engine: sa.Engine, clock: FakeClock) -> None:
    seeded = seed(engine, clock.now())
    result = run(engine, clock, seeded, deposits_file([1, 2, 3, 2, 1]))
    assert (result.inserted, result.duplicates) == (3, 2)
    assert [e.txn_id for e in events(engine)] == ["T0001", "T0002", "T0003"]


def test_overlapping_files_in_several_chunks_add_only_the_new_lines_and_queue_them_once(
    engine: sa.Engine, clock: FakeClock
) -> None:
    seeded = seed(engine, clock.now())
    first = run(engine, clock, seeded, deposits_file(list(range(250))),
                policy=Policy.SKIP_INVALID)
    assert (first.inserted, first.duplicates) == (250, 0)
    overlap = list(reversed(range(150, 450)))  # 100 known, 200 new, spread over chunks
    second = run(engine, clock, seeded, deposits_file(overlap, ["bad,p1,never,1,EUR"]),
                 policy=Policy.SKIP_INVALID)
    assert (second.inserted, second.duplicates, second.invalid) == (200, 100, 1)
    again = run(engine, clock, seeded, deposits_file(overlap), policy=Policy.REJECT_FILE)
    assert (again.inserted, again.duplicates) == (0, 300)
    assert count(engine, t.player_events) == 450
    assert count(engine, t.fraud_queue) == 450
    with engine.connect() as conn:
        queued_without_event = conn.execute(
            sa.select(sa.func.count()).select_from(t.fraud_queue).where(
                t.fraud_queue.c.event_id.not_in(sa.select(t.player_events.c.id)))
        ).scalar_one()
    assert queued_without_event == 0
    assert all(e.player_id is not None for e in events(engine))


def test_the_plain_insert_stores_the_new_rows_only(engine: sa.Engine, clock: FakeClock) -> None:
    seeded = seed(engine, clock.now())
    target = Target(seeded.integration_id, seeded.brand_id, clock.now(), "d" * 40)

    def rows(numbers: list[int]) -> pl.DataFrame:
        parsed = parse_bytes(deposits_file(numbers).encode(), "f.csv", FileKind.DEPOSITS,
                             Profile(), clock.now(), ImportLimits())
        return with_ids(parsed.rows)

    assert insert_rows(engine, rows(list(range(120))), target, chunk_rows=50) == 120
    assert insert_rows(engine, rows(list(range(100, 130))), target, chunk_rows=50) == 10
    assert count(engine, t.player_events) == 130


def dead_pid() -> int:
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True)
    return int(child.stdout)


def test_a_new_import_sweeps_away_the_stages_of_dead_processes_only(
    sqlite_engine: sa.Engine, clock: FakeClock
) -> None:
    main = database_path(sqlite_engine)
    dead, old = dead_pid(), time.time() - 2 * sqlite_bulk.STALE_STAGE_S
    left_by_a_kill = main.with_name(f".{main.name}.stage-{dead}-a.sqlite")
    just_written = main.with_name(f".{main.name}.stage-{dead}-b.sqlite")
    still_running = main.with_name(f".{main.name}.stage-{os.getpid()}-c.sqlite")
    for path in (left_by_a_kill, just_written, still_running):
        path.write_bytes(b"scratch")
    for path in (left_by_a_kill, still_running):
        os.utime(path, (old, old))
    seeded = seed(sqlite_engine, clock.now())
    assert run(sqlite_engine, clock, seeded, deposits_file([1, 2])).inserted == 2
    assert not left_by_a_kill.exists()
    assert just_written.exists() and still_running.exists()
