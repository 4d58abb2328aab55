"""``clickledger worker``: deliver queued postbacks and webhooks (the outbox dispatcher)."""

from __future__ import annotations

import asyncio

import typer
from rich.console import Console

from clickledger.outbound.dispatcher import DEFAULT_CONCURRENCY, MAX_CONCURRENCY
from clickledger.runtime import Runtime
from clickledger.settings import Settings
from clickledger.workers.outbox import run_worker

console = Console(stderr=True)


def register(app: typer.Typer) -> None:
    @app.command()
    def worker(
        once: bool = typer.Option(False, "--once", help="Deliver what is due now, then exit."),
        concurrency: int = typer.Option(
            DEFAULT_CONCURRENCY, "--concurrency", min=1, max=MAX_CONCURRENCY,
            help="Deliveries in flight at once.",
        ),
        database_url: str | None = typer.Option(None, help="Overrides CLICKLEDGER_DATABASE_URL."),
    ) -> None:
        """Run the outbox dispatcher until SIGTERM (in-flight deliveries finish first)."""
        settings = Settings(database_url=database_url) if database_url else Settings()
        runtime = Runtime.open(settings)
        def started() -> None:
            console.print(f"outbox worker running: concurrency {concurrency}"
                          + (", once" if once else ", until SIGTERM"))

        dispatcher = asyncio.run(run_worker(runtime, concurrency=concurrency, once=once,
                                            on_started=started))
        console.print(f"attempts {dispatcher.attempted}, delivered {dispatcher.delivered}")
