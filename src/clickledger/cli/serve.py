"""``clickledger serve``: run the HTTP server (hot paths + admin API) with uvicorn."""

from __future__ import annotations

import typer
import uvicorn
from rich.console import Console

from clickledger.http.app import create_app
from clickledger.runtime import Runtime
from clickledger.settings import Settings

console = Console(stderr=True)


def build_settings(host: str | None, port: int | None, database_url: str | None) -> Settings:
    overrides: dict[str, object] = {}
    if host is not None:
        overrides["host"] = host
    if port is not None:
        overrides["port"] = port
    if database_url is not None:
        overrides["database_url"] = database_url
    return Settings(**overrides)  # type: ignore[arg-type]


def run_server(settings: Settings) -> None:
    """Open the database (migrating it) and serve until interrupted."""
    runtime = Runtime.open(settings)
    app = create_app(runtime)
    uvicorn.run(
        app, host=settings.host, port=settings.port, log_level="warning",
        http="httptools", loop="uvloop", lifespan="on", access_log=False,
        timeout_graceful_shutdown=10,
    )


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
        console.print(f"ClickLedger on http://{settings.host}:{settings.port}  (API docs at /docs)")
        run_server(settings)
