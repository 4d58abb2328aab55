"""``clickledger``: the root command and its sub-commands, one module per concern."""

from __future__ import annotations

import typer

from clickledger.cli import clicks, db, demo, importer, keys, payouts, send_event, serve, worker
from clickledger.cli import ledger as ledger_cli
from clickledger.cli import users as users_cli

app = typer.Typer(
    name="clickledger",
    help="Affiliate tracking and commissions for casino operators and Forex brokers.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(db.app, name="db")
app.add_typer(keys.app, name="keys")
app.add_typer(payouts.app, name="payouts")
serve.register(app)
demo.register(app)
worker.register(app)
app.add_typer(ledger_cli.app, name="ledger")
ledger_cli.register(app)
send_event.register(app)
importer.register(app)  # import, reconcile
app.add_typer(clicks.app, name="clicks")
app.add_typer(users_cli.app, name="users")
