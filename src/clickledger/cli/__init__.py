"""The ``clickledger`` command line (Typer + Rich)."""
