"""``clickledger keys create``: issue an API key from the shell, e.g. the very first manager key.

The command opens the configured database (``--database-url`` or
``CLICKLEDGER_DATABASE_URL``), migrates it, issues the key (audited, actor
``cli``/``bootstrap``) and prints the token once.
"""

from __future__ import annotations

import typer
from rich.console import Console

from clickledger.domain.roles import Role
from clickledger.runtime import Runtime
from clickledger.services import api_keys
from clickledger.services.errors import ServiceError
from clickledger.settings import Settings

app = typer.Typer(help="API keys: issue one from the shell (the first manager key).",
                  no_args_is_help=True)
console = Console()
errors = Console(stderr=True)

CLI_ACTOR = "cli"
MAX_NAME_LENGTH = 200


@app.command()
def create(
    name: str = typer.Option(..., "--name", help="Who or what the key is for."),
    role: Role = typer.Option(Role.MANAGER, "--role", help="manager, finance, affiliate or "
                              "integration."),
    affiliate_id: str | None = typer.Option(None, "--affiliate-id",
                                            help="Required for affiliate keys."),
    integration_id: str | None = typer.Option(None, "--integration-id",
                                              help="Required for integration keys."),
    database_url: str | None = typer.Option(None, "--database-url",
                                            help="Overrides CLICKLEDGER_DATABASE_URL."),
) -> None:
    """Issue a key and print its token; the token is not stored and is shown only now."""
    name = name.strip()
    if not name or len(name) > MAX_NAME_LENGTH:
        errors.print(f"[red]--name must be 1 to {MAX_NAME_LENGTH} characters[/red]")
        raise typer.Exit(code=2)
    settings = Settings(database_url=database_url) if database_url else Settings()
    runtime = Runtime.open(settings)
    try:
        with runtime.engine.begin() as conn:
            now = runtime.clock.now()
            if role is Role.MANAGER and affiliate_id is None and integration_id is None:
                issued = api_keys.bootstrap_manager_key(conn, name, now)
            else:
                issued, _row = api_keys.create_key(
                    conn, role=role, name=name, actor=CLI_ACTOR, now=now,
                    affiliate_id=affiliate_id, integration_id=integration_id,
                )
    except ServiceError as exc:
        errors.print(f"[red]{exc.code}: {exc.message}[/red]")
        raise typer.Exit(code=1) from exc
    finally:
        runtime.engine.dispose()
    console.print(f"key id: {issued.key_id}  role: {role.value}")
    console.print("token (shown once, store it now):")
    print(issued.token)  # plain stdout, no Rich wrapping: scripts capture this line
