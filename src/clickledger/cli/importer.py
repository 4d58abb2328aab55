"""``clickledger import FILE`` and ``clickledger reconcile FILE``: operator files from the shell.

``import`` validates the whole file, then stores it under the chosen policy
with a Rich progress bar; any errors are written to ``FILE.errors.csv``.
Exit status: 0 imported, 1 rejected (nothing stored under reject-file), 2
unusable arguments.  ``reconcile`` matches an operator statement against our
records and prints the summary; the items are in the database (API / CSV).
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from clickledger.ingest.batch.kinds import FileKind, Policy
from clickledger.ingest.batch.limits import get_limits
from clickledger.ingest.batch.profiles import Profile, get_profile
from clickledger.ingest.batch.reader import FileError, load_bytes
from clickledger.ingest.batch.report import errors_csv
from clickledger.ingest.batch.runner import (
    ImportRequest,
    ImportResult,
    UnknownIntegration,
    rejected_result,
    resolve_integration,
    run_import,
)
from clickledger.runtime import Runtime
from clickledger.services import reconciliation as recon
from clickledger.settings import Settings

console = Console(stderr=True)
MAX_ERRORS_SHOWN = 20

DatabaseOption = typer.Option(None, "--database-url", help="Overrides CLICKLEDGER_DATABASE_URL.")


def _runtime(database_url: str | None) -> Runtime:
    settings = Settings(database_url=database_url) if database_url else Settings()
    return Runtime.open(settings)


def _profile(runtime: Runtime, name: str | None) -> Profile:
    if name is None:
        return Profile()
    with runtime.engine.connect() as conn:
        found = get_profile(conn, name)
    if found is None:
        console.print(f"[red]no import profile named {name!r}[/red]")
        raise typer.Exit(2)
    return found


def import_file(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True),
    kind: FileKind = typer.Option(..., "--kind", help="What the file holds."),
    integration: str = typer.Option(..., "--integration", help="Integration name or id."),
    profile: str | None = typer.Option(None, "--profile", help="Mapping profile name."),
    policy: Policy = typer.Option(Policy.REJECT_FILE, "--policy"),
    database_url: str | None = DatabaseOption,
) -> None:
    """Import an operator file (CSV, gzip CSV or JSON Lines) as postbacks would arrive."""
    runtime = _runtime(database_url)
    limits = get_limits()
    try:
        with runtime.engine.connect() as conn:
            integration_id, _brand = resolve_integration(conn, integration)
    except UnknownIntegration as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    mapping = _profile(runtime, profile)
    try:
        data = load_bytes(file, limits)
    except FileError as error:
        _finish(file, rejected_result(error), limits.max_errors_kept)
        return
    request = ImportRequest(data, file.name, kind, integration_id, mapping, policy)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, transient=False) as bar:
        task = bar.add_task(f"validating {file.name}", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, description=f"storing {file.name}", completed=done, total=total)

        result = run_import(runtime.engine, runtime.clock,
                            runtime.settings.attribution_window_days, request, limits, progress)
        bar.update(task, description=f"done {file.name}")
    _finish(file, result, limits.max_errors_kept)


def _finish(file: Path, result: ImportResult, max_errors_kept: int) -> None:
    if result.errors.height:
        report = file.with_name(file.name + ".errors.csv")
        report.write_text(errors_csv(result.errors, max_errors_kept), encoding="utf-8")
        _show_errors(result)
        console.print(f"error report: {report}")
    colour = "green" if result.status == "imported" else "red"
    console.print(f"[{colour}]{result.status}[/{colour}]: {result.message}")
    if result.status != "imported":
        raise typer.Exit(1)


def _show_errors(result: ImportResult) -> None:
    table = Table("line", "column", "code", "message", title="first errors")
    for row in result.errors.head(MAX_ERRORS_SHOWN).iter_rows():
        table.add_row(*(str(value) for value in row))
    console.print(table)


def reconcile_file(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True),
    kind: recon.StatementKind = typer.Option(..., "--kind", help="What the statement holds."),
    brand: str = typer.Option(..., "--brand", help="Brand name or id."),
    tolerance: str = typer.Option("0", "--tolerance", help="Amount tolerance, e.g. 0.05."),
    period_start: str | None = typer.Option(None, "--from", help="Period start (YYYY-MM-DD)."),
    period_end: str | None = typer.Option(None, "--to", help="Period end, exclusive."),
    actor: str = typer.Option("cli", "--actor", help="Who runs it (kept on the run)."),
    database_url: str | None = DatabaseOption,
) -> None:
    """Match an operator statement against our records and store the run."""
    runtime = _runtime(database_url)
    limits = get_limits()
    try:
        request = recon.StatementRequest(
            data=load_bytes(file, limits), file_name=file.name, kind=kind, brand=brand,
            tolerance=tolerance, period_start=period_start, period_end=period_end, actor=actor,
        )
        outcome = recon.run_reconciliation(runtime.engine, runtime.clock.now(), request)
    except (FileError, recon.ReconciliationError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    table = Table("flag", "lines", title=f"reconciliation run {outcome.run_id}")
    for flag, count in sorted(outcome.summary["flags"].items()):
        table.add_row(flag, str(count))
    console.print(table)
    console.print(f"items: /api/v1/reconciliation/runs/{outcome.run_id}/items")


def register(app: typer.Typer) -> None:
    """Add ``import`` and ``reconcile`` to the root command."""
    app.command("import")(import_file)
    app.command("reconcile")(reconcile_file)
