"""The month partitioning of ``clicks`` documented in docs/scaling.md works on PostgreSQL:
existing clicks are kept, new clicks land in their month, expired months are dropped whole,
and ``clickledger clicks prune`` still trims the boundary month by day."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from tests.conftest import _create_pg_database, _drop_pg_database

from clickledger.ids import new_id
from clickledger.store import tables as t
from clickledger.store.engine import create_engine
from clickledger.tracking.retention import prune_clicks

pytestmark = pytest.mark.postgres

SCALING_DOC = Path(__file__).resolve().parents[2] / "docs" / "scaling.md"


def _sql_block(starting_with: str) -> str:
    blocks = re.findall(r"```sql\n(.*?)```", SCALING_DOC.read_text(), flags=re.DOTALL)
    return next(block for block in blocks if block.startswith(starting_with))


@pytest.fixture
def pg_engine(postgres_admin_url: str, _postgres_template: str) -> Iterator[sa.Engine]:
    name, url = _create_pg_database(postgres_admin_url, template=_postgres_template)
    engine = create_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()
        _drop_pg_database(postgres_admin_url, name)


def _run_script(engine: sa.Engine, sql: str) -> None:
    raw = engine.raw_connection()
    try:
        raw.driver_connection.autocommit = True  # type: ignore[union-attr]
        raw.cursor().execute(sql)  # no parameters: %I / %L stay for format()
    finally:
        raw.close()


def _click(at: datetime) -> dict[str, object]:
    return {"id": new_id(), "created_at": at, "link_id": new_id(), "affiliate_id": new_id(),
            "offer_id": new_id(), "is_unique": True}


def _partitions(conn: sa.Connection) -> set[str]:
    return set(conn.execute(sa.text(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'clicks'")).scalars())


def test_clicks_partitioned_by_month_keep_rows_and_drop_expired_months(
    pg_engine: sa.Engine,
) -> None:
    now = datetime.now(UTC)
    old, boundary, recent = now - timedelta(days=500), now - timedelta(days=35), now
    with pg_engine.begin() as conn:
        conn.execute(t.clicks.insert(), [_click(old), _click(boundary), _click(recent)])

    _run_script(pg_engine, _sql_block("-- partition clicks by month"))

    with pg_engine.begin() as conn:
        assert conn.execute(sa.text(
            "SELECT count(*) FROM pg_partitioned_table pt JOIN pg_class c ON c.oid = pt.partrelid "
            "WHERE c.relname = 'clicks'")).scalar_one() == 1
        assert conn.execute(sa.select(sa.func.count()).select_from(t.clicks)).scalar_one() == 3
        assert f"clicks_{old:%Y_%m}" in _partitions(conn)
        conn.execute(t.clicks.insert(), [_click(now + timedelta(seconds=1))])  # routed by month

    _run_script(pg_engine, _sql_block("SELECT clickledger_maintain_click_partitions(3, 400)"))

    with pg_engine.connect() as conn:
        months = _partitions(conn)
        assert f"clicks_{old:%Y_%m}" not in months  # the whole expired month: dropped
        ahead = (now.replace(day=1) + timedelta(days=95)).strftime("clicks_%Y_%m")
        assert ahead in months  # three months ahead exist before clicks arrive
        assert conn.execute(sa.select(sa.func.count()).select_from(t.clicks)).scalar_one() == 3

    assert prune_clicks(pg_engine, 30, now) == 1  # the boundary month, trimmed to the day

    with pg_engine.connect() as conn:
        left = sorted(conn.execute(sa.select(t.clicks.c.created_at)).scalars())
    assert [moment >= now - timedelta(seconds=1) for moment in left] == [True, True]
