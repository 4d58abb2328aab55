"""The kinds of operator statement reconciliation reads.

Kept apart from ``reconciliation_statement`` (which needs polars) so the API
and the web console can name a kind without loading the dataframe library.
"""

from __future__ import annotations

from enum import StrEnum


class StatementKind(StrEnum):
    EVENTS = "events"
    PLAYERS = "players"
    AFFILIATES = "affiliates"
