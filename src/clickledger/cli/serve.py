"""``clickledger serve``: run the HTTP server (hot paths + admin API) with uvicorn.

On SIGTERM or SIGINT uvicorn stops accepting connections, lets requests in
flight finish (at most ``GRACEFUL_SHUTDOWN_S``), then runs the lifespan
shutdown, where each group committer commits everything still queued; the
process then exits 0.
"""

from __future__ import annotations

import logging
import signal
from types import FrameType

import typer
import uvicorn
from rich.console import Console

from clickledger.http.app import create_app
from clickledger.operations.logs import configure_logging
from clickledger.runtime import Runtime
from clickledger.settings import Settings

console = Console(stderr=True)
log = logging.getLogger("clickledger.serve")
GRACEFUL_SHUTDOWN_S = 10


def build_settings(host: str | None, port: int | None, database_url: str | None) -> Settings:
    overrides: dict[str, object] = {}
    if host is not None:
        overrides["host"] = host
    if port is not None:
        overrides["port"] = port
    if database_url is not None:
        overrides["database_url"] = database_url
    return Settings(**overrides)  # type: ignore[arg-type]


def _stopped_by(signum: int, _frame: FrameType | None) -> None:
    """uvicorn re-raises the signal it stopped on: note it instead of dying by it (exit 0)."""
    log.info("stopped by %s", signal.Signals(signum).name)


def run_server(settings: Settings) -> None:
    """Open the database (migrating it) and serve until SIGTERM/SIGINT, then drain and return."""
    configure_logging(settings.log_format, settings.log_level)
    runtime = Runtime.open(settings)
    app = create_app(runtime)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _stopped_by)
    log.info("serving", extra={"url": f"http://{settings.host}:{settings.port}",
                               "database": runtime.engine.dialect.name})
    uvicorn.run(
        app, host=settings.host, port=settings.port, log_level=settings.log_level,
        http="httptools", loop="uvloop", lifespan="on", access_log=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S, log_config=None,
    )
    runtime.engine.dispose()


def register(app: typer.Typer) -> None:
    @app.command()
    def serve(
        host: str | None = typer.Option(None, help="Interface to bind (default 127.0.0.1)."),
        port: int | None = typer.Option(None, help="Port (default 8000)."),
        database_url: str | None = typer.Option(None, help="Overrides CLICKLEDGER_DATABASE_URL."),
    ) -> None:
        """Serve clicks, pixels, postbacks and the admin API."""
        settings = build_settings(host, port, database_url)
        if settings.secret_is_insecure() and not settings.demo_mode:
            console.print(
                "[red]refusing to start: set CLICKLEDGER_SECRET_KEY to a random value of "
                "at least 32 characters (e.g. `python -c 'import secrets; "
                "print(secrets.token_urlsafe(32))'`).[/red]"
            )
            raise typer.Exit(code=2)
        if settings.log_format == "text":
            console.print(
                f"ClickLedger on http://{settings.host}:{settings.port}  (API docs at /docs)")
        run_server(settings)
