"""``clickledger ledger …`` and ``clickledger simulate``: rebuild, close periods, FX, what-ifs."""

from __future__ import annotations

import csv
import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from clickledger.clock import SystemClock
from clickledger.runtime import Runtime
from clickledger.services import deals, ledger_rebuild, period_close
from clickledger.services import simulate as simulation
from clickledger.services.errors import ServiceError
from clickledger.settings import Settings

app = typer.Typer(help="The commission ledger: rebuild check, period close, FX rates.",
                  no_args_is_help=True)
console = Console()
DatabaseOption = typer.Option(None, "--database-url", help="Overrides CLICKLEDGER_DATABASE_URL.")
MAX_DIFF_LINES_SHOWN = 20


def _runtime(database_url: str | None) -> Runtime:
    settings = Settings(database_url=database_url) if database_url else Settings()
    return Runtime.open(settings, clock=SystemClock())


def _month(text: str) -> datetime:
    """``2026-01`` or ``2026-01-01`` as the UTC start of that period."""
    try:
        parts = [int(p) for p in text.split("-")]
        return datetime(parts[0], parts[1], parts[2] if len(parts) > 2 else 1, tzinfo=UTC)
    except (ValueError, IndexError) as exc:
        raise typer.BadParameter(f"expected YYYY-MM or YYYY-MM-DD, got {text!r}") from exc


@app.command()
def rebuild(database_url: str | None = DatabaseOption) -> None:
    """Recompute the ledger from raw events into a scratch space and compare line by line."""
    runtime = _runtime(database_url)
    report = ledger_rebuild.rebuild(runtime.engine)
    console.print(f"live lines: {report.live_lines}  rebuilt lines: {report.rebuilt_lines}")
    console.print(f"missing from rebuild: {len(report.missing)}  extra in rebuild: "
                  f"{len(report.extra)}  changed: {len(report.changed)}")
    for key in report.missing[:MAX_DIFF_LINES_SHOWN]:
        console.print(f"  - live only: {key}", markup=False)
    for key in report.extra[:MAX_DIFF_LINES_SHOWN]:
        console.print(f"  + rebuild only: {key}", markup=False)
    for key, name, live, new in report.changed[:MAX_DIFF_LINES_SHOWN]:
        console.print(f"  ~ {key} {name}: live {live!r} rebuilt {new!r}", markup=False)
    if not report.equal:
        console.print("[red]the ledger differs from its rebuild[/red]")
        raise typer.Exit(1)
    console.print("[green]rebuild equals the live ledger[/green]")


@app.command("close-period")
def close_period(period: str = typer.Argument(..., help="YYYY-MM (or the period's first day)"),
                 database_url: str | None = DatabaseOption) -> None:
    """Close a period: compute RevShare and carryover; the period never changes afterwards."""
    runtime = _runtime(database_url)
    try:
        with runtime.engine.begin() as conn:
            summary = period_close.close(conn, _month(period), runtime.clock.now())
    except ServiceError as exc:
        console.print(f"[red]{exc.code}[/red]: {exc.message}")
        raise typer.Exit(2) from exc
    if summary.already_closed:
        console.print(f"period {summary.period_start.date()} was already closed")
        return
    totals = ", ".join(f"{v} {c} (minor)" for c, v in summary.totals_minor.items()) or "nothing"
    console.print(f"closed {summary.period_start.date()} – {summary.period_end.date()}: "
                  f"{summary.activity_rows} activity rows, {summary.lines} RevShare lines, "
                  f"{totals}")


@app.command("fx-import")
def fx_import(path: Path = typer.Argument(..., exists=True, dir_okay=False,
                                          help="CSV with columns day,base,quote,rate"),
              source: str = typer.Option(..., help="Where the rates come from, e.g. ecb"),
              database_url: str | None = DatabaseOption) -> None:
    """Load dated FX rates with their source (already-stored rates are kept)."""
    runtime = _runtime(database_url)
    with path.open(newline="") as handle:
        rows: list[dict[str, Any]] = []
        for row in csv.DictReader(handle):
            rows.append({**row, "day": date.fromisoformat(row["day"])})
    try:
        with runtime.engine.begin() as conn:
            result = deals.import_fx(conn, rows, source, "cli", runtime.clock.now())
    except ServiceError as exc:
        console.print(f"[red]{exc.code}[/red]: {exc.message} {exc.details or ''}", markup=False)
        raise typer.Exit(2) from exc
    console.print(f"{result['inserted']} rates stored, {result['unchanged']} already known")


def register(root: typer.Typer) -> None:
    """Add ``clickledger simulate`` to the root command."""

    @root.command("simulate")
    def simulate(
        affiliate_id: str = typer.Option(..., "--affiliate"),
        period: str = typer.Option(..., help="YYYY-MM"),
        kind: str = typer.Option(..., help="cpa | cpl | revshare | hybrid | ib_rebate"),
        terms: str = typer.Option(..., help='deal terms as JSON, e.g. \'{"pct": "30"}\''),
        currency: str = typer.Option(...),
        brand_id: str = typer.Option(..., "--brand"),
        database_url: str | None = DatabaseOption,
    ) -> None:
        """What an affiliate would have earned over a past period under another deal."""
        runtime = _runtime(database_url)
        try:
            with runtime.engine.connect() as conn:
                result = simulation.simulate(
                    conn, affiliate_id=affiliate_id, period_start=_month(period), kind=kind,
                    terms=json.loads(terms), currency=currency, brand_id=brand_id,
                    now=runtime.clock.now())
        except (ServiceError, json.JSONDecodeError) as exc:
            console.print(f"[red]cannot simulate[/red]: {exc}", markup=False)
            raise typer.Exit(2) from exc
        table = Table("line", "amount", "explanation")
        for line in result.lines:
            table.add_row(line.kind, f"{line.amount} {line.currency}", line.explanation)
        console.print(table)
        console.print(f"simulated: {result.simulated_totals or 'nothing'}  "
                      f"actual: {result.actual_totals or 'nothing'}", markup=False)
