"""Report speed and freshness against a real ``clickledger serve`` on SQLite.

``report_p95_ms``: p95 latency of every kind of dashboard and report request — the report
API (dashboard today / month to date / last 30 days, breakdowns by day, hour, sub1, sub2,
country, device and link, CSV, the player list) and the portal's and console's pages
(dashboard, breakdown, players) — for the manager over every affiliate and for one
affiliate, with 10M clicks and 1M events in the database (``--quick``: 3/100 of that).

The data is generated in bulk, as stored rows, not through the HTTP paths: 10M raw clicks
over 60 days (40 affiliates × 3 links; sub1 4 values, sub2 10, sub3 5, sub4 3, sub5 2;
3 countries per link; 6 devices; 90 % unique) by one ``INSERT … SELECT`` over a recursive
sequence inside SQLite; their rollups (``click_rollups_hourly`` and the sub2..sub5 and
device rows) by ``GROUP BY`` over those rows, then folded into the daily rollup by the
app's own ``fold_closed_click_hours``.  1M raw events of 100k players bound to those clicks
(registrations, FTDs, deposits, chargebacks naming deposits, activity) the same way,
folded into the rollups by the app's own ``record_event_rollups``; a CPA ledger line per
FTD, folded by ``record_commission_rollups``.  So the rollups are exactly what ingestion
would have left for those rows.  Baseline: ``/healthz`` p95.

``report_freshness_s``: from the answer to a real click (and to a signed postback
registration) to the moment the dashboard API shows it.  Baseline: one dashboard request.
"""

from __future__ import annotations

import os
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import httpx
import sqlalchemy as sa
from common import Result, free_port

from clickledger.domain.roles import Role
from clickledger.ids import new_id
from clickledger.ingest import signatures
from clickledger.runtime import Runtime
from clickledger.services import reports
from clickledger.settings import Settings
from clickledger.store import tables as t
from clickledger.store.api_keys import issue_key
from clickledger.store.reports import (
    METRICS,
    Folder,
    fold_closed_click_hours,
    fold_events,
    record_commission_rollups,
)
from clickledger.web import auth

SECRET = "bench-secret-key-0123456789-abcdefghijkl"  # noqa: S105 - throwaway bench key
SIGNING = "b" * 32
PASSWORD = "bench password 1"  # noqa: S105 - throwaway bench user
DAYS = 60
AFFILIATES = 40
LINKS_PER_AFFILIATE = 3
EVENTS_PER_PLAYER = 10
FOLD_CHUNK_EVENTS = 5_000
SUB1 = ("google", "facebook", "tiktok", "native")
COUNTRIES = ("DE", "GB", "BR", "CA", "MX", "FI")
DEVICES = ("iPhone", "Samsung SM-S918B", "Pixel 8", "Other", "iPad", "Mac")
CPA_MINOR = 15_000


def _case(expression: str, values: tuple[str, ...]) -> str:
    """SQL picking ``values[expression % len(values)]`` (fixed bench words, no input)."""
    whens = " ".join(f"WHEN {i} THEN '{v}'" for i, v in enumerate(values))
    return f"CASE ({expression}) % {len(values)} {whens} END"


def _hex_id(time_ms: str, serial: str, variant: str) -> str:
    """SQL for a UUIDv7-shaped id as SQLite stores it (32 lower-case hex digits), in
    ``time_ms`` order (``serial`` makes it unique)."""
    return f"printf('%012x7%03x{variant}%015x', {time_ms}, ({serial}) % 4096, {serial})"


def _sqlite_time(expression_ms: str) -> str:
    """SQL for epoch milliseconds as SQLite's stored form of a UTC time."""
    return (
        f"strftime('%Y-%m-%d %H:%M:%S', ({expression_ms}) / 1000, 'unixepoch')"
        f" || printf('.%06d', (({expression_ms}) % 1000) * 1000)"
    )


@dataclass
class Seed:
    brand: str
    offer: str
    integration: str
    affiliates: list[str]
    links: dict[str, list[str]]
    manager_key: str
    affiliate_key: str
    manager_email: str = "boss@bench.example"
    affiliate_email: str = "aff@bench.example"
    timings_s: dict[str, float] = field(default_factory=dict)


def _seed(runtime: Runtime, now: datetime) -> Seed:
    stamps = {"created_at": now, "updated_at": now}
    brand, offer = new_id(), new_id()
    affiliates = [new_id() for _ in range(AFFILIATES)]
    links = {a: [new_id() for _ in range(LINKS_PER_AFFILIATE)] for a in affiliates}
    integration = new_id()
    with runtime.engine.begin() as conn:
        conn.execute(
            t.brands.insert().values(
                id=brand, name="Bench Casino", kind="casino", default_currency="EUR", **stamps
            )
        )
        conn.execute(
            t.offers.insert().values(
                id=offer,
                brand_id=brand,
                name="Welcome",
                landing_url="https://casino.example/?c={click_id}",
                allowed_domains=["casino.example"],
                **stamps,
            )
        )
        conn.execute(
            t.affiliates.insert(),
            [
                {
                    "id": a,
                    "name": f"aff {i}",
                    "email": f"a{i}@example.com",
                    "status": "active",
                    "payout_currency": "EUR",
                    **stamps,
                }
                for i, a in enumerate(affiliates)
            ],
        )
        conn.execute(
            t.tracking_links.insert(),
            [
                {"id": link, "code": f"b{i}-{j}", "affiliate_id": a, "offer_id": offer, **stamps}
                for i, a in enumerate(affiliates)
                for j, link in enumerate(links[a])
            ],
        )
        conn.execute(
            t.integrations.insert().values(
                id=integration, brand_id=brand, name="bench", signing_secret=SIGNING, **stamps
            )
        )
        manager = issue_key(conn, role=Role.MANAGER, name="bench", now=now).token
        affiliate = issue_key(
            conn, role=Role.AFFILIATE, name="aff", now=now, affiliate_id=affiliates[0]
        ).token
        seed = Seed(brand, offer, integration, affiliates, links, manager, affiliate)
        auth.create_user(
            conn,
            email=seed.manager_email,
            password=PASSWORD,
            role=Role.MANAGER,
            affiliate_id=None,
            now=now,
        )
        auth.create_user(
            conn,
            email=seed.affiliate_email,
            password=PASSWORD,
            role=Role.AFFILIATE,
            affiliate_id=affiliates[0],
            now=now,
        )
    return seed


# --- bulk generation ---------------------------------------------------------------------


@dataclass(frozen=True)
class Volume:
    clicks: int
    events: int
    first_ms: int  # the first click
    last_ms: int  # the last click (a couple of minutes before now)
    now_ms: int

    @property
    def players(self) -> int:
        return self.events // EVENTS_PER_PLAYER

    @property
    def ftds(self) -> int:
        return self.players * 3 // 10

    @property
    def deposits(self) -> int:
        return self.players * 25 // 10

    @property
    def chargebacks(self) -> int:
        return self.players // 20


def _hex(value: str) -> str:
    return value.replace("-", "")


# Click i: link i % 120 (so affiliate (i % 120) / 3) and, from the hash h of i, every other
# attribute.  One definition serves the raw rows and the GROUP BYs that roll them up.
_LINKS = AFFILIATES * LINKS_PER_AFFILIATE
_CLICK_KEYS = {  # dimension: (integer key over s.i and s.h, its text for key k; NULL = none)
    "sub1": ("(s.h >> 7) % 4", _case("{k}", SUB1)),
    "country": (f"(s.i % {_LINKS} + (s.h >> 9) % 3) % 6", _case("{k}", COUNTRIES)),
    "sub2": ("(s.h >> 11) % 10", "'pl-' || ({k})"),
    "sub3": ("(s.h >> 15) % 5", "'cr-' || ({k})"),
    "sub4": ("(s.h >> 18) % 3", _case("{k}", ("a", "b", "c"))),
    "sub5": ("(s.h >> 20) % 2", "CASE WHEN ({k}) = 0 THEN 'x' END"),
    "device": ("(s.h >> 22) % 6", _case("{k}", DEVICES)),
}
_UNIQUE = "((s.h >> 25) % 10 != 0)"


def _click_text(dim: str) -> str:
    key, text = _CLICK_KEYS[dim]
    return text.format(k=key)


def _click_sequence(volume: Volume) -> str:
    """The CTE ``s(i, h, at_ms)`` of every click."""
    span_ms = volume.last_ms - volume.first_ms
    return f"""WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq
                                  WHERE i < {volume.clicks - 1}),
    s AS (SELECT i, (i * 274877906939) % 2147483647 AS h,
                 {volume.first_ms} + i * {span_ms} / {volume.clicks} AS at_ms FROM seq)"""  # noqa: S608


def _generate_clicks(db: sqlite3.Connection, seed: Seed, volume: Volume) -> None:
    """``volume.clicks`` raw clicks, evenly spread from ``first_ms`` to ``last_ms``."""
    db.execute(
        "CREATE TEMP TABLE bench_links (n INTEGER PRIMARY KEY, link_id TEXT, affiliate_id TEXT)"
    )
    db.executemany(
        "INSERT INTO bench_links VALUES (?, ?, ?)",
        [
            (i * LINKS_PER_AFFILIATE + j, _hex(link), _hex(a))
            for i, a in enumerate(seed.affiliates)
            for j, link in enumerate(seed.links[a])
        ],
    )
    texts = {dim: _click_text(dim) for dim in _CLICK_KEYS}
    db.execute(f"""
    {_click_sequence(volume)}
    INSERT INTO clicks (id, created_at, link_id, affiliate_id, offer_id, sub1, sub2, sub3,
                        sub4, sub5, ip, user_agent, accept_language, visitor_key, is_unique,
                        country, device, os, browser, is_bot, enriched_at)
    SELECT {_hex_id("s.at_ms", "s.i", "8")}, {_sqlite_time("s.at_ms")}, l.link_id,
           l.affiliate_id, '{_hex(seed.offer)}', {texts["sub1"]}, {texts["sub2"]},
           {texts["sub3"]}, {texts["sub4"]}, {texts["sub5"]},
           '10.' || ((s.h >> 8) & 255) || '.' || ((s.h >> 16) & 255) || '.' || (s.h & 255),
           'Mozilla/5.0 bench', 'en', printf('%08x', s.h), {_UNIQUE}, {texts["country"]},
           {texts["device"]}, 'OS', 'Browser', 0, {_sqlite_time("s.at_ms")}
    FROM s JOIN bench_links l ON l.n = s.i % {_LINKS}
    """)  # noqa: S608 - fixed bench SQL, no outside input


def _click_rollups(db: sqlite3.Connection, seed: Seed, volume: Volume) -> None:
    """The hourly click rollup and the sub2..sub5 and device daily rows: what the click
    writer would have upserted for those clicks, counted by GROUP BYs over the clicks'
    keys packed into one integer (recomputed: far cheaper to sort than the stored text)."""
    sub1, country = _CLICK_KEYS["sub1"][0], _CLICK_KEYS["country"][0]
    hour_s = f"{volume.first_ms // 1000} + (g.key / {_LINKS * 24}) * 3600"
    db.execute(f"""
    {_click_sequence(volume)},
    g AS (SELECT ((((s.at_ms - {volume.first_ms}) / 3600000 * {_LINKS} + s.i % {_LINKS}) * 4
                   + {sub1}) * 6 + {country}) AS key,
                 count(*) AS clicks, sum({_UNIQUE}) AS uniques
          FROM s GROUP BY 1)
    INSERT INTO click_rollups_hourly (hour, affiliate_id, link_id, offer_id, sub1, country,
                                      clicks, unique_clicks)
    SELECT strftime('%Y-%m-%d %H:%M:%S', {hour_s}, 'unixepoch') || '.000000', l.affiliate_id,
           l.link_id, '{_hex(seed.offer)}', {_CLICK_KEYS["sub1"][1].format(k="g.key / 6")},
           {_CLICK_KEYS["country"][1].format(k="g.key")}, g.clicks, g.uniques
    FROM g JOIN bench_links l ON l.n = (g.key / 24) % {_LINKS}
    """)  # noqa: S608 - fixed bench SQL
    zeros = ", ".join("0" for _ in METRICS[2:])
    for dim in ("sub2", "sub3", "sub4", "sub5", "device"):
        key, text = _CLICK_KEYS[dim]
        db.execute(f"""
        {_click_sequence(volume)},
        g AS (SELECT (((s.at_ms - {volume.first_ms}) / 86400000 * {AFFILIATES}
                       + (s.i % {_LINKS}) / {LINKS_PER_AFFILIATE}) * 16 + {key}) AS key,
                     count(*) AS clicks, sum({_UNIQUE}) AS uniques FROM s GROUP BY 1)
        INSERT INTO report_rollups_daily (affiliate_id, dim, day, value, currency,
                                          {", ".join(METRICS)})
        SELECT l.affiliate_id, '{dim}',
               date({volume.first_ms // 1000} + g.key / {16 * AFFILIATES} * 86400, 'unixepoch'),
               coalesce({text.format(k="g.key % 16")}, ''), '', g.clicks, g.uniques, {zeros}
        FROM g JOIN bench_links l ON l.n = (g.key / 16) % {AFFILIATES} * {LINKS_PER_AFFILIATE}
        """)  # noqa: S608 - fixed bench SQL
    # ... and their sum over affiliates (the app's writers keep it from here on)
    db.execute(f"""
    INSERT INTO report_rollups_staff (dim, day, value, currency, {", ".join(METRICS)})
    SELECT dim, day, value, currency, {", ".join(f"sum({m})" for m in METRICS)}
    FROM report_rollups_daily GROUP BY dim, day, value, currency
    """)  # noqa: S608 - fixed bench SQL


def _generate_players(db: sqlite3.Connection, seed: Seed, volume: Volume) -> None:
    """``volume.players`` players, each bound by one of the clicks (registered a minute
    after it); three in ten made an FTD ten minutes after registering."""
    players = volume.players
    click_rowid = f"1 + (s.p * 7919) % {volume.clicks}"
    ftd_event = f"{players} + (s.p / 10) * 3 + s.p % 10"
    registered = "strftime('%Y-%m-%d %H:%M:%S', c.created_at, '+60 seconds') || '.000000'"
    ftd_at = (
        "min(strftime('%Y-%m-%d %H:%M:%S', c.created_at, '+660 seconds') || '.000000',"
        f" '{_ms_text(volume.now_ms)}')"
    )
    db.execute(f"""
    WITH RECURSIVE s(p) AS (SELECT 0 UNION ALL SELECT p + 1 FROM s WHERE p < {players - 1})
    INSERT INTO players (id, brand_id, operator_player_id, registered_at, affiliate_id,
                         click_id, attribution, country, ftd_event_id, ftd_at, created_at,
                         updated_at)
    SELECT {_hex_id(f"{volume.first_ms} + s.p", "s.p", "9")}, '{_hex(seed.brand)}',
           'bp' || s.p, {registered}, c.affiliate_id, c.id, 'click', c.country,
           CASE WHEN s.p % 10 < 3 THEN {
        _hex_id(f"{volume.first_ms} + {ftd_event}", ftd_event, "8")
    } END,
           CASE WHEN s.p % 10 < 3 THEN {ftd_at} END, {registered}, {registered}
    FROM s JOIN clicks c ON c.rowid = {click_rowid}
    """)  # noqa: S608 - fixed bench SQL


def _generate_events(db: sqlite3.Connection, seed: Seed, volume: Volume) -> None:
    """``volume.events`` events, numbered so each number says what it is: registrations,
    then one FTD per FTD player, deposits of FTD players (hours after registering), a
    chargeback of every 50th deposit two days later (naming it), then daily activity rows.
    Times after ``now`` are moved back to ``now``."""
    players, ftds, deposits, chargebacks = (
        volume.players,
        volume.ftds,
        volume.deposits,
        volume.chargebacks,
    )
    first_deposit = players + ftds
    first_chargeback = first_deposit + deposits
    first_activity = first_chargeback + chargebacks
    # the player of an FTD / deposit: FTD players are those with p % 10 < 3
    ftd_player = "((({k}) / 3) * 10 + ({k}) % 3)"
    deposit_k = f"((s.i - {first_deposit}) % {ftds})"
    chargeback_target = f"({first_deposit} + (s.i - {first_chargeback}) * 50)"
    player = f"""CASE
        WHEN s.i < {players} THEN s.i
        WHEN s.i < {first_deposit} THEN {ftd_player.format(k=f"s.i - {players}")}
        WHEN s.i < {first_chargeback} THEN {ftd_player.format(k=deposit_k)}
        WHEN s.i < {first_activity} THEN {
        ftd_player.format(k=f"(({chargeback_target} - {first_deposit}) % {ftds})")
    }
        ELSE (s.i - {first_activity}) % {players} END"""
    offset_s = f"""CASE
        WHEN s.i < {players} THEN 60
        WHEN s.i < {first_deposit} THEN 660
        WHEN s.i < {first_chargeback} THEN 3600 * (2 + (s.i - {first_deposit}) / {ftds})
        WHEN s.i < {first_activity} THEN 3600 * (2 + ({chargeback_target} - {first_deposit})
                                                 / {ftds}) + 172800
        ELSE 86400 * ((s.i - {first_activity}) / {players}) + 7200 END"""
    deposit_amount = "(1000 + ((({i}) * 2654435761) % 40) * 250)"
    kind = f"""CASE WHEN s.i < {players} THEN 'registration'
        WHEN s.i < {first_deposit} THEN 'ftd' WHEN s.i < {first_chargeback} THEN 'deposit'
        WHEN s.i < {first_activity} THEN 'chargeback' ELSE 'activity' END"""
    amount = f"""CASE WHEN s.i < {players} THEN NULL
        WHEN s.i < {first_chargeback} THEN {deposit_amount.format(i="s.i")}
        WHEN s.i < {first_activity} THEN {deposit_amount.format(i=chargeback_target)} END"""
    activity = f"s.i >= {first_activity}"
    occurred = (
        "min(strftime('%Y-%m-%d %H:%M:%S', c.created_at, '+' || e.offset_s"
        f" || ' seconds') || '.000000', '{_ms_text(volume.now_ms)}')"
    )
    db.execute(f"""
    WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < {volume.events - 1}),
    e AS (SELECT s.i, {player} AS p, {kind} AS kind, {offset_s} AS offset_s,
                 {amount} AS amount_minor,
                 CASE WHEN {activity} THEN 2000 + (s.i * 48271) % 9000 END AS bets,
                 CASE WHEN {activity} THEN 1500 + (s.i * 16807) % 8000 END AS wins,
                 CASE WHEN {activity} AND s.i % 7 = 0 THEN 300 END AS bonus,
                 CASE WHEN s.i >= {first_chargeback} AND NOT {activity}
                      THEN 'e' || {chargeback_target} END AS reverses
          FROM s)
    INSERT INTO player_events (id, integration_id, txn_id, payload_hash, source, kind,
                               brand_id, operator_player_id, player_id, occurred_at,
                               received_at, amount_minor, currency, bets_minor, wins_minor,
                               bonus_minor, activity_day, reverses_txn_id)
    SELECT {_hex_id(f"{volume.first_ms} + e.i", "e.i", "8")},
           '{_hex(seed.integration)}', 'e' || e.i, 'bench', 'batch', e.kind,
           '{_hex(seed.brand)}', 'bp' || e.p, pl.id, {occurred}, {occurred}, e.amount_minor,
           'EUR', e.bets, e.wins, e.bonus,
           CASE WHEN e.kind = 'activity' THEN substr({occurred}, 1, 10) END, e.reverses
    FROM e JOIN players pl ON pl.rowid = e.p + 1 JOIN clicks c ON c.id = pl.click_id
    """)  # noqa: S608 - fixed bench SQL


def _ms_text(epoch_ms: int) -> str:
    moment = datetime.fromtimestamp(epoch_ms / 1000, UTC).replace(tzinfo=None)
    return moment.isoformat(" ", "microseconds")


def _generate_ledger(db: sqlite3.Connection) -> None:
    """A EUR 150 CPA conversion and ledger line per FTD player, at its FTD."""
    db.execute("""
    INSERT INTO conversions (id, player_id, affiliate_id, kind, status, reason, event_id,
                             period_start, qualified_at, created_at, updated_at)
    SELECT 'c' || substr(p.id, 2), p.id, p.affiliate_id, 'cpa', 'approved', 'bench CPA',
           p.ftd_event_id, substr(p.ftd_at, 1, 8) || '01 00:00:00.000000', p.ftd_at,
           p.ftd_at, p.ftd_at
    FROM players p WHERE p.ftd_event_id IS NOT NULL
    """)
    db.execute(f"""
    INSERT INTO ledger_entries (id, entry_key, kind, affiliate_id, player_id, amount_minor,
                                currency, deal_type, period_start, status, source_event_ids,
                                conversion_id, explanation, created_at)
    SELECT 'd' || substr(p.id, 2), 'cpa:' || p.id, 'commission', p.affiliate_id, p.id,
           {CPA_MINOR}, 'EUR', 'cpa', substr(p.ftd_at, 1, 8) || '01 00:00:00.000000',
           'approved', '[]', 'c' || substr(p.id, 2), 'CPA EUR 150.00: FTD qualified (bench)',
           p.ftd_at
    FROM players p WHERE p.ftd_event_id IS NOT NULL
    """)  # noqa: S608 - fixed bench SQL


def _ids(conn: sa.Connection, sql: str) -> Iterator[list[str]]:
    """Ids from ``sql`` in chunks, as canonical text."""
    rows = [r[0] for r in conn.exec_driver_sql(sql)]
    for start in range(0, len(rows), FOLD_CHUNK_EVENTS):
        yield [
            f"{v[:8]}-{v[8:12]}-{v[12:16]}-{v[16:20]}-{v[20:]}"
            for v in rows[start : start + FOLD_CHUNK_EVENTS]
        ]


def _fold_events_and_commission(runtime: Runtime) -> None:
    """The app's own rollup writers over the generated events (read player by player, so the
    player and click look-ups stay in cache; folded into one ``Folder``, written once) and
    ledger lines."""
    with runtime.engine.begin() as conn:
        conn.exec_driver_sql("PRAGMA cache_size=-500000")  # this connection: 500 MB
        folder = Folder(conn.dialect.name)
        for chunk in _ids(conn, "SELECT id FROM player_events ORDER BY player_id, id"):
            fold_events(conn, folder, chunk)
        folder.write(conn)
        e = t.ledger_entries.c
        lines = [
            dict(r._mapping)
            for r in conn.execute(
                sa.select(
                    e.id,
                    e.entry_key,
                    e.kind,
                    e.affiliate_id,
                    e.player_id,
                    e.amount_minor,
                    e.currency,
                    e.created_at,
                )
            )
        ]
        for start in range(0, len(lines), FOLD_CHUNK_EVENTS):
            posted = lines[start : start + FOLD_CHUNK_EVENTS]
            record_commission_rollups(conn, posted, inserted=len(posted))


def generate(runtime: Runtime, path: Path, seed: Seed, volume: Volume, now: datetime) -> None:
    """Raw rows and their rollups, in bulk; times of each step in ``seed.timings_s``."""
    runtime.engine.dispose()
    db = sqlite3.connect(path, isolation_level=None)
    steps = (
        ("clicks", lambda: _generate_clicks(db, seed, volume)),
        ("click rollups", lambda: _click_rollups(db, seed, volume)),
        ("players", lambda: _generate_players(db, seed, volume)),
        ("events", lambda: _generate_events(db, seed, volume)),
        ("ledger", lambda: _generate_ledger(db)),
    )
    try:
        db.execute("PRAGMA journal_mode=OFF")  # a scratch database: no rollback journal
        db.execute("PRAGMA synchronous=OFF")
        db.execute("PRAGMA cache_size=-1000000")  # 1 GB of page cache while generating
        db.execute("PRAGMA temp_store=MEMORY")  # GROUP BY sorts in memory
        db.execute("BEGIN")
        for name, step in steps:
            started = time.process_time()
            step()
            seed.timings_s[name] = time.process_time() - started
        db.execute("COMMIT")
        db.execute("PRAGMA journal_mode=WAL")
    finally:
        db.close()
    started = time.process_time()
    _fold_events_and_commission(runtime)
    seed.timings_s["event rollups"] = time.process_time() - started
    started = time.process_time()
    with runtime.engine.begin() as conn:  # steady state: earlier requests folded them
        fold_closed_click_hours(conn, now, max_hours=(DAYS + 1) * 24)
    seed.timings_s["fold hours"] = time.process_time() - started


def check(runtime: Runtime, volume: Volume, now: datetime) -> None:
    """The dashboard over every day equals what the raw rows say (else the bench stops)."""
    first = datetime.fromtimestamp(volume.first_ms / 1000, UTC).date()
    with runtime.engine.begin() as conn:
        totals = reports.dashboard(conn, None, reports.DayRange(first, now.date()), now)
        raw = conn.exec_driver_sql("""
            SELECT (SELECT count(*) FROM clicks), (SELECT sum(is_unique) FROM clicks),
                   (SELECT count(*) FROM player_events WHERE kind = 'registration'),
                   (SELECT count(*) FROM players WHERE ftd_event_id IS NOT NULL),
                   (SELECT sum(CASE WHEN kind = 'chargeback' THEN -amount_minor
                                    ELSE amount_minor END)
                    FROM player_events WHERE kind IN ('ftd', 'deposit', 'chargeback')),
                   (SELECT sum(bets_minor) FROM player_events),
                   (SELECT sum(amount_minor) FROM ledger_entries)""").one()
    shown = totals["totals"]
    expected = {
        "clicks": raw[0],
        "unique_clicks": raw[1],
        "registrations": raw[2],
        "ftds": raw[3],
        "deposits": {"EUR": f"{raw[4] / 100:.2f}"},
        "bets": {"EUR": f"{raw[5] / 100:.2f}"},
        "commission": {"EUR": f"{raw[6] / 100:.2f}"},
    }
    wrong = {k: (shown[k], v) for k, v in expected.items() if shown[k] != v}
    if wrong:
        raise AssertionError(f"generated rollups disagree with the raw rows: {wrong}")


# --- measuring -----------------------------------------------------------------------------


def _p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[18] if len(samples) >= 20 else max(samples)


def _timed(http: httpx.Client, path: str, headers: dict[str, str]) -> float:
    start = time.perf_counter()
    answer = http.get(path, headers=headers)
    elapsed = (time.perf_counter() - start) * 1000
    assert answer.status_code == 200, f"{path}: {answer.status_code} {answer.text[:200]}"
    return elapsed


API_PATHS = (
    "/api/v1/reports/dashboard?period=today",
    "/api/v1/reports/dashboard?period=mtd",
    "/api/v1/reports/dashboard?period=last30",
    "/api/v1/reports/breakdown?by=day&period=last30",
    "/api/v1/reports/breakdown?by=hour&period=last30",
    "/api/v1/reports/breakdown?by=sub1&period=mtd",
    "/api/v1/reports/breakdown?by=sub2&period=last30",
    "/api/v1/reports/breakdown?by=country&period=last30",
    "/api/v1/reports/breakdown?by=device&period=last30",
    "/api/v1/reports/breakdown?by=link&period=mtd",
    "/api/v1/reports/breakdown.csv?by=sub3&period=last30",
    "/api/v1/reports/players",
    "/api/v1/reports/players?offset=1000",
)
PAGES = (
    "",
    "?period=last30",
    "/breakdown?by=sub2&period=last30",
    "/breakdown?by=day&period=mtd",
    "/players",
)


def _sign_in(http: httpx.Client, email: str) -> None:
    form = http.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token is not None, "no login form"
    answer = http.post(
        "/login", data={"email": email, "password": PASSWORD, "csrf_token": token.group(1)}
    )
    assert answer.status_code == 303, f"sign-in failed: {answer.status_code}"


def _freshness(http: httpx.Client, seed: Seed, manager: dict[str, str]) -> float:
    """Seconds from an accepted click and an accepted registration to the dashboard."""
    affiliate = seed.affiliates[0]
    path = f"/api/v1/reports/dashboard?period=today&affiliate_id={affiliate}"
    before = http.get(path, headers=manager).json()["totals"]
    answer = http.get(
        "/c/b0-0", headers={"user-agent": "Mozilla/5.0 bench"}, follow_redirects=False
    )
    clicked = time.perf_counter()
    click_id = answer.headers["location"].split("c=")[-1]
    worst = _wait_for(http, path, manager, "clicks", before["clicks"] + 1, clicked)
    ts = str(int(time.time()))
    query = urlencode(
        {
            "event": "registration",
            "txn_id": new_id(),
            "player_id": new_id(),
            "click_id": click_id,
            "cl_key": seed.integration,
            "cl_ts": ts,
        }
    )
    sig = signatures.sign(SIGNING, ts, "GET", "/postback", query, b"")
    posted = http.get(f"/postback?{query}&cl_sig={sig}")
    accepted = time.perf_counter()
    assert posted.status_code == 200, posted.text
    return max(
        worst,
        _wait_for(http, path, manager, "registrations", before["registrations"] + 1, accepted),
    )


def _wait_for(
    http: httpx.Client, path: str, headers: dict[str, str], metric: str, expected: int, since: float
) -> float:
    deadline = since + 30
    while time.perf_counter() < deadline:
        if http.get(path, headers=headers).json()["totals"][metric] >= expected:
            return time.perf_counter() - since
        time.sleep(0.02)
    return float("inf")


@dataclass
class Samples:
    by_path: dict[str, list[float]] = field(default_factory=dict)

    def add(self, path: str, ms: float) -> None:
        self.by_path.setdefault(path, []).append(ms)

    @property
    def all(self) -> list[float]:
        return [ms for values in self.by_path.values() for ms in values]

    def slowest(self) -> str:
        path, values = max(self.by_path.items(), key=lambda pair: _p95(pair[1]))
        return f"{path} p95 {_p95(values):.0f} ms"


def _cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _measure(
    base: str, seed: Seed, rounds: int, server_pid: int
) -> tuple[Samples, list[float], float, float, float]:
    manager = {"Authorization": f"Bearer {seed.manager_key}"}
    affiliate = {"Authorization": f"Bearer {seed.affiliate_key}"}
    samples = Samples()
    with (
        httpx.Client(base_url=base, timeout=30) as http,
        httpx.Client(base_url=base, timeout=30) as console,
        httpx.Client(base_url=base, timeout=30) as portal,
    ):
        _sign_in(console, seed.manager_email)
        _sign_in(portal, seed.affiliate_email)
        requests: list[tuple[httpx.Client, str, dict[str, str], str]] = []
        for path in API_PATHS:
            requests += [
                (http, path, manager, f"manager {path}"),
                (http, path, affiliate, f"affiliate {path}"),
            ]
        for page in PAGES:
            requests += [
                (console, f"/console{page}", {}, f"/console{page}"),
                (portal, f"/portal{page}", {}, f"/portal{page}"),
            ]
        for client, path, headers, _label in requests:  # warm caches once
            _timed(client, path, headers)
        cpu_before = _cpu_s(server_pid)
        for _ in range(rounds):
            for client, path, headers, label in requests:
                samples.add(label, _timed(client, path, headers))
        server_cpu_ms = (_cpu_s(server_pid) - cpu_before) * 1000 / len(samples.all)
        health = [_timed(http, "/healthz", {}) for _ in range(len(samples.all))]
        one_dashboard = _timed(http, API_PATHS[1], manager) / 1000
        fresh_s = _freshness(http, seed, manager)
    return samples, health, one_dashboard, fresh_s, server_cpu_ms


def run(quick: bool) -> list[Result]:
    clicks_total = 300_000 if quick else 10_000_000
    events_total = 30_000 if quick else 1_000_000
    rounds = 8 if quick else 20
    folder = Path(tempfile.mkdtemp(prefix="clickledger-bench-reports-"))
    path = folder / "reports.db"
    url = f"sqlite:///{path}"
    now = datetime.now(UTC)
    runtime = Runtime.open(Settings(database_url=url, secret_key=SECRET))
    seed = _seed(runtime, now)
    first_day = now.date() - timedelta(days=DAYS - 1)
    first = datetime(first_day.year, first_day.month, first_day.day, tzinfo=UTC)
    now_ms = int(now.timestamp() * 1000)
    volume = Volume(
        clicks_total, events_total, int(first.timestamp() * 1000), now_ms - 120_000, now_ms
    )
    gen_start = time.perf_counter()
    generate(runtime, path, seed, volume, now)
    generated_s = time.perf_counter() - gen_start
    check(runtime, volume, now)
    runtime.engine.dispose()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "CLICKLEDGER_SECRET_KEY": SECRET,
        "CLICKLEDGER_DATABASE_URL": url,
        "CLICKLEDGER_PUBLIC_BASE_URL": base,
    }
    log = (folder / "serve.log").open("w")  # kept for a post-mortem (the database too with
    # CLICKLEDGER_BENCH_KEEP_DB=1)
    server = subprocess.Popen(
        [sys.executable, "-m", "clickledger", "serve", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=log,
    )
    try:
        _wait_up(base, server)
        samples, health, one_dashboard, fresh_s, server_cpu_ms = _measure(
            base, seed, rounds, server.pid
        )
    finally:
        server.terminate()
        server.wait(timeout=20)
        log.close()
        if not os.environ.get("CLICKLEDGER_BENCH_KEEP_DB"):  # gigabytes at full volume
            for leftover in folder.glob("reports.db*"):
                leftover.unlink()
    p95 = _p95(samples.all)
    steps = ", ".join(f"{name} {s:.0f} s" for name, s in seed.timings_s.items())
    volume_text = (
        f"{clicks_total:,} clicks and {events_total:,} events stored, generated in "
        f"{generated_s:.0f} s wall (CPU: {steps}); {len(samples.by_path)} kinds of "
        f"request, {len(samples.all)} requests, server CPU {server_cpu_ms:.1f} ms a "
        f"request; slowest {samples.slowest()}"
        f"{'; --quick: 3/100 volume' if quick else ''}"
    )
    return [
        Result("report_p95_ms", p95, "ms", _p95(health), f"≤100 ms; {volume_text}", p95 <= 100),
        Result(
            "report_freshness_s",
            fresh_s,
            "s",
            one_dashboard,
            "≤2 s (click and postback registration → dashboard API)",
            fresh_s <= 2,
        ),
    ]


def _wait_up(base: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    with httpx.Client(base_url=base, timeout=5) as http:
        while time.monotonic() < deadline:
            if server.poll() is not None:
                raise RuntimeError("clickledger serve exited")
            try:
                if http.get("/healthz").status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
    raise RuntimeError("clickledger serve did not start")


BENCHES = {"reports": run}
