"""``clickledger users create``: a person who signs in to the portal or the console.

The password comes from ``--password``, the ``CLICKLEDGER_NEW_PASSWORD``
environment variable or a hidden prompt; ``--generate-password`` makes a
random one and prints it once.  It is stored only as an argon2 hash.
"""

from __future__ import annotations

import secrets

import typer
from rich.console import Console

from clickledger.domain.roles import Role
from clickledger.runtime import Runtime
from clickledger.services.registration import valid_uuid
from clickledger.settings import Settings
from clickledger.web import auth

app = typer.Typer(help="People who sign in to the web portal and console.",
                  no_args_is_help=True)
console = Console()
errors = Console(stderr=True)


@app.command()
def create(
    email: str = typer.Option(..., "--email", help="Sign-in email."),
    role: Role = typer.Option(..., "--role", help="manager, finance or affiliate."),
    affiliate_id: str | None = typer.Option(None, "--affiliate-id",
                                            help="Required for affiliate users."),
    password: str | None = typer.Option(None, "--password", envvar="CLICKLEDGER_NEW_PASSWORD",
                                        help="At least 10 characters (prompted if absent)."),
    generate_password: bool = typer.Option(False, "--generate-password",
                                           help="Make a random password and print it once."),
    database_url: str | None = typer.Option(None, "--database-url",
                                            help="Overrides CLICKLEDGER_DATABASE_URL."),
) -> None:
    """Create a user who can sign in at /login."""
    if generate_password:
        password = secrets.token_urlsafe(15)
    elif password is None:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    if affiliate_id is not None:
        canonical = valid_uuid(affiliate_id)
        if canonical is None:
            errors.print("[red]--affiliate-id is not an id[/red]")
            raise typer.Exit(code=2)
        affiliate_id = canonical
    settings = Settings(database_url=database_url) if database_url else Settings()
    runtime = Runtime.open(settings)
    try:
        with runtime.engine.begin() as conn:
            user_id = auth.create_user(conn, email=email, password=password, role=role,
                                       affiliate_id=affiliate_id, now=runtime.clock.now())
    except auth.UserError as exc:
        errors.print(f"[red]{exc}[/red]")
        raise typer.Exit(code=2) from exc
    finally:
        runtime.engine.dispose()
    console.print(f"user {user_id} created: {email.strip().lower()} ({role.value})",
                  highlight=False)
    if generate_password:
        console.print(f"password (shown once): {password}", highlight=False)
