"""PostgreSQL production mode: postbacks/s with one and two ``clickledger serve`` processes.

In one run, all driven by the same load generator as ``bench_postback`` (wrk
``-t1 -c64`` sending pre-signed ``GET /postback`` URLs, a registration and an
FTD per player, every request authenticated, stored, attributed, run through
the CPA deal and queued in the outbox before it is answered):

1. the baseline: one server on a fresh SQLite file;
2. ``postback_ingest_pg``: one server on a fresh PostgreSQL database (created
   and dropped by the bench; ``CLICKLEDGER_BENCH_POSTGRES_URL`` names the
   admin connection, ``postgres@127.0.0.1:5432/test`` by default);
3. ``postback_ingest_pg_2proc``: a second server on the same database, and
   two wrk processes in parallel, one per server port, each with its own
   players; the figure is the sum of both rates;
4. duplicates: both wrk processes send the *same* list of txn ids to the two
   servers at once; then every txn stored must be one event with one outbox
   row, every user one player, and no player paid twice (``pg_duplicate_events``);
5. delivery: the servers stop (SIGTERM, queued work drained), two
   ``clickledger worker`` processes deliver the outbox to a counting receiver
   (the first also runs the fraud worker, as in production — a postback waits
   for its event's fraud assessment, up to a minute, before it is due — the
   second runs with ``--no-fraud``); each delivered row must have reached the
   receiver exactly once, and in a full run every row must be delivered
   (``--quick`` stops 5 s after the first delivery) (``pg_outbox_receiver_hits``).

The three servers start side by side (startup dominates ``--quick``); each
idles while the others are measured.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import sqlalchemy as sa
from bench_click import stop, wait_ready
from bench_postback import LUA, SECRET_KEY, run_wrk_lua, seed, signed_paths
from common import Result, free_port

from clickledger.store import tables as t
from clickledger.store.engine import create_engine

ADMIN_URL = os.environ.get("CLICKLEDGER_BENCH_POSTGRES_URL",
                           "postgresql+psycopg://postgres@127.0.0.1:5432/test")
TARGET_PG_SHARE = 0.5
PLAYERS_PER_SECOND = 3000  # per URL list: room for 6,000 postbacks/s before wrk wraps around
DELIVERY_TIMEOUT_S = 240.0  # full run: the whole outbox must drain within this
DELIVERY_QUICK_S = 5.0  # --quick: deliver for this long, then check what was delivered


# --- processes ----------------------------------------------------------------

@dataclass
class Server:
    process: subprocess.Popen[bytes]
    base: str
    log_path: Path


def launch_server(database_url: str, folder: Path, tag: str) -> Server:
    """Start ``clickledger serve`` on a free port (not yet waited for)."""
    port = free_port()
    env = {**os.environ, "CLICKLEDGER_SECRET_KEY": SECRET_KEY,
           "CLICKLEDGER_DATABASE_URL": database_url, "CLICKLEDGER_ALLOW_LOOPBACK_TARGETS": "true"}
    log_path = folder / f"server-{tag}.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "clickledger", "serve", "--port", str(port)], env=env,
            stderr=log_file, stdout=subprocess.DEVNULL)
    return Server(process, f"http://127.0.0.1:{port}", log_path)


def await_servers(servers: list[Server]) -> None:
    """Wait until each answers ``/healthz`` (they start side by side: one wait, not three)."""
    for server in servers:
        try:
            wait_ready(f"{server.base}/healthz", server.process, timeout_s=90.0)
        except RuntimeError:
            print(server.log_path.read_text()[-3000:], file=sys.stderr)
            for other in servers:
                stop(other.process)
            raise


def start_worker(database_url: str, folder: Path, tag: str,
                 fraud: bool = False) -> subprocess.Popen[bytes]:
    """``clickledger worker``; with ``fraud`` it also runs the fraud worker (one per database,
    as docs/scaling.md says), else ``--no-fraud``."""
    env = {**os.environ, "CLICKLEDGER_SECRET_KEY": SECRET_KEY,
           "CLICKLEDGER_DATABASE_URL": database_url, "CLICKLEDGER_ALLOW_LOOPBACK_TARGETS": "true"}
    command = [sys.executable, "-m", "clickledger", "worker", *([] if fraud else ["--no-fraud"])]
    with (folder / f"worker-{tag}.log").open("wb") as log_file:
        return subprocess.Popen(command, env=env, stderr=log_file, stdout=subprocess.DEVNULL)


def create_database(admin_url: str) -> tuple[str, str]:
    name = f"cl_bench_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return name, sa.engine.make_url(admin_url).set(database=name).render_as_string(
        hide_password=False)


def drop_database(admin_url: str, name: str) -> None:
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


# --- the counting receiver ------------------------------------------------------

@dataclass
class Hits:
    by_tid: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)


def start_receiver(hits: Hits) -> tuple[ThreadingHTTPServer, int]:
    """An HTTP server on 127.0.0.1 counting GETs per ``tid``; answers 200 at once."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            tid = parse_qs(urlsplit(self.path).query).get("tid", [""])[0]
            with hits.lock:
                hits.by_tid[tid] += 1
            self.send_response(200)
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, int(server.server_address[1])


def point_templates_at(url: str, receiver_port: int) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(t.postback_templates.update().values(
            url_template=f"http://127.0.0.1:{receiver_port}/pb?tid={{txn_id}}&e={{event}}"))
    engine.dispose()


# --- phases -------------------------------------------------------------------------

def url_list(folder: Path, integration: str, click_ids: list[str], prefix: str) -> tuple[Path, int]:
    path = folder / f"paths-{prefix}.txt"
    return path, signed_paths(integration, click_ids, path, prefix=prefix)


def parallel_wrk(
    jobs: list[tuple[str, Path]], script: Path, seconds: int
) -> list[dict[str, float]]:
    """One wrk process per (server, URL list), all at once."""
    with ThreadPoolExecutor(len(jobs)) as pool:
        futures = [pool.submit(run_wrk_lua, base, script, paths, seconds) for base, paths in jobs]
        return [future.result() for future in futures]


def measure_sqlite(server: Server, folder: Path, script: Path, seconds: int,
                   integration: str, click_ids: list[str]) -> dict[str, float]:
    try:
        paths, _ = url_list(folder, integration, click_ids[: len(click_ids) // 10], "s-")
        run_wrk_lua(server.base, script, paths, 1)  # warm-up (connections, caches)
        paths, total = url_list(folder, integration, click_ids[len(click_ids) // 10:], "s2-")
        result = run_wrk_lua(server.base, script, paths, seconds)
    finally:
        stop(server.process)
    result["wrapped"] = float(result["requests"] >= total)
    return result


def duplicate_check(url: str, prefix: str) -> dict[str, int]:
    """For the events whose txn ids start ``prefix``: one event per txn, one player per user,
    at most one outbox row per event (an FTD that beat its registration has no affiliate yet,
    so no postback), and no player with two commission entries."""
    pe, p, le, o = t.player_events, t.players, t.ledger_entries, t.outbox
    ours = pe.c.txn_id.like(f"{prefix}%")
    engine = create_engine(url)
    with engine.connect() as conn:
        events = conn.execute(sa.select(sa.func.count()).select_from(pe).where(ours)).scalar_one()
        txns = conn.execute(sa.select(sa.func.count(sa.distinct(pe.c.txn_id))).where(ours)
                            ).scalar_one()
        users = conn.execute(sa.select(sa.func.count(sa.distinct(pe.c.operator_player_id)))
                             .where(ours)).scalar_one()
        players = conn.execute(sa.select(sa.func.count()).select_from(p).where(
            p.c.operator_player_id.like(f"{prefix}%"))).scalar_one()
        outbox = conn.execute(sa.select(sa.func.count(), sa.func.count(sa.distinct(o.c.event_id)))
                              .select_from(o.join(pe, pe.c.id == o.c.event_id)).where(ours)).one()
        per_player = (sa.select(le.c.player_id, sa.func.count().label("n"))
                      .select_from(le.join(p, p.c.id == le.c.player_id))
                      .where(le.c.kind == "commission", p.c.operator_player_id.like(f"{prefix}%"))
                      .group_by(le.c.player_id).subquery())
        paid_twice = conn.execute(sa.select(sa.func.count()).select_from(per_player).where(
            per_player.c.n > 1)).scalar_one()
        paid = conn.execute(sa.select(sa.func.count()).select_from(per_player)).scalar_one()
    engine.dispose()
    return {"events": int(events), "distinct_txns": int(txns), "users": int(users),
            "players": int(players), "outbox_rows": int(outbox[0]),
            "outbox_events": int(outbox[1]), "players_paid": int(paid),
            "players_paid_twice": int(paid_twice)}


def outbox_counts(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(t.outbox.c.status, sa.func.count())
                            .group_by(t.outbox.c.status)).all()
    return {str(status): int(count) for status, count in rows}


def deliver(url: str, folder: Path, hits: Hits, window_s: float) -> dict[str, float]:
    """Two workers drain the outbox (or deliver for ``window_s`` after the first hit); receiver
    hits are then compared with the rows marked delivered."""
    started = time.monotonic()
    first_hit_at: float | None = None
    workers = [start_worker(url, folder, str(n), fraud=n == 0) for n in range(2)]
    engine = create_engine(url)
    try:
        while time.monotonic() - started < DELIVERY_TIMEOUT_S:
            time.sleep(0.25)
            if first_hit_at is None and hits.by_tid:
                first_hit_at = time.monotonic()
            if outbox_counts(engine).get("pending", 0) == 0:
                break
            if first_hit_at is not None and time.monotonic() - first_hit_at >= window_s:
                break
        elapsed = time.monotonic() - (first_hit_at or started)
    finally:
        for worker in workers:
            stop(worker)  # type: ignore[arg-type]
    statuses = outbox_counts(engine)
    engine.dispose()
    with hits.lock:
        by_tid = dict(hits.by_tid)
    return {"outbox_rows": sum(statuses.values()), "delivered": statuses.get("delivered", 0),
            "pending": statuses.get("pending", 0), "receiver_hits": sum(by_tid.values()),
            "distinct_hit": len(by_tid), "hit_twice": sum(1 for n in by_tid.values() if n > 1),
            "seconds": elapsed}


@dataclass
class PgRun:
    one: dict[str, float]
    two: list[dict[str, float]]
    duplicates: dict[str, int]
    delivery: dict[str, float]


def measure_postgres(servers: list[Server], url: str, folder: Path, script: Path,
                     seconds: int, dup_seconds: int, integration: str,
                     ids: list[str], hits: Hits, delivery_s: float) -> PgRun:
    """One server, then both, then both on the same txn ids; then the workers deliver."""
    players = len(ids) // 4
    first = servers[0]
    try:
        warm = [url_list(folder, integration, ids[: players // 20], "a-")[0],
                url_list(folder, integration, ids[players // 20: players // 10], "w-")[0]]
        # warm both servers (connections, caches, prepared statements) before measuring
        parallel_wrk([(server.base, paths) for server, paths in zip(servers, warm, strict=True)],
                     script, 1)
        paths_a, total_a = url_list(folder, integration, ids[players // 10:players], "a2-")
        one = run_wrk_lua(first.base, script, paths_a, seconds)
        one["wrapped"] = float(one["requests"] >= total_a)
        lists = [url_list(folder, integration, ids[players * (k + 1):players * (k + 2)],
                          f"b{k}-") for k in range(2)]
        two = parallel_wrk([(server.base, paths) for server, (paths, _) in
                            zip(servers, lists, strict=True)], script, seconds)
        for result, (_, total) in zip(two, lists, strict=True):
            result["wrapped"] = float(result["requests"] >= total)
        dup_paths, _ = url_list(folder, integration, ids[3 * players:], "c-")
        dup_runs = parallel_wrk([(server.base, dup_paths) for server in servers], script,
                                dup_seconds)
        one["dup_non_2xx"] = sum(run["non_2xx"] for run in dup_runs)
        one["dup_requests"] = sum(run["requests"] for run in dup_runs)
    finally:
        for server in servers:
            stop(server.process)  # SIGTERM: in-flight requests finish, committers drain
    duplicates = duplicate_check(url, "c-")
    return PgRun(one, two, duplicates, deliver(url, folder, hits, delivery_s))


def _postgres_reachable() -> str | None:
    try:
        engine = sa.create_engine(ADMIN_URL)
        with engine.connect():
            pass
        engine.dispose()
    except Exception as exc:  # noqa: BLE001 - any failure means "not here"
        return f"{exc.__class__.__name__}"
    return None


def bench_scaleout(quick: bool) -> list[Result]:
    seconds, dup_seconds = (3, 2) if quick else (15, 5)
    players = PLAYERS_PER_SECOND * seconds
    problem = _postgres_reachable()
    if problem is not None:
        print(f"scaleout bench: PostgreSQL not reachable at {ADMIN_URL}: {problem}",
              file=sys.stderr)
        return [Result("postback_ingest_pg", 0.0, "postbacks/s", None,
                       "PostgreSQL reachable (it was not)", False)]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        script = folder / "paths.lua"
        script.write_text(LUA)
        sqlite_url = f"sqlite:///{folder / 'baseline.db'}"
        sqlite_integration, sqlite_ids = seed(sqlite_url, players)
        name, pg_url = create_database(ADMIN_URL)
        hits = Hits()
        receiver, receiver_port = start_receiver(hits)
        try:
            pg_integration, pg_ids = seed(pg_url, 4 * players)
            point_templates_at(pg_url, receiver_port)
            servers = [launch_server(url, folder, tag) for url, tag in
                       ((sqlite_url, "sqlite"), (pg_url, "pg-a"), (pg_url, "pg-b"))]
            await_servers(servers)
            sqlite = measure_sqlite(servers[0], folder, script, seconds, sqlite_integration,
                                    sqlite_ids)
            pg = measure_postgres(servers[1:], pg_url, folder, script, seconds, dup_seconds,
                                  pg_integration, pg_ids, hits,
                                  DELIVERY_QUICK_S if quick else DELIVERY_TIMEOUT_S)
        finally:
            receiver.shutdown()
            drop_database(ADMIN_URL, name)
    two_rps = sum(run["rps"] for run in pg.two)
    two_parts = " + ".join(f"{run['rps']:.0f}" for run in pg.two)
    dup, dlv = pg.duplicates, pg.delivery
    print(
        f"scaleout bench: sqlite {sqlite['rps']:.0f}/s p99 {sqlite['p99_ms']:.1f} ms; pg one "
        f"{pg.one['rps']:.0f}/s p99 {pg.one['p99_ms']:.1f} ms; pg two "
        f"{two_parts} = {two_rps:.0f}/s; duplicates "
        f"{dup}; delivery {dlv} ({dlv['delivered'] / max(dlv['seconds'], 0.001):.0f}/s with "
        f"two workers)",
        file=sys.stderr,
    )
    clean_one = pg.one["non_2xx"] == 0 and not pg.one["wrapped"] and not sqlite["wrapped"]
    clean_two = all(r["non_2xx"] == 0 and not r["wrapped"] for r in pg.two)
    dup_ok = (0 < dup["events"] == dup["distinct_txns"]
              and dup["outbox_rows"] == dup["outbox_events"] <= dup["events"]
              and dup["players"] == dup["users"] and dup["players_paid_twice"] == 0
              and pg.one["dup_non_2xx"] == 0)
    drained = dlv["pending"] == 0 or quick  # --quick checks the rows delivered so far
    once_ok = (drained and 0 < dlv["receiver_hits"] == dlv["delivered"] == dlv["distinct_hit"]
               and dlv["hit_twice"] == 0)
    return [
        Result("postback_ingest_pg", pg.one["rps"], "postbacks/s", sqlite["rps"],
               f">={TARGET_PG_SHARE:.0%} of SQLite single node",
               clean_one and pg.one["rps"] >= TARGET_PG_SHARE * sqlite["rps"]),
        Result("postback_ingest_pg_2proc", two_rps, "postbacks/s", pg.one["rps"],
               "two processes beat one", clean_two and two_rps > pg.one["rps"]),
        Result("pg_duplicate_events", float(dup["events"]), "events",
               float(pg.one["dup_requests"]),
               "same txn ids sent to both processes at once (baseline: requests): one event per "
               "txn, <=1 outbox row per event, one player per user, none paid twice", dup_ok),
        Result("pg_outbox_receiver_hits", float(dlv["receiver_hits"]), "deliveries",
               float(dlv["delivered"]),
               f"two workers: each delivered outbox row hit the receiver exactly once "
               f"({dlv['delivered']:.0f} of {dlv['outbox_rows']:.0f} rows delivered"
               f"{f' in {DELIVERY_QUICK_S:g} s, --quick' if quick else ', all'})", once_ok),
    ]


BENCHES = {"scaleout": bench_scaleout}
