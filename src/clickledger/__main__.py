"""``python -m clickledger`` runs the command-line interface."""

from clickledger.cli.main import app

app()
