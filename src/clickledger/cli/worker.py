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
from clickledger.workers.fraud import FraudWorker
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
        no_fraud: bool = typer.Option(
            False, "--no-fraud", help="Do not run the fraud worker (another process runs it)."),
    ) -> None:
        """Run the outbox dispatcher and the fraud worker until SIGTERM (in-flight deliveries
        finish first); with --once, assess what is queued, then deliver what is due."""
        settings = Settings(database_url=database_url) if database_url else Settings()
        configure_logging(settings.log_format, settings.log_level)
        runtime = Runtime.open(settings)
        def started() -> None:
            if settings.log_format == "json":
                log.info("outbox worker running", extra={"concurrency": concurrency, "once": once})
            else:
                console.print(f"outbox worker running: concurrency {concurrency}"
                              + (", once" if once else ", until SIGTERM"))

        fraud_worker = None if no_fraud else FraudWorker.from_settings(
            runtime.engine, runtime.clock, settings)
        if fraud_worker is not None and once:
            fraud_worker.drain()
        elif fraud_worker is not None:
            fraud_worker.start()
        try:
            dispatcher = asyncio.run(run_worker(runtime, concurrency=concurrency, once=once,
                                                on_started=started))
        finally:
            if fraud_worker is not None:
                fraud_worker.stop()
        if fraud_worker is not None and settings.log_format == "json":
            log.info("fraud worker stopped", extra={"events": fraud_worker.stats.events,
                                                    "clicks": fraud_worker.stats.clicks})
        elif fraud_worker is not None:
            console.print(f"fraud: {fraud_worker.stats.events} events assessed, "
                          f"{fraud_worker.stats.clicks} clicks counted")
        if settings.log_format == "json":
            log.info("outbox worker stopped", extra={"attempts": dispatcher.attempted,
                                                     "delivered": dispatcher.delivered})
        else:
            console.print(f"attempts {dispatcher.attempted}, delivered {dispatcher.delivered}")
