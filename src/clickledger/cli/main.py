"""``clickledger``: the root command and its sub-commands, one module per concern."""

from __future__ import annotations

import typer

from clickledger.cli import db, demo, serve

app = typer.Typer(
    name="clickledger",
    help="Affiliate tracking and commissions for casino operators and Forex brokers.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(db.app, name="db")
serve.register(app)
demo.register(app)
