"""The click writer: one batch of queued clicks → raw click rows + hourly rollups, one transaction.

It is the ``flush`` of a ``store.group_commit.GroupCommitter`` and runs in its
single writer thread.  Per batch it enriches each click (country, device, OS,
browser, bot — see ``enrich``), turns the IP into its stored form, decides
uniqueness (``uniques``), inserts all raw rows with one driver-level
``executemany`` of a statement prepared once (no per-row SQLAlchemy objects or
type processing), then upserts the batch's rollup rows, aggregated in Python
first, with ``insert … on conflict do update`` (SQLite and PostgreSQL).  The
rollup dimensions are hour, affiliate, link, offer, sub1 and country; counts
are clicks and unique clicks.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from clickledger.clock import Clock, utc
from clickledger.store.reports import ClickDims, record_click_dimensions
from clickledger.store.tables import clicks
from clickledger.tracking.enrich import Enricher, UaFacts
from clickledger.tracking.links import LinkTarget
from clickledger.tracking.retention import IpPolicy
from clickledger.tracking.uniques import HOURS_KEPT, UniqueVisitors

SECONDS_PER_HOUR = 3600
ID_COLUMNS = frozenset({"id", "link_id", "affiliate_id", "offer_id"})
COLUMNS = (
    "id", "created_at", "link_id", "affiliate_id", "offer_id",
    "sub1", "sub2", "sub3", "sub4", "sub5", "extra",
    "ip", "user_agent", "referrer", "accept_language", "visitor_key", "is_unique",
    "country", "device", "os", "browser", "is_bot", "enriched_at",
)
ROLLUP_KEY = ("hour", "affiliate_id", "link_id", "offer_id", "sub1", "country")
ROLLUP_COLUMNS = (*ROLLUP_KEY, "clicks", "unique_clicks")
MAX_ROWS_PER_STATEMENT = 1000  # 23 parameters a row: within SQLite's 32766 and PG's 65535


@dataclass(slots=True)
class PendingClick:
    """A click as the request saw it, queued for the writer (nothing derived yet)."""

    click_id: str
    created_at: datetime
    link: LinkTarget
    subs: list[str | None]
    extra: dict[str, str] | None
    ip: str | None
    user_agent: str
    referrer: str | None
    accept_language: str | None
    visitor_key: str
    derived: tuple[Any, ...] | None = field(default=None)


def insert_sql(dialect_name: str, rows: int) -> str:
    """A multi-row raw-click insert for ``rows`` rows, in the driver's own parameter style.

    One statement per batch (not ``executemany``) means one call into the driver: the
    writer thread releases and re-takes the GIL once per batch instead of once per row,
    which under load otherwise costs up to a GIL switch interval (5 ms) each time.
    """
    if dialect_name == "sqlite":
        marks = ["?"] * len(COLUMNS)
    elif dialect_name == "postgresql":
        marks = [_pg_mark(column) for column in COLUMNS]
    else:
        raise ValueError(f"unsupported database dialect {dialect_name!r}")
    one_row = f"({', '.join(marks)})"
    # Fixed column names and placeholders only: no value is ever formatted into the SQL.
    return f"INSERT INTO clicks ({', '.join(COLUMNS)}) VALUES " + ", ".join(  # noqa: S608
        [one_row] * rows
    )


def rollup_sql(dialect_name: str, rows: int) -> str:
    """A multi-row ``insert … on conflict do update`` adding to the hourly counts."""
    if dialect_name == "sqlite":
        one_row = "(" + ", ".join(["?"] * len(ROLLUP_COLUMNS)) + ")"
    else:
        one_row = "(%s, %s::uuid, %s::uuid, %s::uuid, %s, %s, %s, %s)"
    return (
        f"INSERT INTO click_rollups_hourly ({', '.join(ROLLUP_COLUMNS)}) VALUES "  # noqa: S608
        + ", ".join([one_row] * rows)
        + f" ON CONFLICT ({', '.join(ROLLUP_KEY)}) DO UPDATE SET"
        " clicks = click_rollups_hourly.clicks + excluded.clicks,"
        " unique_clicks = click_rollups_hourly.unique_clicks + excluded.unique_clicks"
    )


def _pg_mark(column: str) -> str:
    if column in ID_COLUMNS:
        return "%s::uuid"
    if column == "extra":
        return "%s::jsonb"
    return "%s"


def _sqlite_time(moment: datetime) -> str:
    return moment.replace(tzinfo=None).isoformat(" ", "microseconds")


def _sqlite_id(value: str) -> str:
    return value.replace("-", "")


def _same(value: Any) -> Any:
    return value


class ClickWriter:
    """Flushes batches of ``PendingClick`` for one database dialect."""

    def __init__(
        self, dialect_name: str, ip_policy: IpPolicy, enricher: Enricher, clock: Clock,
        uniques: UniqueVisitors | None = None,
    ) -> None:
        self._dialect_name = dialect_name
        self._insert_sql: dict[int, str] = {}
        self._rollup_sql: dict[int, str] = {}
        self._ip_policy = ip_policy
        self._enricher = enricher
        self._clock = clock
        self.uniques = uniques or UniqueVisitors()
        sqlite_db = dialect_name == "sqlite"
        self._time: Callable[[datetime], Any] = _sqlite_time if sqlite_db else _same
        self._id: Callable[[str], str] = _sqlite_id if sqlite_db else _same
        self._bool: Callable[[bool], Any] = int if sqlite_db else bool

    def flush(self, conn: sa.Connection, batch: Sequence[PendingClick]) -> list[str]:
        """Insert ``batch`` and fold it into the rollups; return the click ids."""
        enriched_at = self._time(self._clock.now())
        rows: list[Any] = []
        rollups: dict[tuple[int, str, str, str, str, str], list[int]] = {}
        to_id, to_time, to_bool = self._id, self._time, self._bool
        dims: list[ClickDims] = []
        for click in batch:
            hour, stored_ip, country, ua, unique = click.derived or self._derive(click)
            link = click.link
            subs = click.subs
            dims.append(ClickDims(click.created_at, link.affiliate_id,
                                  (subs[0], subs[1], subs[2], subs[3], subs[4]), ua.device, unique))
            extra = json.dumps(click.extra) if click.extra else None
            rows.extend((
                to_id(click.click_id), to_time(click.created_at), to_id(link.link_id),
                to_id(link.affiliate_id), to_id(link.offer_id),
                subs[0], subs[1], subs[2], subs[3], subs[4], extra,
                stored_ip, click.user_agent, click.referrer, click.accept_language,
                click.visitor_key, to_bool(unique),
                country, ua.device, ua.os, ua.browser, to_bool(ua.is_bot), enriched_at,
            ))
            key = (hour, link.affiliate_id, link.link_id, link.offer_id, subs[0] or "",
                   country or "")
            counts = rollups.get(key)
            if counts is None:
                rollups[key] = [1, int(unique)]
            else:
                counts[0] += 1
                counts[1] += unique
        self._execute(conn, self._insert_sql, insert_sql, rows, len(COLUMNS))
        rollup_rows: list[Any] = []
        for (hour, affiliate_id, link_id, offer_id, sub1, country), counts in rollups.items():
            rollup_rows.extend((
                to_time(_hour_start(hour)), to_id(affiliate_id), to_id(link_id),
                to_id(offer_id), sub1, country, counts[0], counts[1],
            ))
        self._execute(conn, self._rollup_sql, rollup_sql, rollup_rows, len(ROLLUP_COLUMNS))
        record_click_dimensions(conn, dims)  # sub2..sub5 and device, for the report pages
        return [click.click_id for click in batch]

    def _execute(
        self, conn: sa.Connection, cache: dict[int, str], build: Callable[[str, int], str],
        flat: list[Any], width: int,
    ) -> None:
        """Run ``flat`` (rows of ``width`` values) in statements of at most 1000 rows."""
        step = MAX_ROWS_PER_STATEMENT * width
        for start in range(0, len(flat), step):
            chunk = flat[start : start + step]
            count = len(chunk) // width
            sql = cache.get(count)
            if sql is None:
                sql = cache[count] = build(self._dialect_name, count)
            conn.exec_driver_sql(sql, tuple(chunk))

    def _derive(self, click: PendingClick) -> tuple[int, str | None, str | None, UaFacts, bool]:
        """Enrichment, stored IP and uniqueness, computed once per click (kept for retries)."""
        hour = int(click.created_at.timestamp()) // SECONDS_PER_HOUR
        stored_ip = self._ip_policy.stored(click.ip)
        country = self._enricher.country(click.ip)
        ua = self._enricher.user_agent(click.user_agent)
        # A visitor id minted for this very click (no cookie came in) is not remembered: a
        # cookie-less client would add one key per click; its fingerprint recognises it.
        returning = click.visitor_key if click.visitor_key != click.click_id else None
        unique = not ua.is_bot and self.uniques.first_click(
            hour, click.link.link_id, returning, stored_ip, click.user_agent
        )
        click.derived = (hour, stored_ip, country, ua, unique)
        return click.derived

    def warm_up(self, engine: sa.Engine) -> int:
        """Remember the visitors of the recent hours' raw clicks (after a restart)."""
        now = self._clock.now()
        since = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=HOURS_KEPT - 1)
        query = sa.select(
            clicks.c.created_at, clicks.c.link_id, clicks.c.visitor_key, clicks.c.ip,
            clicks.c.user_agent,
        ).where(clicks.c.created_at >= since)
        seen = 0
        with engine.connect() as conn:
            for created_at, link_id, visitor_key, ip, user_agent in conn.execute(query):
                hour = int(utc(created_at).timestamp()) // SECONDS_PER_HOUR
                self.uniques.first_click(hour, str(link_id), visitor_key, ip, user_agent or "")
                seen += 1
        return seen


def _hour_start(hour: int) -> datetime:
    return datetime.fromtimestamp(hour * SECONDS_PER_HOUR, UTC)
