"""Keyset paging over time-ordered ids: bounded pages, an opaque cursor, no offsets.

Primary keys are UUIDv7, so ordering by id is ordering by creation.  A page
holds at most ``limit`` rows; ``next_cursor`` is the id of its last row when
more rows follow, and the next page is the rows with a greater id.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from clickledger.clock import utc


@dataclass(frozen=True, slots=True)
class Page:
    """One page of rows (as plain dicts) and the cursor to the next, if any."""

    rows: list[dict[str, Any]]
    next_cursor: str | None


def is_uuid(value: str) -> bool:
    """True when ``value`` is a UUID in any accepted text form."""
    try:
        uuid.UUID(value)
    except (ValueError, AttributeError, TypeError):
        return False
    return True


def canonical_uuid(value: str) -> str:
    """``value`` in canonical lower-case hyphenated form (raises ValueError when not a UUID)."""
    return str(uuid.UUID(value))


def plain_row(row: sa.RowMapping | Mapping[str, Any]) -> dict[str, Any]:
    """A result row as a dict, times as aware UTC on every database (SQLite returns naive)."""
    return {k: utc(v) if isinstance(v, datetime) else v for k, v in row.items()}


def fetch_page(
    conn: sa.Connection,
    table: sa.Table,
    *,
    where: Sequence[sa.ColumnElement[bool]],
    limit: int,
    cursor: str | None,
) -> Page:
    """Rows of ``table`` matching ``where`` after ``cursor``, ``limit`` at most, by id."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    id_column = table.c.id
    query = sa.select(table).where(*where)
    if cursor is not None:
        query = query.where(id_column > canonical_uuid(cursor))
    result = conn.execute(query.order_by(id_column).limit(limit + 1)).mappings()
    rows = [plain_row(row) for row in result]
    if len(rows) > limit:
        rows = rows[:limit]
        return Page(rows=rows, next_cursor=str(rows[-1]["id"]))
    return Page(rows=rows, next_cursor=None)
