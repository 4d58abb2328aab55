"""Engines for the two supported stores: embedded SQLite (WAL) and PostgreSQL (psycopg 3),
and the read-only engine reports may use on a replica (``create_reports_engine``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

SQLITE_BUSY_TIMEOUT_MS = 10_000
POSTGRES_POOL_SIZE = 10
REPORTS_REPLICA_OPTION = "clickledger_reports_replica"  # execution option marking its engine


def normalize_url(url: str) -> str:
    """Use psycopg 3 for ``postgresql://`` URLs; leave everything else as given."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return url


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA temp_store=MEMORY")
    cursor.close()


def _sqlite_query_only(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA query_only=ON")
    cursor.close()


def create_engine(url: str, *, read_only: bool = False) -> sa.Engine:
    """An engine for ``url``; a SQLite file and its folder are created on first use.

    ``read_only``: every transaction is read-only (SQLite ``query_only``, PostgreSQL
    ``default_transaction_read_only``), so a write sent there fails instead of landing.
    """
    url = normalize_url(url)
    if is_sqlite(url):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            pool_size=8,
            max_overflow=16,
        )
        sa.event.listen(engine, "connect", _on_sqlite_connect)
        if read_only:
            sa.event.listen(engine, "connect", _sqlite_query_only)
        return engine
    return sa.create_engine(
        url, pool_size=POSTGRES_POOL_SIZE, max_overflow=20, pool_pre_ping=True,
        connect_args={"options": "-c default_transaction_read_only=on"} if read_only else {},
    )


def create_reports_engine(url: str) -> sa.Engine:
    """The engine report reads use when ``CLICKLEDGER_REPORTS_DATABASE_URL`` names a replica:
    read-only, and marked so that reports skip their one write (folding closed click hours,
    which ``store.report_reads`` does on the primary instead)."""
    return create_engine(url, read_only=True).execution_options(**{REPORTS_REPLICA_OPTION: True})


def is_reports_replica(conn: sa.Connection) -> bool:
    """True for a connection of ``create_reports_engine``'s engine (writes must not go there)."""
    return bool(conn.get_execution_options().get(REPORTS_REPLICA_OPTION))
