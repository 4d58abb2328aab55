"""The click writer: one batch of queued clicks → raw click rows + rollups, one transaction.

It is the ``flush`` of a ``store.group_commit.GroupCommitter`` and runs in its
single writer thread, so every microsecond of Python here is taken from the
requests waiting on the same interpreter lock.  Per batch it:

* derives, once per click (kept for retries): country and user-agent facts
  (``enrich``, cached per distinct IP and user agent), the stored form of the
  IP, and uniqueness (``uniques``);
* inserts all raw rows with one multi-row ``INSERT`` through the driver's own
  connection (no SQLAlchemy execution context, no per-row objects), prepared
  once per batch size by the driver's statement cache;
* counts the batch per distinct (hour, link, sub1..sub5, country, device) —
  one dictionary update per click — and only then expands those counts into
  the hourly rollup (hour, affiliate, link, offer, sub1, country) and the
  daily report rollups of sub2..sub5 and device (``store.reports.Folder``),
  so the rollup upserts carry one row per key, not per click.

A batch makes few statements on purpose: each one releases the interpreter
lock while the database works and must win it back from the event loop
afterwards, which under load is the slow part of a batch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from json.encoder import encode_basestring_ascii
from typing import Any

import sqlalchemy as sa

from clickledger.clock import Clock, utc
from clickledger.store.reports import METRICS, Folder
from clickledger.store.tables import clicks
from clickledger.tracking.enrich import Enricher, UaFacts
from clickledger.tracking.links import LinkTarget
from clickledger.tracking.retention import IpPolicy
from clickledger.tracking.uniques import HOURS_KEPT, UniqueVisitors

SECONDS_PER_HOUR = 3600
ID_COLUMNS = frozenset({"id", "link_id", "affiliate_id", "offer_id"})
COLUMNS = (
    "id",
    "created_at",
    "link_id",
    "affiliate_id",
    "offer_id",
    "sub1",
    "sub2",
    "sub3",
    "sub4",
    "sub5",
    "extra",
    "ip",
    "user_agent",
    "referrer",
    "accept_language",
    "visitor_key",
    "is_unique",
    "country",
    "device",
    "os",
    "browser",
    "is_bot",
    "enriched_at",
)
ROLLUP_KEY = ("hour", "affiliate_id", "link_id", "offer_id", "sub1", "country")
ROLLUP_COLUMNS = (*ROLLUP_KEY, "clicks", "unique_clicks")
MAX_ROWS_PER_STATEMENT = 1000  # 23 parameters a row: within SQLite's 32766 and PG's 65535
Derived = tuple[int, str | None, str | None, UaFacts, bool]  # hour, ip, country, UA, unique
# (hour, stored link ids, sub1..sub5, country, device): what the rollups of a click depend on
CountKey = tuple[
    int,
    tuple[str, str, str],
    str | None,
    str | None,
    str | None,
    str | None,
    str | None,
    str | None,
    str | None,
]
CLICKS_AT, UNIQUES_AT = 0, 1
_CLICKS_METRIC, _UNIQUES_METRIC = METRICS.index("clicks"), METRICS.index("unique_clicks")
MAX_CACHED_LINKS = 50_000
MAX_CACHED_HOURS = 64


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
    derived: Derived | None = field(default=None)


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
    """SQLAlchemy's SQLite text form of a UTC time: ``YYYY-MM-DD HH:MM:SS.ffffff``."""
    return moment.isoformat(" ", "microseconds")[:26]


def _sqlite_id(value: str) -> str:
    return value.replace("-", "")


def _same(value: Any) -> Any:
    return value


def json_object(values: dict[str, str]) -> str:
    """``values`` (text keys and values, as ``params.parse_query`` leaves them) as a JSON
    object: the same JSON ``json.dumps`` writes, without its per-call set-up (~3x faster)."""
    quote = encode_basestring_ascii
    return "{" + ",".join([quote(key) + ":" + quote(value) for key, value in values.items()]) + "}"


class ClickWriter:
    """Flushes batches of ``PendingClick`` for one database dialect."""

    def __init__(
        self,
        dialect_name: str,
        ip_policy: IpPolicy,
        enricher: Enricher,
        clock: Clock,
        uniques: UniqueVisitors | None = None,
    ) -> None:
        if dialect_name not in ("sqlite", "postgresql"):
            raise ValueError(f"unsupported database dialect {dialect_name!r}")
        self._dialect_name = dialect_name
        self._insert_sql: dict[int, str] = {}
        self._rollup_sql: dict[int, str] = {}
        self._ip_policy = ip_policy
        self._enricher = enricher
        self._clock = clock
        self.uniques = uniques or UniqueVisitors()
        sqlite_db = dialect_name == "sqlite"
        self._sqlite = sqlite_db
        self._time: Callable[[datetime], Any] = _sqlite_time if sqlite_db else _same
        self._id: Callable[[str], str] = _sqlite_id if sqlite_db else _same
        self._bool: Callable[[bool], Any] = int if sqlite_db else bool
        self._link_ids: dict[str, tuple[str, str, str]] = {}  # link id → stored (link, aff, offer)
        self._hours: dict[int, tuple[Any, Any]] = {}  # hour → stored (hour start, UTC day)

    def flush(self, conn: sa.Connection, batch: Sequence[PendingClick]) -> list[str]:
        """Insert ``batch`` and fold it into the rollups; return the click ids."""
        to_id, to_time, to_bool = self._id, self._time, self._bool
        enriched_at = to_time(self._clock.now())
        link_ids = self._link_ids
        rows: list[Any] = []
        counts: dict[CountKey, list[int]] = {}
        for click in batch:
            hour, stored_ip, country, ua, unique = click.derived or self._derive(click)
            link = click.link
            ids = link_ids.get(link.link_id) or self._stored_ids(link)
            s1, s2, s3, s4, s5 = click.subs
            extra = click.extra
            rows += (
                to_id(click.click_id),
                to_time(click.created_at),
                *ids,
                s1,
                s2,
                s3,
                s4,
                s5,
                json_object(extra) if extra else None,
                stored_ip,
                click.user_agent,
                click.referrer,
                click.accept_language,
                click.visitor_key,
                to_bool(unique),
                country,
                ua.device,
                ua.os,
                ua.browser,
                to_bool(ua.is_bot),
                enriched_at,
            )
            key = (hour, ids, s1, s2, s3, s4, s5, country, ua.device)
            found = counts.get(key)
            if found is None:
                counts[key] = [1, 1 if unique else 0]
            else:
                found[CLICKS_AT] += 1
                if unique:
                    found[UNIQUES_AT] += 1
        driver = conn.connection.driver_connection
        self._execute(driver, self._insert_sql, insert_sql, rows, len(COLUMNS))
        self._write_rollups(conn, driver, counts)
        return [click.click_id for click in batch]

    def _write_rollups(
        self, conn: sa.Connection, driver: Any, counts: dict[CountKey, list[int]]
    ) -> None:
        """Add the batch's counts to ``click_rollups_hourly`` and, for sub2..sub5 and device
        (what the hourly table lacks), to ``report_rollups_daily``."""
        hourly: dict[tuple[Any, ...], list[int]] = {}
        daily: dict[tuple[str, Any, str, str], list[int]] = {}
        for (hour, ids, s1, s2, s3, s4, s5, country, device), (n, unique_n) in counts.items():
            hour_start, day = self._hours.get(hour) or self._hour_forms(hour)
            link_id, affiliate_id, offer_id = ids
            _add(
                hourly,
                (hour_start, affiliate_id, link_id, offer_id, s1 or "", country or ""),
                n,
                unique_n,
            )
            for dim, value in (
                ("sub2", s2),
                ("sub3", s3),
                ("sub4", s4),
                ("sub5", s5),
                ("device", device),
            ):
                key = (affiliate_id, day, dim, value or "")
                found = daily.get(key)
                if found is None:
                    daily[key] = [n, unique_n]
                else:
                    found[CLICKS_AT] += n
                    found[UNIQUES_AT] += unique_n
        rollup_rows: list[Any] = []
        for key in hourly if self._sqlite else sorted(hourly):  # PG: one lock order
            rollup_rows += key
            rollup_rows += hourly[key]
        self._execute(driver, self._rollup_sql, rollup_sql, rollup_rows, len(ROLLUP_COLUMNS))
        folder = Folder(self._dialect_name)
        for (affiliate_id, day, dim, value), (n, unique_n) in daily.items():
            folder.add(
                affiliate_id,
                dim,
                day,
                value,
                "",
                ((_CLICKS_METRIC, n), (_UNIQUES_METRIC, unique_n)),
            )
        folder.write(conn)

    def _execute(
        self,
        driver: Any,
        cache: dict[int, str],
        build: Callable[[str, int], str],
        flat: list[Any],
        width: int,
    ) -> None:
        """Run ``flat`` (rows of ``width`` values) in statements of at most 1000 rows."""
        step = MAX_ROWS_PER_STATEMENT * width
        for start in range(0, len(flat), step):
            chunk = flat[start : start + step] if len(flat) > step else flat
            count = len(chunk) // width
            sql = cache.get(count)
            if sql is None:
                sql = cache[count] = build(self._dialect_name, count)
            driver.execute(sql, chunk)

    def _stored_ids(self, link: LinkTarget) -> tuple[str, str, str]:
        """(link, affiliate, offer) ids as the database stores them, remembered per link."""
        if len(self._link_ids) >= MAX_CACHED_LINKS:
            self._link_ids.clear()
        ids = (self._id(link.link_id), self._id(link.affiliate_id), self._id(link.offer_id))
        self._link_ids[link.link_id] = ids
        return ids

    def _hour_forms(self, hour: int) -> tuple[Any, Any]:
        """(start of ``hour``, its UTC day) as the rollup tables store them, remembered."""
        if len(self._hours) >= MAX_CACHED_HOURS:
            self._hours.clear()
        start = _hour_start(hour)
        day: date = start.date()
        forms = self._hours[hour] = (self._time(start), day.isoformat() if self._sqlite else day)
        return forms

    def _derive(self, click: PendingClick) -> Derived:
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
            clicks.c.created_at,
            clicks.c.link_id,
            clicks.c.visitor_key,
            clicks.c.ip,
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


def _add(totals: dict[Any, list[int]], key: Any, clicks_n: int, unique_n: int) -> None:
    found = totals.get(key)
    if found is None:
        totals[key] = [clicks_n, unique_n]
    else:
        found[CLICKS_AT] += clicks_n
        found[UNIQUES_AT] += unique_n
