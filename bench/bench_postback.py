"""Postback ingestion end to end, first deliveries and duplicates, against a bare ASGI baseline.

In one run: (a) ``bench/bare_redirect.py`` — a raw ASGI answer on uvicorn with
the same settings as ``clickledger serve`` — and (b) the real ``clickledger
serve`` on a fresh SQLite file, with an affiliate on a CPA deal, a postback
template and one click per player.  wrk (``-t1 -c64``) sends pre-signed GET
``/postback`` URLs from a file through a Lua script: for each player a
registration carrying its click id and an FTD (signatures are computed before
the run, with a timestamp inside the ±5 minute window).  Each request is
authenticated, stored, attributed, evaluated by the commission engine and
queued in the outbox before it is answered.

``postback_ingest`` is the first-delivery rate (baseline: the bare ASGI app);
``postback_duplicate`` replays the same URLs (every answer a duplicate) with
the first-delivery rate as its baseline.  After the runs the bench checks the
database: one event per distinct URL sent, no more; ledger and outbox rows.
Where a postback's CPU goes, stage by stage, is ``bench/postback_cpu.py``'s to show.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import sqlalchemy as sa
from bench_click import measure_bare, stop, wait_ready
from common import Result, free_port

from clickledger.ids import new_id
from clickledger.ingest import signatures
from clickledger.store import migrate
from clickledger.store import tables as t
from clickledger.store.engine import create_engine

HERE = Path(__file__).resolve().parent
SECRET_KEY = "bench-secret-key-0123456789abcdef01234567"  # noqa: S105 - 40 chars, bench only
SIGNING_SECRET = "bench-signing-secret-0123456789abcdef"  # noqa: S105 - bench only
TARGET_PER_S = 5000
TARGET_DUPLICATE_RATIO = 2.0
LUA = """
local paths = {}
for line in io.lines(os.getenv("CL_PATHS")) do paths[#paths + 1] = line end
local i = 0
request = function()
  i = i + 1
  if i > #paths then i = 1 end
  return wrk.format("GET", paths[i])
end
"""


def seed(database_url: str, players: int) -> tuple[str, list[str]]:
    """The programme and one click per player; returns (integration id, click ids)."""
    engine = create_engine(database_url)
    migrate.upgrade(engine)
    now = datetime.now(UTC)
    stamps = {"created_at": now, "updated_at": now}
    brand, offer, affiliate, link = new_id(), new_id(), new_id(), new_id()
    deal, integration = new_id(), new_id()
    click_ids = [new_id() for _ in range(players)]
    with engine.begin() as conn:
        conn.execute(t.brands.insert(), {"id": brand, "name": "Bench", "kind": "casino",
                                         "default_currency": "EUR", **stamps})
        conn.execute(t.offers.insert(), {"id": offer, "brand_id": brand, "name": "Welcome",
                                         "landing_url": "https://brand.example/",
                                         "allowed_domains": ["brand.example"], **stamps})
        conn.execute(t.affiliates.insert(), {"id": affiliate, "name": "Bench",
                                             "email": "bench@example.com", "status": "active",
                                             "payout_currency": "EUR", **stamps})
        conn.execute(t.tracking_links.insert(), {"id": link, "code": "bench",
                                                 "affiliate_id": affiliate, "offer_id": offer,
                                                 **stamps})
        conn.execute(t.deals.insert(), {"id": deal, "name": "CPA 50", "brand_id": brand,
                                        "kind": "cpa", "currency": "EUR", **stamps})
        conn.execute(t.deal_versions.insert(), {
            "id": new_id(), "deal_id": deal, "version": 1,
            "effective_from": now - timedelta(days=30),
            "terms": {"amount": "50", "qualification": {"min_ftd": "10"}}, "created_at": now})
        conn.execute(t.deal_assignments.insert(), {
            "id": new_id(), "affiliate_id": affiliate, "deal_id": deal,
            "effective_from": now - timedelta(days=30), "created_at": now})
        conn.execute(t.postback_templates.insert(), {
            "id": new_id(), "affiliate_id": affiliate, "kind": "url",
            "url_template": "http://127.0.0.1:9/pb?cid={click_id}&e={event}&p={payout}",
            "status_words": {}, "status": "active", **stamps})
        conn.execute(t.integrations.insert(), {
            "id": integration, "brand_id": brand, "name": "bench operator",
            "signing_secret": SIGNING_SECRET, "require_signature": True, **stamps})
        conn.execute(t.clicks.insert(), [
            {"id": cid, "created_at": now - timedelta(hours=1), "link_id": link,
             "affiliate_id": affiliate, "offer_id": offer, "is_unique": True}
            for cid in click_ids])
    engine.dispose()
    return integration, click_ids


def signed_paths(integration: str, click_ids: list[str], path_file: Path, prefix: str = "") -> int:
    """Write a registration and an FTD per player as pre-signed paths; returns the count.

    ``prefix`` starts every txn and user id, so several lists can share one database.
    """
    ts = str(int(time.time()))
    lines = []
    for n, click_id in enumerate(click_ids):
        for params in (
            {"event": "registration", "txn_id": f"{prefix}r{n}", "user_id": f"{prefix}u{n}",
             "click_id": click_id},
            {"event": "ftd", "txn_id": f"{prefix}f{n}", "user_id": f"{prefix}u{n}",
             "amount": "25.00", "currency": "EUR"},
        ):
            query = urlencode({**params, "cl_key": integration, "cl_ts": ts})
            sig = signatures.sign(SIGNING_SECRET, ts, "GET", "/postback", query, b"")
            lines.append(f"/postback?{query}&cl_sig={sig}")
    path_file.write_text("\n".join(lines) + "\n")
    return len(lines)


def run_wrk_lua(base: str, script: Path, paths: Path, seconds: int) -> dict[str, float]:
    """One wrk run sending the paths listed in ``paths`` in order (wrapping at the end)."""
    out = subprocess.run(
        ["wrk", "-t1", "-c64", f"-d{seconds}s", "--latency", "-s", str(script), base],
        capture_output=True, text=True, check=True, env={**os.environ, "CL_PATHS": str(paths)},
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    unit = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    return {"rps": rps, "requests": float(total), "non_2xx": float(bad.group(1)) if bad else 0.0,
            "p99_ms": float(p99.group(1)) * unit[p99.group(2)] if p99 else float("nan")}


# ``measure_bare`` is the click bench's: the bare app answers every path alike, so its baseline
# run (cached per length) serves both benches, one bare run per ``bench/run.py``.


def counts(database_url: str) -> dict[str, int]:
    engine = create_engine(database_url)
    found = {}
    with engine.connect() as conn:
        for table in (t.player_events, t.ledger_entries, t.outbox, t.players):
            found[table.name] = int(conn.execute(
                sa.select(sa.func.count()).select_from(table)).scalar_one())
    engine.dispose()
    return found


def measure_postbacks(seconds: int, players: int) -> tuple[dict[str, float], dict[str, float],
                                                           int, dict[str, int]]:
    """(first deliveries, duplicates, distinct URLs sent in the first run, row counts)."""
    with tempfile.TemporaryDirectory() as tmp:
        database_url = f"sqlite:///{tmp}/bench.db"
        integration, click_ids = seed(database_url, players)
        port = free_port()
        env = {**os.environ, "CLICKLEDGER_SECRET_KEY": SECRET_KEY,
               "CLICKLEDGER_DATABASE_URL": database_url}
        log_file = (Path(tmp) / "server.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "clickledger", "serve", "--port", str(port)], env=env,
            stderr=log_file)
        script = Path(tmp) / "paths.lua"
        script.write_text(LUA)
        paths = Path(tmp) / "paths.txt"
        total = signed_paths(integration, click_ids, paths)
        base = f"http://127.0.0.1:{port}"
        try:
            try:
                wait_ready(f"{base}/healthz", process)
            except RuntimeError:
                print((Path(tmp) / "server.log").read_text()[-3000:], file=sys.stderr)
                raise
            first = run_wrk_lua(base, script, paths, seconds)
            sent = int(first["requests"])
            if sent >= total:
                raise RuntimeError(f"wrk sent {sent} requests but only {total} URLs exist")
            dup_paths = Path(tmp) / "dups.txt"
            with paths.open() as source:
                dup_paths.write_text("".join(line for _, line in zip(range(sent), source,
                                                                         strict=False)))
            duplicates = run_wrk_lua(base, script, dup_paths, seconds)
        finally:
            stop(process)
            log_file.close()
        return first, duplicates, sent, counts(database_url)


def bench_postback(quick: bool) -> list[Result]:
    seconds = 5 if quick else 20
    players = 30_000 if quick else 150_000
    bare = measure_bare(seconds)
    first, dups, sent, rows = measure_postbacks(seconds, players)
    print(
        f"postback bench: bare {bare['rps']:.0f} req/s; first deliveries {first['rps']:.0f}/s "
        f"p99 {first['p99_ms']:.1f} ms non-2xx {first['non_2xx']:.0f}; duplicates "
        f"{dups['rps']:.0f}/s p99 {dups['p99_ms']:.1f} ms non-2xx {dups['non_2xx']:.0f}; "
        f"requests in first run {sent}, rows {rows}",
        file=sys.stderr,
    )
    stored_ok = sent <= rows["player_events"] <= sent + 128  # in flight when wrk stopped
    return [
        Result("postback_ingest", first["rps"], "postbacks/s", bare["rps"],
               f">={TARGET_PER_S}/s", first["rps"] >= TARGET_PER_S and first["non_2xx"] == 0
               and stored_ok),
        Result("postback_duplicate", dups["rps"], "postbacks/s", first["rps"],
               f"duplicate >={TARGET_DUPLICATE_RATIO:g}x faster than first",
               dups["rps"] >= TARGET_DUPLICATE_RATIO * first["rps"] and dups["non_2xx"] == 0),
    ]


BENCHES = {"postback": bench_postback}
