"""The month partitioning of ``clicks`` documented in docs/scaling.md works on PostgreSQL:
existing clicks are kept, new clicks land in their month, expired months are dropped whole
(by the maintenance function, or by ``clickledger clicks prune`` itself), and prune trims the
boundary month by day; the rollups stay."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from tests.conftest import _create_pg_database, _drop_pg_database
from typer.testing import CliRunner

from clickledger.cli.main import app as cli
from clickledger.ids import new_id
from clickledger.store import tables as t
from clickledger.store.engine import create_engine
from clickledger.tracking import retention
from clickledger.tracking.retention import prune_clicks, prune_raw_clicks

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
        raw.driver_connection.autocommit = False  # type: ignore[union-attr]  # back to the pool
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


# --- clickledger clicks prune on the partitioned table -----------------------------------

PRUNED_AT = datetime(2025, 6, 15, 12, 0, tzinfo=UTC)  # 30 days: cut-off 2025-05-16 12:00


def _partitioned_with_clicks(engine: sa.Engine, moments: list[datetime]) -> None:
    """Clicks at ``moments`` and their hourly rollups, then ``clicks`` partitioned by month
    with the documented SQL (a partition per month from the oldest click on)."""
    rows = [_click(at) for at in moments]
    with engine.begin() as conn:
        conn.execute(t.clicks.insert(), rows)
        conn.execute(t.click_rollups_hourly.insert(), [
            {"hour": row["created_at"].replace(minute=0, second=0),  # type: ignore[attr-defined]
             "affiliate_id": row["affiliate_id"], "link_id": row["link_id"],
             "offer_id": row["offer_id"], "clicks": 1, "unique_clicks": 1} for row in rows])
    _run_script(engine, _sql_block("-- partition clicks by month"))


def _rollup_clicks(conn: sa.Connection) -> int:
    return int(conn.execute(sa.select(sa.func.sum(t.click_rollups_hourly.c.clicks))).scalar_one())


def test_prune_drops_the_expired_months_whole_and_trims_the_boundary_month(
    pg_engine: sa.Engine,
) -> None:
    """Six clicks: 2024-01-10; 2025-04-20 and 04-30 (April ended before the cut-off);
    2025-05-10 and 05-20 (May holds the cut-off, 05-16 12:00); 2025-06-14.  Pruning at 30
    days drops the 16 months 2024-01 … 2025-04 (3 clicks gone with them), deletes the one
    May click before the cut-off, and keeps May, June and every rollup (6 clicks)."""
    _partitioned_with_clicks(pg_engine, [
        datetime(2024, 1, 10, 9, tzinfo=UTC), datetime(2025, 4, 20, 9, tzinfo=UTC),
        datetime(2025, 4, 30, 23, tzinfo=UTC), datetime(2025, 5, 10, 9, tzinfo=UTC),
        datetime(2025, 5, 20, 9, tzinfo=UTC), datetime(2025, 6, 14, 9, tzinfo=UTC)])

    outcome = prune_raw_clicks(pg_engine, 30, PRUNED_AT)

    expired = [f"clicks_{year}_{month:02d}" for year, months in ((2024, range(1, 13)),
                                                                 (2025, range(1, 5)))
               for month in months]
    assert list(outcome.dropped_partitions) == expired
    assert outcome.deleted_rows == 1
    with pg_engine.connect() as conn:
        months = _partitions(conn)
        assert not months & set(expired)
        assert {"clicks_2025_05", "clicks_2025_06"} <= months
        left = sorted(conn.execute(sa.select(t.clicks.c.created_at)).scalars())
        assert left == [datetime(2025, 5, 20, 9, tzinfo=UTC), datetime(2025, 6, 14, 9, tzinfo=UTC)]
        assert _rollup_clicks(conn) == 6

    again = prune_raw_clicks(pg_engine, 30, PRUNED_AT)
    assert (again.dropped_partitions, again.deleted_rows) == ((), 0)


def test_the_prune_command_reports_the_months_it_dropped(
    pg_engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = datetime.now(UTC) - timedelta(days=500)
    _partitioned_with_clicks(pg_engine, [old, datetime.now(UTC)])
    monkeypatch.setenv("CLICKLEDGER_DATABASE_URL",
                       pg_engine.url.render_as_string(hide_password=False))

    result = CliRunner().invoke(cli, ["clicks", "prune", "--older-than-days", "30"])

    assert result.exit_code == 0, result.output
    assert f"clicks_{old:%Y_%m}" in result.output
    assert "deleted 0 raw clicks older than 30 days; hourly rollups kept" in result.output
    with pg_engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(t.clicks)).scalar_one() == 1
        assert _rollup_clicks(conn) == 2


def test_prune_gives_up_on_a_busy_partition_instead_of_queueing_clicks_behind_it(
    pg_engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A long query holds April's partition: DROP would wait for it, and every click insert
    would queue behind the DROP's lock.  Prune waits at most the lock timeout, then says so;
    the months dropped before it stay dropped, nothing else changes."""
    monkeypatch.setattr(retention, "PARTITION_LOCK_TIMEOUT_MS", 200)
    _partitioned_with_clicks(pg_engine, [datetime(2025, 3, 10, 9, tzinfo=UTC),
                                         datetime(2025, 4, 20, 9, tzinfo=UTC),
                                         datetime(2025, 6, 14, 9, tzinfo=UTC)])
    with pg_engine.connect() as reader:
        reader.execute(sa.text("SELECT count(*) FROM clicks_2025_04"))  # holds its lock
        with pytest.raises(retention.PartitionBusy, match="clicks_2025_04"):
            prune_raw_clicks(pg_engine, 30, PRUNED_AT)
        reader.rollback()
    with pg_engine.connect() as conn:
        assert "clicks_2025_03" not in _partitions(conn)
        assert conn.execute(sa.select(sa.func.count()).select_from(t.clicks)).scalar_one() == 2
