"""Where report reads run: on the reports database (a read replica) when
``CLICKLEDGER_REPORTS_DATABASE_URL`` is set, else in one transaction on the main database.

A report makes one write: it folds closed hours of ``click_rollups_hourly`` into
``report_rollups_daily`` (``store.reports.fold_closed_click_hours``).  A replica cannot
take it, so with a replica the fold runs first on the primary, in its own transaction,
and the report then reads the replica (whose engine is read-only, and marked so that
``services.reports`` skips the fold there).  The replica's rows are a consistent
picture: daily rows up to the watermark it has replayed, hourly rows after it, so a
lagging replica shows slightly older figures, never mixed ones.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import sqlalchemy as sa

from clickledger.store.reports import fold_closed_click_hours


@contextmanager
def report_connection(
    primary: sa.Engine, replica: sa.Engine | None, now: datetime
) -> Iterator[sa.Connection]:
    """A connection for one report: the replica's (after the primary folded), or a
    transaction on the primary (committed at the end, as the fold needs)."""
    if replica is None:
        with primary.begin() as conn:
            yield conn
        return
    with primary.begin() as conn:
        fold_closed_click_hours(conn, now)
    with replica.connect() as conn:
        yield conn
