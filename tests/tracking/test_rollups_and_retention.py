"""Hourly rollups stay right batch after batch, and pruning raw clicks leaves them intact."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from typer.testing import CliRunner

from clickledger.cli.main import app as cli
from clickledger.clock import FakeClock, utc
from clickledger.ids import new_id
from clickledger.runtime import Runtime
from clickledger.store import tables as t
from clickledger.tracking.enrich import Enricher
from clickledger.tracking.links import read_links
from clickledger.tracking.retention import IpPolicy, prune_clicks
from clickledger.tracking.writer import ClickWriter, PendingClick

from .conftest import Programme, click_rows, rollup_rows

START = datetime(2026, 3, 1, 10, 15, tzinfo=UTC)
CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120.0"


def _click(link, at: datetime, sub1: str | None, ip: str, visitor: str | None = None,
           ua: str = CHROME) -> PendingClick:  # type: ignore[no-untyped-def]
    click_id = new_id()
    return PendingClick(click_id=click_id, created_at=at, link=link,
                        subs=[sub1, None, None, None, None], extra=None, ip=ip, user_agent=ua,
                        referrer=None, accept_language=None, visitor_key=visitor or click_id)


def _writer(runtime: Runtime) -> ClickWriter:
    return ClickWriter(runtime.engine.dialect.name, IpPolicy("full", "k" * 40), Enricher(),
                       runtime.clock)


def _flush(runtime: Runtime, writer: ClickWriter, batch: list[PendingClick]) -> None:
    with runtime.engine.begin() as conn:
        writer.flush(conn, batch)


def test_rollups_count_clicks_and_uniques_per_hour_sub1_and_country_across_batches(
    runtime: Runtime, programme: Programme
) -> None:
    link = read_links(runtime.engine, ["spring"])["spring"]
    writer = _writer(runtime)
    later = START + timedelta(hours=1)
    # Batch 1: two US visitors on sub1=fb, one German on sub1=fb, a US repeat of visitor 1.
    _flush(runtime, writer, [
        _click(link, START, "fb", "8.8.8.8", "v1"),
        _click(link, START + timedelta(minutes=1), "fb", "8.8.4.4", "v2"),
        _click(link, START + timedelta(minutes=2), "fb", "5.9.0.1"),
        _click(link, START + timedelta(minutes=3), "fb", "8.8.8.8", "v1"),
    ])
    # Batch 2: visitor 1 again in the same hour (not unique), then in the next hour (unique),
    # a bot, and a click without sub1.
    _flush(runtime, writer, [
        _click(link, START + timedelta(minutes=40), "fb", "8.8.8.8", "v1"),
        _click(link, later, "fb", "8.8.8.8", "v1"),
        _click(link, later, "fb", "8.8.4.4", ua="Googlebot/2.1 (+http://www.google.com/bot.html)"),
        _click(link, later, None, "8.8.8.9", "v9"),
    ])
    got = {(utc(r.hour), r.sub1, r.country): (r.clicks, r.unique_clicks)
           for r in rollup_rows(runtime.engine)}
    hour, next_hour = START.replace(minute=0), later.replace(minute=0)
    assert got == {
        (hour, "fb", "US"): (4, 2),
        (hour, "fb", "DE"): (1, 1),
        (next_hour, "fb", "US"): (2, 1),
        (next_hour, "", "US"): (1, 1),
    }
    assert sum(clicks for clicks, _ in got.values()) == len(click_rows(runtime.engine)) == 8
    bot = next(r for r in click_rows(runtime.engine) if r.user_agent.startswith("Googlebot"))
    assert bot.is_bot is True and bot.is_unique is False


def test_a_restarted_writer_remembers_this_hours_visitors(
    runtime: Runtime, programme: Programme, clock: FakeClock
) -> None:
    clock.set(START)
    link = read_links(runtime.engine, ["spring"])["spring"]
    _flush(runtime, _writer(runtime), [_click(link, START, "fb", "8.8.8.8", "v1")])
    restarted = _writer(runtime)
    assert restarted.warm_up(runtime.engine) == 1
    _flush(runtime, restarted, [_click(link, START + timedelta(minutes=5), "fb", "8.8.8.8", "v1")])
    assert [r.is_unique for r in click_rows(runtime.engine)] == [True, False]


def test_pruning_removes_old_raw_clicks_but_keeps_the_rollups(
    runtime: Runtime, programme: Programme
) -> None:
    link = read_links(runtime.engine, ["spring"])["spring"]
    now = START + timedelta(days=100)
    _flush(runtime, _writer(runtime), [
        _click(link, START, "old", "8.8.8.8"),
        _click(link, now - timedelta(days=5), "new", "8.8.8.8"),
    ])
    before = [(r.sub1, r.clicks) for r in rollup_rows(runtime.engine)]
    assert prune_clicks(runtime.engine, 30, now) == 1
    assert [r.sub1 for r in click_rows(runtime.engine)] == ["new"]
    assert [(r.sub1, r.clicks) for r in rollup_rows(runtime.engine)] == before


def test_the_prune_command_uses_the_retention_setting_or_the_option(
    runtime: Runtime, programme: Programme, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    link = read_links(runtime.engine, ["spring"])["spring"]
    real_now = datetime.now(UTC)
    _flush(runtime, _writer(runtime), [
        _click(link, real_now - timedelta(days=500), "ancient", "8.8.8.8"),
        _click(link, real_now - timedelta(days=50), "recent", "8.8.8.8"),
        _click(link, real_now, "today", "8.8.8.8"),
    ])
    monkeypatch.setenv("CLICKLEDGER_DATABASE_URL", runtime.settings.database_url)
    result = CliRunner().invoke(cli, ["clicks", "prune"])
    assert result.exit_code == 0, result.output
    assert "deleted 1 raw clicks older than 400 days" in result.output
    result = CliRunner().invoke(cli, ["clicks", "prune", "--older-than-days", "10"])
    assert "deleted 1 raw clicks older than 10 days" in result.output
    assert [r.sub1 for r in click_rows(runtime.engine)] == ["today"]
    with runtime.engine.connect() as conn:
        total = conn.execute(sa.select(sa.func.sum(t.click_rollups_hourly.c.clicks))).scalar()
    assert total == 3


def test_clicks_count_by_sub2_to_sub5_and_device_in_the_report_rollups(
    runtime: Runtime, programme: Programme
) -> None:
    link = read_links(runtime.engine, ["spring"])["spring"]
    writer = _writer(runtime)
    first, repeat, other = (_click(link, START, "fb", ip, visitor) for ip, visitor in
                            (("8.8.8.8", "v1"), ("8.8.8.8", "v1"), ("8.8.4.4", "v2")))
    first.subs[1] = repeat.subs[1] = "adset-7"
    _flush(runtime, writer, [first, repeat, other])
    r = t.report_rollups_daily
    with runtime.engine.connect() as conn:
        rows = {(row.dim, row.value): (row.clicks, row.unique_clicks) for row in conn.execute(
            sa.select(r.c.dim, r.c.value, r.c.clicks, r.c.unique_clicks)
            .where(r.c.dim.in_(["sub2", "device"])))}
    # three clicks, two visitors: v1 twice on adset-7 (one unique), v2 once without sub2
    assert rows[("sub2", "adset-7")] == (2, 1)
    assert rows[("sub2", "")] == (1, 1)
    assert sum(clicks for (dim, _), (clicks, _u) in rows.items() if dim == "device") == 3
