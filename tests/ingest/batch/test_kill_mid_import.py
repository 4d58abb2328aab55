"""A process killed (SIGKILL) in the middle of an import: under reject-file nothing of the
file is left behind; under skip-invalid a re-run completes it without duplicates."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa
from tests.ingest.batch.seed import count, seed

from clickledger.clock import FakeClock
from clickledger.ingest.batch.kinds import FileKind, Policy
from clickledger.ingest.batch.limits import ImportLimits
from clickledger.ingest.batch.profiles import Profile
from clickledger.ingest.batch.runner import ImportRequest, run_import
from clickledger.store import sqlite_bulk
from clickledger.store import tables as t

ROWS = 12_000
CHUNK_ROWS = 1_500
ROOT = Path(__file__).resolve().parents[3]


def big_file(tmp_path: Path) -> Path:
    path = tmp_path / "big.csv"
    lines = ["txn_id,player_id,occurred_at,amount,currency"] + [
        f"T{i},p{i % 900},2025-12-{1 + i % 28:02d} 10:00:00,{i % 500}.25,EUR" for i in range(ROWS)]
    path.write_text("\n".join(lines) + "\n")
    return path


def start_and_kill(database_url: str, integration_id: str, path: Path, policy: Policy,
                   kill_after_rows: int) -> int:
    """Start the import in a child process; SIGKILL it once it reports ``kill_after_rows``."""
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.ingest.batch.kill_target", database_url, integration_id,
         str(path), policy.value, str(CHUNK_ROWS)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert child.stdout is not None
    reported = 0
    for line in child.stdout:
        if line.startswith("progress"):
            reported = int(line.split()[1])
            if reported >= kill_after_rows:
                os.kill(child.pid, signal.SIGKILL)
                break
        assert not line.startswith("finished"), "the import ended before it could be killed"
    child.wait(timeout=60)
    assert child.returncode == -signal.SIGKILL
    return reported


def test_reject_file_killed_mid_import_leaves_nothing(
    engine: sa.Engine, migrated_database_url: str, clock: FakeClock, tmp_path: Path
) -> None:
    seeded = seed(engine, clock.now())
    reported = start_and_kill(migrated_database_url, seeded.integration_id, big_file(tmp_path),
                              Policy.REJECT_FILE, kill_after_rows=2 * CHUNK_ROWS)
    assert reported >= 2 * CHUNK_ROWS  # rows were written inside the open transaction
    assert count(engine, t.player_events) == 0
    assert count(engine, t.players) == 0
    if engine.dialect.name == "sqlite":  # its staging file is a dead process's: swept away
        main = Path(str(engine.url.database)).resolve()
        assert len(sqlite_bulk.sweep_stale_stages(main, min_age_s=0)) == 1
        assert not list(main.parent.glob(f".{main.name}.stage-*"))


def test_skip_invalid_killed_mid_import_converges_on_rerun(
    engine: sa.Engine, migrated_database_url: str, clock: FakeClock, tmp_path: Path
) -> None:
    seeded = seed(engine, clock.now())
    path = big_file(tmp_path)
    start_and_kill(migrated_database_url, seeded.integration_id, path, Policy.SKIP_INVALID,
                   kill_after_rows=3 * CHUNK_ROWS)
    partial = count(engine, t.player_events)
    assert 3 * CHUNK_ROWS <= partial < ROWS
    request = ImportRequest(path.read_bytes(), "big.csv", FileKind.DEPOSITS,
                            seeded.integration_id, Profile(), Policy.SKIP_INVALID)
    result = run_import(engine, clock, 30, request, ImportLimits(chunk_rows=CHUNK_ROWS))
    assert (result.inserted, result.duplicates) == (ROWS - partial, partial)
    assert count(engine, t.player_events) == ROWS
    with engine.connect() as conn:
        distinct = conn.execute(sa.select(sa.func.count(sa.distinct(t.player_events.c.txn_id))))
        assert distinct.scalar_one() == ROWS
