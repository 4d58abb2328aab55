"""The role-matrix programme (``tests/http/conftest.py``): a world with one key per role and a
client for the whole app, on SQLite and PostgreSQL."""

from tests.http.conftest import client, world

__all__ = ["client", "world"]
