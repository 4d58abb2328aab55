"""``clickledger import`` and ``clickledger reconcile`` from the shell: exit codes, the
error report beside the file, and nothing stored when reject-file refuses a file."""

from __future__ import annotations

from pathlib import Path

from tests.ingest.batch.seed import count, seed
from typer.testing import CliRunner

from clickledger.cli.main import app
from clickledger.clock import SystemClock
from clickledger.store import migrate
from clickledger.store import tables as t
from clickledger.store.engine import create_engine

GOOD = "txn_id,player_id,occurred_at,amount,currency\nD1,p1,2025-12-01 10:00:00,20.00,EUR\n"
BAD_LINE = "D2,p2,2025-12-02 10:00:00,-5,EUR\n"


def test_import_stores_a_good_file_and_refuses_a_bad_one_with_a_report(
    sqlite_url: str, tmp_path: Path
) -> None:
    engine = create_engine(sqlite_url)
    migrate.upgrade(engine)
    seeded = seed(engine, SystemClock().now())
    runner = CliRunner()
    bad = tmp_path / "bad.csv"
    bad.write_text(GOOD + BAD_LINE)
    refused = runner.invoke(app, ["import", str(bad), "--kind", "deposits", "--integration",
                                  seeded.integration_name, "--database-url", sqlite_url])
    assert refused.exit_code == 1
    assert count(engine, t.player_events) == 0
    report = (tmp_path / "bad.csv.errors.csv").read_text().splitlines()
    assert report[0] == "line,column,code,message"
    assert report[1].startswith("3,amount,negative_amount,")
    kept = runner.invoke(app, ["import", str(bad), "--kind", "deposits", "--integration",
                               seeded.integration_name, "--policy", "skip-invalid",
                               "--database-url", sqlite_url])
    assert kept.exit_code == 0, kept.output
    assert count(engine, t.player_events) == 1
    statement = tmp_path / "statement.csv"
    statement.write_text("txn_id,amount,currency\nD1,20.00,EUR\nD7,1.00,EUR\n")
    reconciled = runner.invoke(app, ["reconcile", str(statement), "--kind", "events", "--brand",
                                     "acme-casino brand", "--database-url", sqlite_url])
    assert reconciled.exit_code == 0, reconciled.output
    assert count(engine, t.reconciliation_items) == 2


def test_unknown_integrations_and_wrong_kinds_exit_with_clear_errors(
    sqlite_url: str, tmp_path: Path
) -> None:
    engine = create_engine(sqlite_url)
    migrate.upgrade(engine)
    seeded = seed(engine, SystemClock().now())
    path = tmp_path / "d.csv"
    path.write_text(GOOD)
    runner = CliRunner()
    unknown = runner.invoke(app, ["import", str(path), "--kind", "deposits", "--integration",
                                  "nobody", "--database-url", sqlite_url])
    assert unknown.exit_code == 2
    wrong = runner.invoke(app, ["import", str(path), "--kind", "trades", "--integration",
                                seeded.integration_name, "--database-url", sqlite_url])
    assert wrong.exit_code == 1
    assert "wrong_kind" in (tmp_path / "d.csv.errors.csv").read_text()
