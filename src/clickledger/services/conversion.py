"""Conversion: turns accepted, attributed player events into commission ledger entries.

Contract with ingestion (postback, pixel, batch import): after events are
stored and attributed, ingestion calls ``evaluate_events`` in the same
transaction with the ids of every event whose consequences may have changed
(the new events, and a newly registered player's earlier events).  The
evaluation is idempotent: ledger entries carry a unique ``entry_key``, so
passing an event twice never pays twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa


def evaluate_events(conn: sa.Connection, event_ids: Sequence[str], now: datetime) -> None:
    """Post the commission consequences of ``event_ids`` (the commission engine fills this in)."""
    del conn, event_ids, now
