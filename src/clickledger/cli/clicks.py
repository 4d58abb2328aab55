"""``clickledger clicks prune``: remove raw clicks past retention; hourly rollups are kept.

On PostgreSQL with ``clicks`` partitioned by month (docs/scaling.md) the expired months
are dropped whole and only the partly expired month is trimmed row by row."""

from __future__ import annotations

import typer
from rich.console import Console

from clickledger.runtime import Runtime
from clickledger.settings import Settings
from clickledger.tracking.retention import PartitionBusy, prune_raw_clicks

app = typer.Typer(help="Raw click data: retention.", no_args_is_help=True)
console = Console()


@app.command()
def prune(
    older_than_days: int | None = typer.Option(
        None, "--older-than-days", min=1,
        help="Delete raw clicks older than this many days "
        "(default: CLICKLEDGER_CLICK_RETENTION_DAYS).",
    ),
    database_url: str | None = typer.Option(None, "--database-url",
                                            help="Overrides CLICKLEDGER_DATABASE_URL."),
) -> None:
    """Remove raw clicks older than the retention (dropping expired monthly partitions on
    PostgreSQL); hourly rollups (reports) are kept."""
    settings = Settings() if database_url is None else Settings(database_url=database_url)
    days = older_than_days or settings.click_retention_days
    runtime = Runtime.open(settings)
    try:
        outcome = prune_raw_clicks(runtime.engine, days, runtime.clock.now())
    except PartitionBusy as exc:
        console.print(f"[red]not done:[/red] {exc}")
        raise typer.Exit(1) from exc
    finally:
        runtime.engine.dispose()
    if outcome.dropped_partitions:
        console.print(f"dropped {len(outcome.dropped_partitions)} expired monthly partitions: "
                      + ", ".join(outcome.dropped_partitions))
    console.print(f"deleted {outcome.deleted_rows} raw clicks older than {days} days; "
                  "hourly rollups kept")
