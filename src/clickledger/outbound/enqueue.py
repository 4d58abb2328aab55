"""Queues outbound postbacks for accepted events, in the ingesting transaction (outbox).

Contract with ingestion: after ``services.conversion.evaluate_events``, ingestion
calls ``enqueue_for_events`` in the same transaction with the same event ids.
Rows are keyed by a unique ``dedupe_key`` (event, template), so a repeat call
queues nothing twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa


def enqueue_for_events(conn: sa.Connection, event_ids: Sequence[str], now: datetime) -> int:
    """Write outbox rows for ``event_ids``; returns how many were queued (outbound fills this in)."""
    del conn, event_ids, now
    return 0
