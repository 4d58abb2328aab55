"""``clickledger worker``: deliver queued postbacks and webhooks (the outbox dispatcher)."""

from __future__ import annotations

import asyncio
import logging

import typer
from rich.console import Console

from clickledger.operations.logs import configure_logging
from clickledger.outbound.dispatcher import DEFAULT_CONCURRENCY, MAX_CONCURRENCY
from clickledger.runtime import Runtime
from clickledger.settings import Settings
from clickledger.workers.outbox import run_worker

console = Console(stderr=True)
log = logging.getLogger("clickledger.worker")


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
        configure_logging(settings.log_format, settings.log_level)
        runtime = Runtime.open(settings)
        def started() -> None:
            if settings.log_format == "json":
                log.info("outbox worker running", extra={"concurrency": concurrency, "once": once})
            else:
                console.print(f"outbox worker running: concurrency {concurrency}"
                              + (", once" if once else ", until SIGTERM"))

        dispatcher = asyncio.run(run_worker(runtime, concurrency=concurrency, once=once,
                                            on_started=started))
        if settings.log_format == "json":
            log.info("outbox worker stopped", extra={"attempts": dispatcher.attempted,
                                                     "delivered": dispatcher.delivered})
        else:
            console.print(f"attempts {dispatcher.attempted}, delivered {dispatcher.delivered}")
