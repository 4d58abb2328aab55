"""One writer batch: every raw click stored as it came, the rollups counted once per key.

The writer counts a batch per distinct (hour, link, sub-ids, country, device) and
upserts one rollup row per key; these scenarios check the counts by hand.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from clickledger.clock import utc
from clickledger.ids import new_id
from clickledger.runtime import Runtime
from clickledger.store import tables as t
from clickledger.tracking.enrich import Enricher
from clickledger.tracking.links import LinkTarget, read_links
from clickledger.tracking.retention import IpPolicy
from clickledger.tracking.writer import ClickWriter, PendingClick, json_object

from .conftest import Programme, click_rows, rollup_rows

TEN = datetime(2026, 3, 1, 10, 5, tzinfo=UTC)
ELEVEN = TEN + timedelta(hours=1)
DESKTOP = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120.0"  # device: none
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
)  # device: iPhone
GOOGLEBOT = "Googlebot/2.1 (+http://www.google.com/bot.html)"  # device: Spider, a bot


def _click(
    link: LinkTarget,
    at: datetime,
    sub1: str | None,
    sub2: str | None,
    ip: str,
    visitor: str | None,
    ua: str,
    extra: dict[str, str] | None = None,
) -> PendingClick:
    click_id = new_id()
    return PendingClick(
        click_id,
        at,
        link,
        [sub1, sub2, None, None, None],
        extra,
        ip,
        ua,
        None,
        None,
        visitor or click_id,
    )


def test_a_mixed_batch_lands_whole_and_counts_once_per_hour_sub_country_and_device(
    runtime: Runtime, programme: Programme
) -> None:
    link = read_links(runtime.engine, ["spring"])["spring"]
    writer = ClickWriter(
        runtime.engine.dialect.name, IpPolicy("full", "k" * 40), Enricher(), runtime.clock
    )
    batch = [
        _click(link, TEN, "fb", "a", "8.8.8.8", "v1", DESKTOP),  # US, unique
        _click(link, TEN, "fb", "a", "8.8.8.8", "v1", DESKTOP),  # the same visitor again
        _click(link, TEN, "fb", "b", "5.9.0.1", "v2", DESKTOP),  # DE, unique
        _click(link, TEN, None, "a", "8.8.4.4", "v3", IPHONE),  # US, no sub1, unique
        _click(link, ELEVEN, "fb", "a", "8.8.8.8", "v1", DESKTOP),  # v1 in a new hour: unique
        _click(link, ELEVEN, "fb", None, "8.8.4.4", None, GOOGLEBOT),  # a bot: never unique
    ]
    with runtime.engine.begin() as conn:
        assert writer.flush(conn, batch) == [click.click_id for click in batch]

    rows = click_rows(runtime.engine)
    assert [row.id for row in rows] == [click.click_id for click in batch]
    assert [row.is_unique for row in rows] == [True, False, True, True, True, False]
    assert [row.country for row in rows] == ["US", "US", "DE", "US", "US", "US"]
    assert [row.device for row in rows] == [None, None, None, "iPhone", None, "Spider"]

    hourly = {
        (utc(r.hour).hour, r.sub1, r.country): (r.clicks, r.unique_clicks)
        for r in rollup_rows(runtime.engine)
    }
    assert hourly == {
        (10, "fb", "US"): (2, 1),
        (10, "fb", "DE"): (1, 1),
        (10, "", "US"): (1, 1),
        (11, "fb", "US"): (2, 1),
    }

    r = t.report_rollups_daily
    with runtime.engine.connect() as conn:
        daily = {
            (row.dim, row.value): (row.clicks, row.unique_clicks)
            for row in conn.execute(
                sa.select(r.c.dim, r.c.value, r.c.clicks, r.c.unique_clicks).where(
                    r.c.affiliate_id == programme.affiliate_id
                )
            )
        }
    # sub2 "a": the two v1 clicks at ten (one unique), v3, v1 at eleven; "b": v2; "": the bot
    assert daily[("sub2", "a")] == (4, 3)
    assert daily[("sub2", "b")] == (1, 1)
    assert daily[("sub2", "")] == (1, 0)
    assert daily[("sub3", "")] == daily[("sub5", "")] == (6, 4)
    assert daily[("device", "")] == (4, 3)
    assert daily[("device", "iPhone")] == (1, 1)
    assert daily[("device", "Spider")] == (1, 0)


def test_the_next_batch_adds_to_the_same_rollup_rows(
    runtime: Runtime, programme: Programme
) -> None:
    link = read_links(runtime.engine, ["spring"])["spring"]
    writer = ClickWriter(
        runtime.engine.dialect.name, IpPolicy("full", "k" * 40), Enricher(), runtime.clock
    )
    for visitors in ((1, 2), (1, 3, 4)):  # visitor n clicks from 8.8.8.n with cookie vn
        with runtime.engine.begin() as conn:
            writer.flush(
                conn,
                [_click(link, TEN, "fb", "a", f"8.8.8.{n}", f"v{n}", DESKTOP) for n in visitors],
            )
    # five clicks; v1 came back (same link, same hour): four visitors
    assert [(r.sub1, r.clicks, r.unique_clicks) for r in rollup_rows(runtime.engine)] == [
        ("fb", 5, 4)
    ]


def test_extra_parameters_are_stored_as_the_json_object_they_came_as(
    runtime: Runtime, programme: Programme
) -> None:
    extra = {"gclid": 'a"b\\c', "utm_source": "café", "emoji": "🎲", "empty": ""}
    assert json.loads(json_object(extra)) == extra
    link = read_links(runtime.engine, ["spring"])["spring"]
    writer = ClickWriter(
        runtime.engine.dialect.name, IpPolicy("full", "k" * 40), Enricher(), runtime.clock
    )
    with runtime.engine.begin() as conn:
        writer.flush(conn, [_click(link, TEN, "fb", None, "8.8.8.8", "v1", DESKTOP, extra)])
    (row,) = click_rows(runtime.engine)
    assert row.extra == extra
