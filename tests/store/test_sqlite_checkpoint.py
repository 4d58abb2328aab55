"""The click writer never checkpoints SQLite's log inside its commits, yet the log stays short.

A writer commits batches as the click group committer does; ``WalCheckpointer`` copies
the log into the database from its own thread, and once the log is long lets the
writer start it over between two transactions.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import sqlalchemy as sa

from clickledger.store.engine import create_engine
from clickledger.store.sqlite_checkpoint import WalCheckpointer

ROW_BYTES = 2000  # about two rows per 4 KiB page: each batch of 40 adds ~20 log pages
INSERT_40 = "INSERT INTO notes (body) VALUES " + ", ".join(["(?)"] * 40)  # noqa: S608


def _write_batches(engine: sa.Engine, checkpointer: WalCheckpointer, batches: int) -> None:
    for batch in range(batches):
        with engine.begin() as conn:
            checkpointer.before_batch(conn)
            conn.exec_driver_sql(
                INSERT_40,
                tuple(f"{batch:06d}" + "x" * ROW_BYTES for _ in range(40)),
            )
        if batch % 10 == 9:
            time.sleep(checkpointer.interval_s)  # let the thread take a pass now and then


def test_the_log_is_copied_by_the_thread_and_started_over_between_batches(
    sqlite_url: str,
) -> None:
    engine = create_engine(sqlite_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
    wal = Path(sa.engine.make_url(sqlite_url).database + "-wal")  # type: ignore[operator]
    checkpointer = WalCheckpointer(engine, interval_s=0.02, restart_frames=400)
    assert checkpointer.start()
    try:
        # 300 batches of ~20 pages: ~6000 pages, 15 times the 400-page restart mark.  On a
        # loaded machine the thread gets fewer passes in, so keep writing (at most 1,500
        # batches) until the writer has started the log over three times.
        batches = 0
        while batches < 300 or (checkpointer.writer_passes < 3 and batches < 1_500):
            _write_batches(engine, checkpointer, 100)
            batches += 100
        with engine.connect() as conn:
            writer_setting = conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar()
            assert conn.exec_driver_sql("SELECT count(*) FROM notes").scalar() == batches * 40
    finally:
        checkpointer.stop()
    assert writer_setting == 0  # the pool's one connection: the writer's, exempted
    assert checkpointer.passes > 0
    assert checkpointer.writer_passes >= 3  # the log started over several times ...
    # ... so the file holds the mark plus what piles up between passes (~1200 pages here),
    # where without restarts it would hold every one of the ~6000 pages written (~24 MB).
    assert os.path.getsize(wal) < 2500 * 4096
    engine.dispose()


def test_only_the_writer_stops_checkpointing_and_only_while_the_thread_runs(
    sqlite_url: str,
) -> None:
    engine = create_engine(sqlite_url)
    checkpointer = WalCheckpointer(engine)
    assert checkpointer.start()
    with engine.connect() as writer, engine.connect() as other:
        checkpointer.before_batch(writer)
        assert writer.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
        assert other.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 1000
        checkpointer.stop()
        checkpointer.before_batch(writer)  # a batch after the thread is gone
        assert writer.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 1000
    engine.dispose()


def test_postgresql_needs_no_checkpointer(postgres_admin_url: str) -> None:
    postgres = create_engine(postgres_admin_url)
    _assert_idle(postgres)
    postgres.dispose()


def test_an_in_memory_sqlite_database_has_no_log_to_checkpoint() -> None:
    memory = sa.create_engine("sqlite://")
    _assert_idle(memory)
    memory.dispose()


def _assert_idle(engine: sa.Engine) -> None:
    checkpointer = WalCheckpointer(engine)
    assert checkpointer.start() is False
    with engine.connect() as conn:
        checkpointer.before_batch(conn)  # leaves the connection alone
    assert checkpointer.passes == checkpointer.writer_passes == 0
