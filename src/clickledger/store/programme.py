"""Rows of the programme set-up tables (brands, offers, affiliates, links, promo codes, keys).

Plain SQL helpers with no rules: the services decide what may be written.
Unique columns are written with ``insert … on conflict do nothing`` so a
duplicate is an answer, not an exception.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from clickledger.store import tables as t
from clickledger.store.paging import canonical_uuid, is_uuid, plain_row


def get_row(conn: sa.Connection, table: sa.Table, row_id: str) -> dict[str, Any] | None:
    """The row with ``row_id`` as a dict; None when absent or when ``row_id`` is not a UUID."""
    if not is_uuid(row_id):
        return None
    query = sa.select(table).where(table.c.id == canonical_uuid(row_id))
    row = conn.execute(query).mappings().first()
    return plain_row(row) if row is not None else None


def exists(conn: sa.Connection, table: sa.Table, row_id: str) -> bool:
    if not is_uuid(row_id):
        return False
    query = sa.select(table.c.id).where(table.c.id == canonical_uuid(row_id))
    found = conn.execute(query).first()
    return found is not None


def value_taken(
    conn: sa.Connection, column: sa.Column[Any], value: Any, except_id: str | None = None
) -> bool:
    """True when another row already holds ``value`` in the unique ``column``."""
    table = column.table
    query = sa.select(table.c.id).where(column == value)
    if except_id is not None:
        query = query.where(table.c.id != except_id)
    return conn.execute(query.limit(1)).first() is not None


def insert_unique(conn: sa.Connection, table: sa.Table, values: Mapping[str, Any]) -> bool:
    """Insert one row; False (and nothing written) when a unique column is already taken."""
    if conn.dialect.name == "postgresql":
        statement: Any = postgresql.insert(table).values(**values).on_conflict_do_nothing()
    else:
        statement = sqlite.insert(table).values(**values).on_conflict_do_nothing()
    # RETURNING, not rowcount: psycopg reports -1 for an INSERT … ON CONFLICT here.
    return conn.execute(statement.returning(table.c.id)).first() is not None


def update_row(
    conn: sa.Connection, table: sa.Table, row_id: str, values: Mapping[str, Any]
) -> None:
    conn.execute(table.update().where(table.c.id == row_id).values(**values))


def ancestor_ids(conn: sa.Connection, affiliate_id: str, max_depth: int) -> list[str]:
    """``affiliate_id``'s parent, grandparent … upwards, ``max_depth + 1`` at most.

    A chain longer than ``max_depth`` comes back with ``max_depth + 1`` entries so
    the caller can tell; a cycle already in the data stops the walk.
    """
    chain: list[str] = []
    current: str | None = affiliate_id
    while current is not None and len(chain) <= max_depth:
        parent = conn.execute(
            sa.select(t.affiliates.c.parent_id).where(t.affiliates.c.id == current)
        ).scalar_one_or_none()
        if parent is None or parent in chain:
            break
        chain.append(str(parent))
        current = str(parent)
    return chain


def equality_filters(table: sa.Table, filters: Mapping[str, Any]) -> list[sa.ColumnElement[bool]]:
    """``column == value`` for each filter whose value is not None."""
    return [table.c[name] == value for name, value in filters.items() if value is not None]


def within_affiliates(
    column: sa.Column[Any], affiliate_ids: frozenset[str] | None
) -> list[sa.ColumnElement[bool]]:
    """Restrict ``column`` to ``affiliate_ids``; no restriction when it is None."""
    if affiliate_ids is None:
        return []
    return [column.in_(sorted(affiliate_ids))]
