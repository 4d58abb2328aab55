"""``clickledger clicks prune``: delete raw clicks past retention; hourly rollups are kept."""

from __future__ import annotations

import typer
from rich.console import Console

from clickledger.runtime import Runtime
from clickledger.settings import Settings
from clickledger.tracking.retention import prune_clicks

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
    """Delete raw clicks older than the retention; hourly rollups (reports) are kept."""
    settings = Settings() if database_url is None else Settings(database_url=database_url)
    days = older_than_days or settings.click_retention_days
    runtime = Runtime.open(settings)
    deleted = prune_clicks(runtime.engine, days, runtime.clock.now())
    console.print(f"deleted {deleted} raw clicks older than {days} days; hourly rollups kept")
