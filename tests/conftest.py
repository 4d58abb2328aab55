"""Shared fixtures: a migrated database on SQLite and on PostgreSQL, and the CI rule
that a skipped test is a failure when ``CI=true``."""

from __future__ import annotations

import decimal
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from clickledger.clock import FakeClock
from clickledger.runtime import Runtime
from clickledger.settings import Settings
from clickledger.store import migrate
from clickledger.store.engine import create_engine

POSTGRES_ADMIN_URL = os.environ.get(
    "CLICKLEDGER_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
# Mixing float into Decimal money is a bug: make it raise everywhere in the suite.
decimal.DefaultContext.traps[decimal.FloatOperation] = True
decimal.getcontext().traps[decimal.FloatOperation] = True

TEST_SECRET_KEY = "test-secret-key-for-the-suite-0123456789abcdef"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    """Under CI=true a skip is a failure: CI must run every test."""
    outcome = yield
    report = outcome.get_result()
    if IN_CI and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true, which counts as a failure: {report.longrepr}"


def _postgres_available() -> str | None:
    try:
        engine = sa.create_engine(POSTGRES_ADMIN_URL)
        with engine.connect():
            pass
        engine.dispose()
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means "not here"
        return f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL}: {exc.__class__.__name__}"


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    reason = _postgres_available()
    if reason is not None:
        if IN_CI:
            pytest.fail(f"CI=true needs PostgreSQL: {reason}")
        pytest.skip(reason)
    return POSTGRES_ADMIN_URL


def _create_pg_database(admin_url: str, template: str | None = None) -> tuple[str, str]:
    name = f"cl_test_{uuid.uuid4().hex[:12]}"
    clause = f' TEMPLATE "{template}"' if template else ""
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"{clause}'))
    admin.dispose()
    url = sa.engine.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    return name, url


def _drop_pg_database(admin_url: str, name: str) -> None:
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database URL: a fresh SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'clickledger.db'}"
        return
    admin_url = request.getfixturevalue("postgres_admin_url")
    name, url = _create_pg_database(admin_url)
    try:
        yield url
    finally:
        _drop_pg_database(admin_url, name)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite file, for tests that are about the embedded default only."""
    return f"sqlite:///{tmp_path / 'clickledger.db'}"


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file per session; each test copies it (cheaper than migrating)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    eng = create_engine(f"sqlite:///{path}")
    migrate.upgrade(eng)
    with eng.connect() as conn:
        conn.execute(sa.text("PRAGMA wal_checkpoint(TRUNCATE)"))
    eng.dispose()
    return path


@pytest.fixture(scope="session")
def _postgres_template(postgres_admin_url: str) -> Iterator[str]:
    """One migrated PostgreSQL database per session, cloned with CREATE DATABASE … TEMPLATE."""
    name, url = _create_pg_database(postgres_admin_url)
    eng = create_engine(url)
    migrate.upgrade(eng)
    eng.dispose()
    try:
        yield name
    finally:
        _drop_pg_database(postgres_admin_url, name)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def migrated_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database at the newest schema, on SQLite and on PostgreSQL, fresh for each test."""
    if request.param == "sqlite":
        target = tmp_path / "clickledger.db"
        shutil.copyfile(request.getfixturevalue("_sqlite_template"), target)
        yield f"sqlite:///{target}"
        return
    admin_url = request.getfixturevalue("postgres_admin_url")
    template = request.getfixturevalue("_postgres_template")
    name, url = _create_pg_database(admin_url, template=template)
    try:
        yield url
    finally:
        _drop_pg_database(admin_url, name)


@pytest.fixture
def engine(migrated_database_url: str) -> Iterator[sa.Engine]:
    """A migrated engine on each supported database."""
    eng = create_engine(migrated_database_url)
    try:
        yield eng
    finally:
        eng.dispose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def settings(migrated_database_url: str) -> Settings:
    return Settings(
        database_url=migrated_database_url, secret_key=TEST_SECRET_KEY, allow_loopback_targets=True
    )


@pytest.fixture
def runtime(settings: Settings, engine: sa.Engine, clock: FakeClock) -> Runtime:
    """A runtime on each database with a fake clock (migrated by ``engine``)."""
    return Runtime(settings=settings, engine=engine, clock=clock)
