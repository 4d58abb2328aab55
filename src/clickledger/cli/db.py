"""``clickledger db …``: create, upgrade and inspect the database schema."""

from __future__ import annotations

import typer
from rich.console import Console

from clickledger.settings import Settings
from clickledger.store import migrate
from clickledger.store.engine import create_engine

app = typer.Typer(help="Database schema: upgrade an empty or older database.", no_args_is_help=True)
console = Console()

DatabaseOption = typer.Option(None, "--database-url", help="Overrides CLICKLEDGER_DATABASE_URL.")


@app.command()
def upgrade(database_url: str | None = DatabaseOption, revision: str = "head") -> None:
    """Migrate the database to the newest schema (creates an empty one)."""
    url = database_url or Settings().database_url
    engine = create_engine(url)
    before = migrate.current_revision(engine)
    migrate.upgrade(engine, revision)
    after = migrate.current_revision(engine)
    console.print(f"database schema: {before or 'empty'} → {after}")


@app.command()
def current(database_url: str | None = DatabaseOption) -> None:
    """Print the schema revision of the database and the newest one."""
    engine = create_engine(database_url or Settings().database_url)
    current_rev = migrate.current_revision(engine) or "empty"
    console.print(f"current: {current_rev}  head: {migrate.head_revision(engine)}")
