"""Batch import and reconciliation at volume: ``import_csv``, ``import_csv_e2e``,
``import_peak_rss_mb`` and ``reconcile``.

* ``import_csv``: rows/s of a generated 1M-row deposits CSV imported into a
  fresh SQLite — parse, validate, insert (``insert.insert_rows``: the import's
  own staged insert, without players or consequences) — measured in a child
  process.  Baseline: a plain ``sqlite3`` ``executemany`` of the same rows into
  ``player_events`` of a fresh database, in the same run.
* ``import_csv_e2e`` (informational): the same file through ``clickledger
  import`` end to end (parse, validate, insert, players, FTDs, commissions,
  outbox, health), same baseline.
* ``import_peak_rss_mb``: the end-to-end child's peak RSS (``VmHWM`` of its
  own image; ``ru_maxrss`` would also count the parent's RSS when it forked).
* ``reconcile``: seconds to reconcile a 1M-line events statement against 1M
  stored events (read, load ours, match, store 1M items).  Baseline: polars
  reading the statement and joining it to ours, nothing else.

``--quick`` uses 100k rows and says so in the result names' target text.

``python bench/bench_import.py reconcile [ROWS]`` runs only the reconciliation
(default 1M lines) in a child process and prints its seconds (wall and CPU),
the polars baseline and the child's peak RSS as JSON.
"""

from __future__ import annotations

import json
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))

import polars as pl  # noqa: E402
from common import Result  # noqa: E402

from clickledger.clock import FakeClock  # noqa: E402
from clickledger.ids import new_id  # noqa: E402
from clickledger.ingest.batch.insert import (  # noqa: E402
    Target,
    chunks,
    insert_new,
    insert_rows,
    new_ids,
    prepare,
    with_ids,
)
from clickledger.ingest.batch.kinds import FileKind, Policy  # noqa: E402
from clickledger.ingest.batch.limits import ImportLimits  # noqa: E402
from clickledger.ingest.batch.parse import parse_bytes  # noqa: E402
from clickledger.ingest.batch.profiles import Profile  # noqa: E402
from clickledger.ingest.batch.runner import (  # noqa: E402
    ImportRequest,
    resolve_integration,
    run_import,
)
from clickledger.services import reconciliation as recon  # noqa: E402
from clickledger.store import migrate  # noqa: E402
from clickledger.store import tables as t  # noqa: E402
from clickledger.store.engine import create_engine  # noqa: E402

FULL_ROWS = 1_000_000
QUICK_ROWS = 100_000
PLAYERS_PER_ROWS = 10  # one player per 10 deposits
NOW = datetime(2026, 1, 1, tzinfo=UTC)
RECON_LIMITS = ImportLimits(max_rows=5_000_000, max_file_bytes=2**31, max_unpacked_bytes=2**31)


def _write_csv(path: Path, rows: int) -> None:
    i = pl.int_range(0, rows, eager=True)
    frame = pl.select(
        pl.format("T{}", i).alias("txn_id"),
        pl.format("p{}", i // PLAYERS_PER_ROWS).alias("player_id"),
        pl.format("2025-12-{} {}:{}:00", (i % 28 + 1).cast(pl.String).str.zfill(2),
                  (i % 24).cast(pl.String).str.zfill(2),
                  (i % 60).cast(pl.String).str.zfill(2)).alias("occurred_at"),
        pl.format("{}.{}", i % 5000, (i % 100).cast(pl.String).str.zfill(2)).alias("amount"),
        pl.lit("EUR").alias("currency"),
    )
    frame.write_csv(path)


def _fresh_db(path: Path) -> tuple[str, str]:
    """A migrated SQLite file with one brand and integration; returns (url, integration id)."""
    url = f"sqlite:///{path}"
    engine = create_engine(url)
    migrate.upgrade(engine)
    brand_id, integration_id = new_id(), new_id()
    with engine.begin() as conn:
        conn.execute(t.brands.insert().values(id=brand_id, name="bench", kind="casino",
                                              default_currency="EUR", created_at=NOW,
                                              updated_at=NOW))
        conn.execute(t.integrations.insert().values(
            id=integration_id, brand_id=brand_id, name="bench-op", signing_secret="s" * 32,
            created_at=NOW, updated_at=NOW))
    engine.dispose()
    return url, integration_id


def _prepared_rows(csv_path: Path,
                   integration_id: str) -> tuple[list[str], list[tuple[object, ...]]]:
    """The rows the import inserts, in database form, as plain tuples (for the baseline)."""
    parsed = parse_bytes(csv_path.read_bytes(), csv_path.name, FileKind.DEPOSITS, Profile(), NOW,
                         ImportLimits(max_rows=5_000_000))
    rows = parsed.rows.with_columns(new_ids(parsed.rows.height).alias("id"))
    frame = prepare(rows, Target(integration_id, integration_id, NOW, "b" * 40), postgres=False)
    frame = frame.drop("brand_id")
    return frame.columns, list(zip(*(frame[c].to_list() for c in frame.columns), strict=True))


def _baseline_executemany(tmp: Path, csv_path: Path) -> float:
    _url, integration_id = _fresh_db(tmp / "baseline.db")
    columns, rows = _prepared_rows(csv_path, integration_id)
    db = sqlite3.connect(str(tmp / "baseline.db"))
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    brand = db.execute("SELECT id FROM brands").fetchone()[0]
    columns = [*columns, "brand_id"]
    rows = [(*row, brand) for row in rows]
    sql = (f"INSERT INTO player_events ({', '.join(columns)}) "  # noqa: S608
           f"VALUES ({', '.join('?' for _ in columns)})")
    started = time.perf_counter()
    db.executemany(sql, rows)
    db.commit()
    seconds = time.perf_counter() - started
    db.close()
    return len(rows) / seconds


def _child(mode: str, url: str, csv_path: str, integration_id: str) -> None:
    """Run in a fresh process: one import, report seconds, rows and peak RSS as JSON."""
    engine = create_engine(url)
    limits = ImportLimits(max_rows=5_000_000, max_file_bytes=2**31, max_unpacked_bytes=2**31)
    started, cpu_started = time.perf_counter(), time.process_time()
    data = Path(csv_path).read_bytes()
    if mode == "full":
        result = run_import(engine, FakeClock(NOW), 30, ImportRequest(
            data, "bench.csv", FileKind.DEPOSITS, integration_id, Profile(), Policy.REJECT_FILE),
            limits)
        rows = result.inserted
    else:
        parsed = parse_bytes(data, "bench.csv", FileKind.DEPOSITS, Profile(), NOW, limits)
        with engine.connect() as conn:
            _, brand_id = resolve_integration(conn, integration_id)
        target = Target(integration_id, brand_id, NOW, "b" * 40)
        rows = insert_rows(engine, with_ids(parsed.rows), target, limits.chunk_rows)
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    maxrss_mb = _peak_rss_mb()
    print(json.dumps({"seconds": seconds, "cpu_seconds": cpu_seconds, "rows": rows,
                      "maxrss_mb": maxrss_mb}))


def _peak_rss_mb() -> float:
    """This process's peak RSS since its image started: ``VmHWM`` (Linux).  ``ru_maxrss``
    keeps the parent's RSS from before ``exec``, so it is only the fallback."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _run_child(mode: str, tmp: Path, csv_path: Path) -> dict[str, float]:
    url, integration_id = _fresh_db(tmp / f"{mode}.db")
    out = subprocess.run([sys.executable, __file__, "child", mode, url, str(csv_path),
                          integration_id], capture_output=True, text=True, check=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def _reconcile_setup(tmp: Path, rows: int) -> tuple[str, Path, float]:
    """A database holding ``rows`` events and a statement of them (1 % of the amounts
    differ); returns (url, statement path, seconds of polars reading + joining it alone)."""
    csv_path = tmp / "events.csv"
    _write_csv(csv_path, rows)
    url, integration_id = _fresh_db(tmp / "recon.db")
    engine = create_engine(url)
    parsed = parse_bytes(csv_path.read_bytes(), "e.csv", FileKind.DEPOSITS, Profile(), NOW,
                         RECON_LIMITS)
    with engine.begin() as conn:
        brand_id = str(conn.exec_driver_sql("SELECT brand_id FROM integrations").scalar())
        target = Target(integration_id, brand_id, NOW, "b" * 40)
        frame = parsed.rows.with_columns(new_ids(parsed.rows.height).alias("id"))
        for chunk in chunks(frame, 100_000):
            insert_new(conn, prepare(chunk, target, postgres=False))
    engine.dispose()
    statement = pl.read_csv(csv_path, infer_schema=False).with_columns(
        pl.when(pl.int_range(pl.len()) % 100 == 0).then(pl.lit("1.00"))
        .otherwise(pl.col("amount")).alias("amount"))  # 1% differ
    statement_path = tmp / "statement.csv"
    statement.write_csv(statement_path)
    started = time.perf_counter()
    lines = pl.read_csv(statement_path, infer_schema=False)
    joined = lines.join(statement.select("txn_id", "amount"), on="txn_id", how="full")
    assert joined.height >= rows
    return url, statement_path, time.perf_counter() - started


def _reconcile_run(url: str, statement_path: Path) -> float:
    """Seconds to reconcile the statement (read, load ours, match, store every item)."""
    engine = create_engine(url)
    started = time.perf_counter()
    recon.run_reconciliation(engine, NOW, recon.StatementRequest(
        data=statement_path.read_bytes(), file_name="statement.csv",
        kind=recon.StatementKind.EVENTS, brand="bench", actor="bench"), RECON_LIMITS)
    seconds = time.perf_counter() - started
    engine.dispose()
    return seconds


def _reconcile(tmp: Path, rows: int) -> tuple[float, float]:
    """(seconds for the whole run, seconds for polars read + join alone)."""
    url, statement_path, baseline = _reconcile_setup(tmp, rows)
    return _reconcile_run(url, statement_path), baseline


def bench_import(quick: bool) -> list[Result]:
    rows = QUICK_ROWS if quick else FULL_ROWS
    note = f" ({rows} rows{', --quick' if quick else ''})"
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        csv_path = tmp / "deposits.csv"
        _write_csv(csv_path, rows)
        baseline = _baseline_executemany(tmp, csv_path)
        full = _run_child("full", tmp, csv_path)
        raw = _run_child("raw", tmp, csv_path)
        recon_s, recon_baseline = _reconcile(tmp, rows)
    full_rate = full["rows"] / full["seconds"]
    raw_rate = raw["rows"] / raw["seconds"]
    target = ">=200000 rows/s and within 1.5x of executemany" + note
    return [
        Result("import_csv", raw_rate, "rows/s", baseline, "parse+validate+insert; " + target,
               raw_rate >= 200_000 and raw_rate * 1.5 >= baseline),
        Result("import_csv_e2e", full_rate, "rows/s", baseline,
               "informational: end to end with players, FTDs, commissions, outbox, health"
               + note, True),
        Result("import_peak_rss_mb", full["maxrss_mb"], "MB", None, "<=1536" + note,
               full["maxrss_mb"] <= 1536),
        Result("reconcile", recon_s, "s", recon_baseline, "<=15 s" + note, recon_s <= 15),
    ]


def _reconcile_alone(rows: int) -> None:
    """The reconciliation of ``rows`` lines alone: set up here, run in a fresh child whose
    seconds and peak RSS (``_peak_rss_mb``: the run only, not the set-up) are printed as JSON."""
    with tempfile.TemporaryDirectory() as name:
        url, statement_path, baseline = _reconcile_setup(Path(name), rows)
        out = subprocess.run([sys.executable, __file__, "reconcile-child", url,
                              str(statement_path)], capture_output=True, text=True, check=True)
    found = json.loads(out.stdout.strip().splitlines()[-1])
    print(json.dumps({"name": "reconcile", "rows": rows, "seconds": round(found["seconds"], 2),
                      "cpu_seconds": round(found["cpu_seconds"], 2),
                      "baseline_s": round(baseline, 2), "maxrss_mb": round(found["maxrss_mb"])}))


BENCHES = {"import": bench_import}

if __name__ == "__main__" and len(sys.argv) > 1 and sys.argv[1] == "child":
    _child(*sys.argv[2:6])
elif __name__ == "__main__" and len(sys.argv) > 1 and sys.argv[1] == "reconcile-child":
    cpu_started = time.process_time()
    run_seconds = _reconcile_run(sys.argv[2], Path(sys.argv[3]))
    print(json.dumps({"seconds": run_seconds, "cpu_seconds": time.process_time() - cpu_started,
                      "maxrss_mb": _peak_rss_mb()}))
elif __name__ == "__main__" and len(sys.argv) > 1 and sys.argv[1] == "reconcile":
    _reconcile_alone(int(sys.argv[2]) if len(sys.argv) > 2 else FULL_ROWS)
