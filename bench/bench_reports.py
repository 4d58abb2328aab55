"""Report speed and freshness against a real ``clickledger serve`` on SQLite.

``report_p95_ms``: p95 latency of dashboard and breakdown requests (manager over every
affiliate and one affiliate; today, month to date, last 30 days; by day, sub1, country,
device, link) over rollups as 10M clicks and 1M events over 60 days would leave them
(40 affiliates × 3 links, 4 sub1 values, 3 countries per link and hour; events with
every dimension).  The rollup rows are generated directly with executemany; raw click
and event rows are not, because no report reads them.  Baseline: ``/healthz`` p95.

``report_freshness_s``: from the answer to a real click (and to a signed postback
registration) to the moment the dashboard API shows it.  Baseline: one dashboard request.
"""

from __future__ import annotations

import itertools
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import httpx
import sqlalchemy as sa
from common import Result, free_port

from clickledger.domain.roles import Role
from clickledger.ids import new_id
from clickledger.ingest import signatures
from clickledger.runtime import Runtime
from clickledger.settings import Settings
from clickledger.store import tables as t
from clickledger.store.api_keys import issue_key
from clickledger.store.reports import METRICS, fold_closed_click_hours

SECRET = "bench-secret-key-0123456789-abcdefghijkl"  # noqa: S105 - throwaway bench key
SIGNING = "b" * 32
DAYS = 60
AFFILIATES = 40
LINKS_PER_AFFILIATE = 3
SUB1 = ("google", "facebook", "tiktok", "native")
COUNTRIES = ("DE", "GB", "BR", "CA", "MX", "FI")
DEVICES = ("iPhone", "Samsung SM-S918B", "Other", "Pixel 8")


def _seed(runtime: Runtime, now: datetime) -> dict[str, object]:
    stamps = {"created_at": now, "updated_at": now}
    brand, offer = new_id(), new_id()
    affiliates = [new_id() for _ in range(AFFILIATES)]
    links = {a: [new_id() for _ in range(LINKS_PER_AFFILIATE)] for a in affiliates}
    integration = new_id()
    with runtime.engine.begin() as conn:
        conn.execute(t.brands.insert().values(id=brand, name="Bench Casino", kind="casino",
                                              default_currency="EUR", **stamps))
        conn.execute(t.offers.insert().values(id=offer, brand_id=brand, name="Welcome",
                                              landing_url="https://casino.example/?c={click_id}",
                                              allowed_domains=["casino.example"], **stamps))
        conn.execute(t.affiliates.insert(), [
            {"id": a, "name": f"aff {i}", "email": f"a{i}@example.com", "status": "active",
             "payout_currency": "EUR", **stamps} for i, a in enumerate(affiliates)])
        conn.execute(t.tracking_links.insert(), [
            {"id": link, "code": f"b{i}-{j}", "affiliate_id": a, "offer_id": offer, **stamps}
            for i, a in enumerate(affiliates) for j, link in enumerate(links[a])])
        conn.execute(t.integrations.insert().values(id=integration, brand_id=brand,
                                                    name="bench", signing_secret=SIGNING,
                                                    **stamps))
        manager = issue_key(conn, role=Role.MANAGER, name="bench", now=now).token
        affiliate = issue_key(conn, role=Role.AFFILIATE, name="aff", now=now,
                              affiliate_id=affiliates[0]).token
    return {"brand": brand, "offer": offer, "affiliates": affiliates, "links": links,
            "integration": integration, "manager": manager, "affiliate": affiliate}


def _click_rollups(conn: sa.Connection, seed: dict[str, object], clicks_total: int,
                   first_hour: datetime) -> int:
    """click_rollups_hourly rows summing to ``clicks_total`` clicks."""
    rng = random.Random(7)
    links: dict[str, list[str]] = seed["links"]  # type: ignore[assignment]
    cells = [(a, link) for a, ls in links.items() for link in ls]
    hours = DAYS * 24
    per_cell_hour = clicks_total / (len(cells) * hours)
    rows: list[tuple[object, ...]] = []
    written = 0
    sql = ("INSERT INTO click_rollups_hourly (hour, affiliate_id, link_id, offer_id, sub1, "
           "country, clicks, unique_clicks) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
    offer = str(seed["offer"]).replace("-", "")
    raw = conn.connection.driver_connection
    assert raw is not None
    for h in range(hours):
        hour = (first_hour + timedelta(hours=h)).replace(tzinfo=None).isoformat(" ",
                                                                               "microseconds")
        for affiliate, link in cells:
            budget = int(per_cell_hour * 2 * rng.random() + 0.5)
            combos = list(itertools.islice(itertools.product(SUB1, COUNTRIES[:3]),
                                           rng.randint(6, 12)))
            for index, (sub1, country) in enumerate(combos):
                share = budget // len(combos) + (index < budget % len(combos))
                rows.append((hour, affiliate.replace("-", ""), link.replace("-", ""), offer,
                             sub1, country, share, share * 9 // 10))
                written += share
        if len(rows) > 200_000:
            raw.executemany(sql, rows)
            rows = []
    if rows:
        raw.executemany(sql, rows)
    return written


def _event_rollups(conn: sa.Connection, seed: dict[str, object], events_total: int,
                   first_day: date) -> int:
    """report_rollups_daily rows as ``events_total`` events would leave them."""
    rng = random.Random(11)
    affiliates: list[str] = seed["affiliates"]  # type: ignore[assignment]
    links: dict[str, list[str]] = seed["links"]  # type: ignore[assignment]
    per_affiliate_day = events_total // (AFFILIATES * DAYS)
    rows: list[tuple[object, ...]] = []
    columns = ("affiliate_id", "dim", "day", "value", "currency", *METRICS)
    sql = (f"INSERT INTO report_rollups_daily ({', '.join(columns)}) VALUES "  # noqa: S608
           f"({', '.join('?' * len(columns))})")
    for affiliate in affiliates:
        values = {"all": [""], "hour": [f"{h:02d}" for h in range(24)],
                  "brand": [str(seed["brand"])], "offer": [str(seed["offer"])],
                  "link": links[affiliate], "sub1": list(SUB1), "country": list(COUNTRIES[:3]),
                  "device": list(DEVICES),
                  **{f"sub{i}": [f"s{i}-{k}" for k in range(3)] for i in range(2, 6)}}
        for d in range(DAYS):
            day = (first_day + timedelta(days=d)).isoformat()
            regs = per_affiliate_day // 10
            for dim, options in values.items():
                for value in options:
                    share = max(1, len(options))
                    counts = [0, 0, regs // share, regs // (3 * share), regs // (5 * share),
                              0, 0, 0, 0, 0, 0, 0, 0]
                    money = [0, 0, 0, 0, 0, rng.randint(1, 9) * 10_000 // share,
                             per_affiliate_day * 5_000 // share,
                             per_affiliate_day * 40_000 // share,
                             per_affiliate_day * 36_000 // share, 1_000, 0, 0,
                             regs * 15_000 // (5 * share)]
                    rows.append((affiliate.replace("-", ""), dim, day, value, "", *counts))
                    rows.append((affiliate.replace("-", ""), dim, day, value, "EUR", *money))
    raw = conn.connection.driver_connection
    assert raw is not None
    raw.executemany(sql, rows)
    return len(rows)


def _p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[18] if len(samples) >= 20 else max(samples)


def _timed(http: httpx.Client, path: str, headers: dict[str, str]) -> float:
    start = time.perf_counter()
    answer = http.get(path, headers=headers)
    elapsed = (time.perf_counter() - start) * 1000
    assert answer.status_code == 200, f"{path}: {answer.status_code} {answer.text[:200]}"
    return elapsed


REPORT_PATHS = (
    "/api/v1/reports/dashboard?period=today", "/api/v1/reports/dashboard?period=mtd",
    "/api/v1/reports/dashboard?period=last30", "/api/v1/reports/breakdown?by=day&period=last30",
    "/api/v1/reports/breakdown?by=sub1&period=mtd",
    "/api/v1/reports/breakdown?by=country&period=last30",
    "/api/v1/reports/breakdown?by=device&period=last30",
    "/api/v1/reports/breakdown?by=link&period=mtd",
    "/api/v1/reports/breakdown.csv?by=sub2&period=last30",
)


def _freshness(http: httpx.Client, seed: dict[str, object], manager: dict[str, str]) -> float:
    """Seconds from an accepted click and an accepted registration to the dashboard."""
    affiliate = str(seed["affiliates"][0])  # type: ignore[index]
    path = f"/api/v1/reports/dashboard?period=today&affiliate_id={affiliate}"
    before = http.get(path, headers=manager).json()["totals"]
    code = "b0-0"
    answer = http.get(f"/c/{code}", headers={"user-agent": "Mozilla/5.0 bench"},
                      follow_redirects=False)
    clicked = time.perf_counter()
    click_id = answer.headers["location"].split("c=")[-1]
    worst = _wait_for(http, path, manager, "clicks", before["clicks"] + 1, clicked)
    ts = str(int(time.time()))
    query = urlencode({"event": "registration", "txn_id": new_id(), "player_id": new_id(),
                       "click_id": click_id, "cl_key": str(seed["integration"]), "cl_ts": ts})
    sig = signatures.sign(SIGNING, ts, "GET", "/postback", query, b"")
    posted = http.get(f"/postback?{query}&cl_sig={sig}")
    accepted = time.perf_counter()
    assert posted.status_code == 200, posted.text
    return max(worst, _wait_for(http, path, manager, "registrations",
                                before["registrations"] + 1, accepted))


def _wait_for(http: httpx.Client, path: str, headers: dict[str, str], metric: str,
              expected: int, since: float) -> float:
    deadline = since + 30
    while time.perf_counter() < deadline:
        if http.get(path, headers=headers).json()["totals"][metric] >= expected:
            return time.perf_counter() - since
        time.sleep(0.02)
    return float("inf")


def run(quick: bool) -> list[Result]:
    clicks_total = 300_000 if quick else 10_000_000
    events_total = 30_000 if quick else 1_000_000
    rounds = 8 if quick else 30
    folder = Path(tempfile.mkdtemp(prefix="clickledger-bench-reports-"))
    url = f"sqlite:///{folder / 'reports.db'}"
    now = datetime.now(UTC)
    runtime = Runtime.open(Settings(database_url=url, secret_key=SECRET))
    seed = _seed(runtime, now)
    first_day = now.date() - timedelta(days=DAYS - 1)
    first_hour = datetime(first_day.year, first_day.month, first_day.day, tzinfo=UTC)
    gen_start = time.perf_counter()
    with runtime.engine.begin() as conn:
        clicks = _click_rollups(conn, seed, clicks_total, first_hour)
        rollup_rows = _event_rollups(conn, seed, events_total, first_day)
    while True:  # steady state: closed hours were folded by earlier report requests
        with runtime.engine.begin() as conn:
            if not fold_closed_click_hours(conn, now):
                break
    generated_s = time.perf_counter() - gen_start
    runtime.engine.dispose()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "CLICKLEDGER_SECRET_KEY": SECRET, "CLICKLEDGER_DATABASE_URL": url,
           "CLICKLEDGER_PUBLIC_BASE_URL": base}
    log = (folder / "serve.log").open("w")  # kept beside the database for a post-mortem
    server = subprocess.Popen([sys.executable, "-m", "clickledger", "serve", "--port",
                               str(port)], env=env, stdout=log, stderr=log)
    try:
        with httpx.Client(base_url=base, timeout=30) as http:
            _wait_up(http, server)
            manager = {"Authorization": f"Bearer {seed['manager']}"}
            affiliate = {"Authorization": f"Bearer {seed['affiliate']}"}
            for path in REPORT_PATHS:  # warm caches once
                _timed(http, path, manager)
            samples = [_timed(http, path, who) for _ in range(rounds)
                       for path in REPORT_PATHS for who in (manager, affiliate)]
            health = [_timed(http, "/healthz", {}) for _ in range(len(samples))]
            one_dashboard = _timed(http, REPORT_PATHS[1], manager) / 1000
            fresh_s = _freshness(http, seed, manager)
    finally:
        server.terminate()
        server.wait(timeout=20)
        log.close()
    p95 = _p95(samples)
    volume = (f"{clicks:,} clicks / {events_total:,} events as rollups "
              f"({rollup_rows:,} event-rollup rows, generated in {generated_s:.0f} s; "
              f"raw rows not generated{', --quick: 3/100 volume' if quick else ''})")
    return [
        Result("report_p95_ms", p95, "ms", _p95(health), f"≤100 ms; {volume}", p95 <= 100),
        Result("report_freshness_s", fresh_s, "s", one_dashboard,
               "≤2 s (click and postback registration → dashboard API)", fresh_s <= 2),
    ]


def _wait_up(http: httpx.Client, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
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
