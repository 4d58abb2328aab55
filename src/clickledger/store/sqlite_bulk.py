"""Set-based bulk writes on SQLite: polars frames staged in a private file, read by SQL.

Python's ``sqlite3`` binding costs about half of an ``executemany``.  Here the
rows are written instead by ADBC (``adbc-driver-sqlite``, in C, straight from
a polars frame through the Arrow C stream interface) into a **staging file of
their own**; our SQLAlchemy connection then ``ATTACH``es that file and moves
the rows with ``insert … select … on conflict do nothing`` inside the caller's
transaction, so the all-or-nothing and idempotency rules stay those of the
main database.

Safety: ADBC bundles its own copy of the SQLite library, and two copies of the
library in one process on the same file break SQLite's POSIX locks
(sqlite.org/howtocorrupt.html §2.2.1).  So ADBC only ever opens a fresh,
uniquely named staging file (``open_adbc`` refuses the main database's path),
and it is closed before our connection attaches the file.  ``ATTACH`` and
``DETACH`` run outside any transaction; the file is detached and deleted when
the ``staged`` block ends, on success and on failure.  A process killed inside
the block leaves the staging file behind (never anything in the database): it
lives next to the database, named ``.<database name>.stage-<pid>-<uuid>.sqlite``,
and each new stage sweeps away such files of dead processes
(``sweep_stale_stages``, after ``STALE_STAGE_S``).

Staged tables keep their frame's row order as their ``rowid`` (1-based), so
``rows_between`` can address a slice of the frame (a chunk) in SQL.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import sqlalchemy as sa

STAGE_SCHEMA = "stage"  # the name the staging file is attached under
STAGE_SUFFIXES = ("", "-journal", "-wal", "-shm")  # the staging file and its companions
STALE_STAGE_S = 600.0  # a dead process's staging file older than this is swept away


class StagingError(RuntimeError):
    """The staging file could not be written or read back as expected."""


@dataclass(frozen=True)
class Stage:
    """A staging file attached to one connection; table names qualified for SQL."""

    path: Path
    heights: Mapping[str, int]

    def table(self, name: str) -> str:
        if name not in self.heights:
            raise KeyError(f"nothing staged as {name!r}")
        return f"{STAGE_SCHEMA}.{name}"


def main_database(conn: sa.Connection) -> Path | None:
    """The SQLite file ``conn`` works on, or None (in memory)."""
    database = conn.engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database).expanduser().resolve()


def _stage_prefix(main: Path | None) -> Path:
    if main is None:
        return Path(tempfile.gettempdir()) / "clickledger-stage-"
    return main.with_name(f".{main.name}.stage-")


def stage_path(main: Path | None) -> Path:
    """A new, unique staging file name carrying our process id: next to the database (same
    file system), or in the temporary directory for an in-memory database."""
    prefix = _stage_prefix(main)
    return prefix.with_name(f"{prefix.name}{os.getpid()}-{uuid.uuid4().hex}.sqlite")


def sweep_stale_stages(main: Path | None, min_age_s: float = STALE_STAGE_S) -> list[Path]:
    """Remove the staging files a killed process left behind: those whose process is gone
    and that were last written ``min_age_s`` ago or more.  Returns the files removed."""
    prefix = _stage_prefix(main)
    removed = []
    for path in prefix.parent.glob(f"{prefix.name}*.sqlite"):
        pid_text = path.name[len(prefix.name):].split("-", 1)[0]
        with contextlib.suppress(OSError):
            if pid_text.isdigit() and not _alive(int(pid_text)) and (
                    time.time() - path.stat().st_mtime >= min_age_s):
                remove_stage(path)
                removed.append(path)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def open_adbc(path: Path, main: Path | None) -> Any:
    """An ADBC connection to the staging file ``path``; never to the main database."""
    resolved = path.expanduser().resolve()
    if main is not None and (resolved == main or resolved.name.startswith(f"{main.name}-")):
        raise StagingError("refusing to open the main database with ADBC")
    if resolved.exists():
        raise StagingError(f"staging file {resolved} exists already")
    import adbc_driver_sqlite.dbapi as adbc  # noqa: PLC0415 - loaded on first bulk write

    return adbc.connect(str(resolved), autocommit=True)


def _arrow_ready(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with all-null (``Null`` typed) columns as text, which ADBC can create."""
    nulls = [name for name, dtype in frame.schema.items() if dtype == pl.Null]
    return frame.with_columns(pl.col(nulls).cast(pl.String)) if nulls else frame


def write_stage(path: Path, main: Path | None, tables: Mapping[str, pl.DataFrame]) -> None:
    """Write each frame as a table of the new staging file ``path`` (no journal, no sync:
    the file is scratch), then close it.  (Reading through ADBC would need pyarrow: the
    rows are read back through our own connection, ``check_stage``.)"""
    connection = open_adbc(path, main)
    try:
        cursor = connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=OFF")
            cursor.execute("PRAGMA synchronous=OFF")
            for name, frame in tables.items():
                written = cursor.adbc_ingest(name, _arrow_ready(frame), mode="create")
                if written not in (-1, frame.height):
                    raise StagingError(f"staged {written} of {frame.height} rows as {name}")
        finally:
            cursor.close()
    finally:
        connection.close()


def check_stage(driver: Any, tables: Mapping[str, pl.DataFrame]) -> None:
    """Each attached table holds its frame's rows as rowids 1…height (positions)."""
    for name, frame in tables.items():
        found = driver.execute(
            f"SELECT count(*), min(rowid), max(rowid) FROM {STAGE_SCHEMA}.{name}"  # noqa: S608
        ).fetchone()
        if frame.height and tuple(found) != (frame.height, 1, frame.height):
            raise StagingError(f"staged {name} reads back as {tuple(found)}")


def remove_stage(path: Path) -> None:
    for suffix in STAGE_SUFFIXES:
        with contextlib.suppress(FileNotFoundError):
            os.remove(f"{path}{suffix}")


@contextlib.contextmanager
def staged(conn: sa.Connection, tables: Mapping[str, pl.DataFrame]) -> Iterator[Stage]:
    """Stage ``tables`` and attach them to ``conn`` (a SQLite connection outside any
    transaction) for the block; detached and deleted afterwards, also on failure.

    The caller runs its transaction(s) inside the block (``with conn.begin():``).
    """
    main = main_database(conn)
    sweep_stale_stages(main)
    path = stage_path(main)
    driver = conn.connection.driver_connection
    if driver is None or driver.in_transaction:
        raise StagingError("a stage is attached outside any transaction")
    try:
        write_stage(path, main, tables)
        driver.execute(f"ATTACH DATABASE ? AS {STAGE_SCHEMA}", (str(path),))
        try:
            check_stage(driver, tables)
            yield Stage(path, {name: frame.height for name, frame in tables.items()})
        finally:
            _detach(conn, driver)
    finally:
        remove_stage(path)


def _detach(conn: sa.Connection, driver: Any) -> None:
    """Detach the stage.  A connection left inside a transaction (or that cannot detach) is
    discarded (its transaction rolled back by closing it) rather than returned to the pool
    with the file attached."""
    if driver.in_transaction:
        conn.invalidate()
        if sys.exc_info()[0] is None:  # not already failing: a caller's mistake
            raise StagingError("a transaction was left open inside the stage block")
        return
    try:
        driver.execute(f"DETACH DATABASE {STAGE_SCHEMA}")
    except Exception:
        conn.invalidate()
        raise


def rows_between(first: int, count: int) -> str:
    """``rowid`` condition for ``count`` staged rows from 0-based position ``first``."""
    return f"rowid BETWEEN {int(first) + 1} AND {int(first) + int(count)}"


def insert_from_stage(
    conn: sa.Connection,
    stage: Stage,
    name: str,
    table: str,
    columns: Sequence[str],
    literals: Mapping[str, str] | None = None,
    suffix: str = "",
) -> int:
    """``insert into table (columns) select … from`` the staged ``name``; a column in
    ``literals`` takes that SQL literal instead of a staged value (it was not staged).
    ``suffix``: an ``on conflict`` clause.  Returns the rows inserted."""
    given = literals or {}
    values = ", ".join(given.get(column, f"s.{column}") for column in columns)
    statement = (
        f"INSERT INTO {table} ({', '.join(columns)}) "  # noqa: S608 - fixed names
        f"SELECT {values} FROM {stage.table(name)} AS s WHERE true {suffix}"
    )
    return int(conn.exec_driver_sql(statement).rowcount)
