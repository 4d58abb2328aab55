"""Click redirect throughput, p99 latency and server memory, against a bare 302 in the same run.

In one run: (a) ``bench/bare_redirect.py`` — a raw ASGI 302 on uvicorn with the
same settings as ``clickledger serve`` — and (b) the real ``clickledger serve``
on a fresh SQLite file with one tracking link.  Each is driven by
``wrk -t1 -c64 --latency`` on this machine.  After the timed run the server
keeps taking clicks until about 1M (fewer in ``--quick``), then its RSS is read
from /proc.  Every 302 wrk counted must be a row in ``clicks``: the table may
hold a few more (requests in flight when wrk stopped were committed, but wrk
did not count their answers), never fewer.  The CPU each server process used
during its timed run (user + system, all threads, from /proc) per answered
request is reported too: on this shared machine it is steadier than throughput.
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import sqlalchemy as sa
from common import Result, free_port

from clickledger.ids import new_id
from clickledger.store import migrate
from clickledger.store import tables as t
from clickledger.store.engine import create_engine

HERE = Path(__file__).resolve().parent
CONNECTIONS = 64
SECRET_KEY = "bench-secret-key-0123456789abcdef01234567"  # noqa: S105 - 40 chars, bench only
LINK_CODE = "bench"
CLICK_PATH = f"/c/{LINK_CODE}?sub1=bench&sub2=wrk"
TARGET_RATIO = 0.70
TARGET_CLICKS_PER_S = 10_000
TARGET_P99_MS = 10.0
TARGET_RSS_MB = 250.0
FULL_RSS_CLICKS = 1_000_000
QUICK_RSS_CLICKS = 50_000

_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def run_wrk(url: str, seconds: int) -> dict[str, float]:
    """requests/s, p99 in ms, completed requests and non-2xx/3xx answers from one wrk run."""
    out = subprocess.run(
        ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    if errors:
        print(f"wrk socket errors: {errors.group(1)}", file=sys.stderr)
    return {
        "rps": rps,
        "p99_ms": float(p99.group(1)) * _UNIT_MS[p99.group(2)] if p99 else float("nan"),
        "requests": float(total),
        "non_3xx": float(bad.group(1)) if bad else 0.0,
    }


def wait_ready(url: str, process: subprocess.Popen[bytes], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            httpx.get(url, timeout=1.0)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"server at {url} not ready after {timeout_s}s")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def process_tree(pid: int) -> list[int]:
    """``pid`` and its live descendants (any process the server starts, e.g. a writer)."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (FileNotFoundError, ProcessLookupError):  # a process that just ended
            continue
        parents.setdefault(ppid, []).append(int(stat.parent.name))
    found = [pid]
    for one in found:  # grows while it is walked: breadth first
        found += parents.get(one, [])
    return found


def cpu_s(pid: int) -> float:
    """User + system CPU seconds so far of process ``pid`` and its live descendants (all
    their threads): a server that starts helper processes is counted whole."""
    ticks = 0
    for one in process_tree(pid):
        try:
            fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def timed_run(url: str, seconds: int, pid: int) -> dict[str, float]:
    """``run_wrk`` plus the server's CPU µs per completed request during it."""
    before = cpu_s(pid)
    result = run_wrk(url, seconds)
    result["cpu_us"] = (cpu_s(pid) - before) * 1e6 / max(result["requests"], 1.0)
    return result


def rss_mb(pid: int) -> float:
    """Resident memory of process ``pid`` and its live descendants, in MB."""
    total_kb = 0
    for one in process_tree(pid):
        try:
            lines = Path(f"/proc/{one}/status").read_text().splitlines()
        except FileNotFoundError:
            continue
        for line in lines:
            if line.startswith("VmRSS:"):
                total_kb += int(line.split()[1])
    return total_kb / 1024


def seed(database_url: str) -> None:
    engine = create_engine(database_url)
    migrate.upgrade(engine)
    now = datetime.now(UTC)
    stamps = {"created_at": now, "updated_at": now}
    brand, offer, affiliate = new_id(), new_id(), new_id()
    with engine.begin() as conn:
        conn.execute(
            t.brands.insert(),
            {"id": brand, "name": "Bench", "kind": "casino", "default_currency": "EUR", **stamps},
        )
        conn.execute(
            t.offers.insert(),
            {
                "id": offer,
                "brand_id": brand,
                "name": "Welcome",
                "landing_url": "https://www.brand.example/welcome?cid={click_id}&s1={sub1}",
                "allowed_domains": ["brand.example"],
                **stamps,
            },
        )
        conn.execute(
            t.affiliates.insert(),
            {
                "id": affiliate,
                "name": "Bench",
                "email": "bench@example.com",
                "status": "active",
                "payout_currency": "EUR",
                **stamps,
            },
        )
        conn.execute(
            t.tracking_links.insert(),
            {
                "id": new_id(),
                "code": LINK_CODE,
                "affiliate_id": affiliate,
                "offer_id": offer,
                **stamps,
            },
        )
    engine.dispose()


def count_clicks(database_url: str) -> int:
    engine = create_engine(database_url)
    with engine.connect() as conn:
        count = int(conn.execute(sa.select(sa.func.count()).select_from(t.clicks)).scalar_one())
    engine.dispose()
    return count


@functools.cache  # one bare run per length per ``bench/run.py``: the postback bench shares it
def measure_bare(seconds: int) -> dict[str, float]:
    port = free_port()
    process = subprocess.Popen([sys.executable, str(HERE / "bare_redirect.py"), str(port)])
    try:
        wait_ready(f"http://127.0.0.1:{port}/", process)
        run_wrk(f"http://127.0.0.1:{port}/c/x", 1)  # warm-up
        return timed_run(f"http://127.0.0.1:{port}{CLICK_PATH}", seconds, process.pid)
    finally:
        stop(process)


def measure_clicks(seconds: int, rss_clicks: int) -> tuple[dict[str, float], int, int, float]:
    """(timed wrk run, 302s counted by wrk in all runs, clicks in the table, RSS MB)."""
    with tempfile.TemporaryDirectory() as tmp:
        database_url = f"sqlite:///{tmp}/bench.db"
        seed(database_url)
        port = free_port()
        env = {
            **os.environ,
            "CLICKLEDGER_SECRET_KEY": SECRET_KEY,
            "CLICKLEDGER_DATABASE_URL": database_url,
        }
        process = subprocess.Popen(
            [sys.executable, "-m", "clickledger", "serve", "--port", str(port)],
            env=env,
            stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}{CLICK_PATH}"
        try:
            wait_ready(f"http://127.0.0.1:{port}/healthz", process)
            warm = run_wrk(url, 1)
            timed = timed_run(url, seconds, process.pid)
            redirects = [warm["requests"] - warm["non_3xx"], timed["requests"] - timed["non_3xx"]]
            while sum(redirects) < rss_clicks:
                rest_s = max(2, int((rss_clicks - sum(redirects)) / max(timed["rps"], 1.0)) + 1)
                more = run_wrk(url, min(rest_s, 120))
                redirects.append(more["requests"] - more["non_3xx"])
            memory_mb = rss_mb(process.pid)
        finally:
            stop(process)
        return timed, int(sum(redirects)), count_clicks(database_url), memory_mb


def bench_click(quick: bool) -> list[Result]:
    seconds = 5 if quick else 20
    bare = measure_bare(seconds)
    clicks, redirects, stored, memory_mb = measure_clicks(
        seconds, QUICK_RSS_CLICKS if quick else FULL_RSS_CLICKS
    )
    print(
        f"click bench: bare {bare['rps']:.0f} req/s p99 {bare['p99_ms']:.2f} ms; clicks "
        f"{clicks['rps']:.0f}/s p99 {clicks['p99_ms']:.2f} ms, non-3xx {clicks['non_3xx']:.0f}; "
        f"server CPU {clicks['cpu_us']:.1f} us/click vs bare {bare['cpu_us']:.1f} us/request; "
        f"302s counted by wrk {redirects}, rows in clicks {stored}, RSS {memory_mb:.0f} MB",
        file=sys.stderr,
    )
    ratio_ok = clicks["rps"] >= TARGET_RATIO * bare["rps"]
    return [
        Result(
            "click_redirect",
            clicks["rps"],
            "clicks/s",
            bare["rps"],
            f">={TARGET_RATIO:.0%} of bare 302 and >={TARGET_CLICKS_PER_S}/s",
            ratio_ok and clicks["rps"] >= TARGET_CLICKS_PER_S and clicks["non_3xx"] == 0,
        ),
        Result(
            "click_p99_ms",
            clicks["p99_ms"],
            "ms",
            bare["p99_ms"],
            f"<={TARGET_P99_MS:g} ms",
            clicks["p99_ms"] <= TARGET_P99_MS,
        ),
        Result(
            "click_server_cpu_us",
            clicks["cpu_us"],
            "us/click",
            bare["cpu_us"],
            "informational: server CPU per click vs per bare 302",
            True,
        ),
        Result(
            "click_rss_mb",
            memory_mb,
            "MB",
            None,
            f"<={TARGET_RSS_MB:g} MB after {redirects} clicks",
            memory_mb <= TARGET_RSS_MB,
        ),
        Result(
            "click_rows_vs_302",
            float(stored),
            "rows",
            float(redirects),
            "rows >= 302s counted by wrk",
            stored >= redirects,
        ),
    ]


BENCHES = {"click": bench_click}
