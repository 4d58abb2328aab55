"""Deals, versions and assignments: loaded in batches and parsed once per immutable version."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from clickledger.clock import utc
from clickledger.domain.deals.base import Assignment, DealKind, DealVersion, effective_terms
from clickledger.domain.deals.registry import ParsedTerms, parse_terms
from clickledger.store import tables as t
from clickledger.store.batch_reads import driver_execute

IN_CHUNK = 500
_PARSED: dict[tuple[str, str], ParsedTerms] = {}  # (version id, assignment id) -> terms
_PARSED_LIMIT = 50_000


def _dashed(value: Any) -> str | None:
    """32 hex digits (SQLite's ``Uuid`` storage) or a ``uuid.UUID`` as canonical text."""
    if value is None:
        return None
    if isinstance(value, str):
        if len(value) == 32:
            return f"{value[:8]}-{value[8:12]}-{value[12:16]}-{value[16:20]}-{value[20:]}"
        return value
    return str(value)


class _TextId(sa.types.UserDefinedType[str]):
    """A UUID column read as canonical text without a ``uuid.UUID`` round trip per value.

    SQLite stores ``Uuid`` as 32 hex digits (dashes are re-inserted by slicing);
    PostgreSQL's driver hands back ``uuid.UUID`` objects (``str`` of them).
    """

    cache_ok = True

    def get_col_spec(self, **kw: Any) -> str:
        return "VARCHAR(36)"

    def result_processor(self, dialect: sa.Dialect, coltype: object) -> Any:
        return _dashed  # not adapted per dialect (unlike String): the driver's value as is


def text_id(column: sa.ColumnElement[Any], name: str | None = None) -> sa.Label[str]:
    """``column`` (a UUID) selected as canonical text, cheaply, labelled ``name``."""
    label = name or getattr(column, "name", None) or "id"
    return sa.type_coerce(column, _TextId()).label(label)


@dataclass
class Catalogue:
    """Assignments, deal versions and parents read from one database state (``stamp``).

    Filled lazily, per affiliate and deal, and shared by every call on the same
    database while its stamp holds.  The stamp is the database's catalogue counter
    (``catalogue_version``, one primary-key read per call), which triggers bump on
    every insert, update or delete of ``affiliates``, ``deals``, ``deal_versions``
    and ``deal_assignments``, whichever process makes it; the next call then starts
    afresh.  Several processes sharing PostgreSQL each check it.
    """

    stamp: int
    assignments: dict[str, list[Assignment]] = field(default_factory=dict)
    versions: dict[str, list[DealVersion]] = field(default_factory=dict)
    parents: dict[str, str | None] = field(default_factory=dict)


_CATALOGUES: dict[tuple[int, str], Catalogue] = {}
_CATALOGUE_DATABASES = 32
_CATALOGUE_AFFILIATES = 200_000
_VERSION_SQL = "SELECT version FROM catalogue_version WHERE id = 1"


def catalogue(conn: sa.Connection) -> Catalogue:
    """The catalogue for ``conn``'s database as this transaction sees it (one query).

    Without the counter's row (deleted by hand) nothing is cached: every call reads afresh.
    """
    rows = driver_execute(conn, _VERSION_SQL, ()).fetchall()
    if not rows:
        return Catalogue(-1)
    stamp = int(rows[0][0])
    key = (id(conn.engine), str(conn.engine.url))
    found = _CATALOGUES.get(key)
    if found is None or found.stamp != stamp or len(found.assignments) > _CATALOGUE_AFFILIATES:
        if found is None and len(_CATALOGUES) >= _CATALOGUE_DATABASES:
            _CATALOGUES.clear()
        found = _CATALOGUES[key] = Catalogue(stamp)
    return found


def chunks(values: Iterable[str], size: int = IN_CHUNK) -> Iterable[list[str]]:
    items = list(values)
    for start in range(0, len(items), size):
        yield items[start:start + size]


def load_assignments(conn: sa.Connection,
                     affiliate_ids: Iterable[str]) -> dict[str, list[Assignment]]:
    """Every assignment (past and present) of the given affiliates."""
    found: dict[str, list[Assignment]] = defaultdict(list)
    a = t.deal_assignments
    for chunk in chunks(set(affiliate_ids)):
        rows = conn.execute(sa.select(text_id(a.c.id), text_id(a.c.affiliate_id),
                                      text_id(a.c.deal_id), a.c.effective_from,
                                      a.c.effective_to, a.c.overrides)
                            .where(a.c.affiliate_id.in_(chunk)).order_by(a.c.id))
        for row in rows:
            found[row.affiliate_id].append(Assignment(
                id=row.id, affiliate_id=row.affiliate_id, deal_id=row.deal_id,
                effective_from=utc(row.effective_from),
                effective_to=utc(row.effective_to) if row.effective_to else None,
                overrides=row.overrides or {},
            ))
    return found


def load_versions(conn: sa.Connection, deal_ids: Iterable[str]) -> dict[str, list[DealVersion]]:
    """Every version of the given deals, with the deal's kind, brand and currency."""
    found: dict[str, list[DealVersion]] = defaultdict(list)
    v, d = t.deal_versions, t.deals
    for chunk in chunks(set(deal_ids)):
        rows = conn.execute(
            sa.select(v.c.id, v.c.deal_id, v.c.version, v.c.effective_from, v.c.terms,
                      d.c.name, d.c.brand_id, d.c.kind, d.c.currency)
            .join(d, d.c.id == v.c.deal_id).where(v.c.deal_id.in_(chunk))
            .order_by(v.c.deal_id, v.c.version)
        )
        for row in rows:
            found[row.deal_id].append(DealVersion(
                id=row.id, deal_id=row.deal_id, deal_name=row.name, brand_id=row.brand_id,
                kind=DealKind(row.kind), currency=row.currency, version=row.version,
                effective_from=utc(row.effective_from), terms=row.terms or {},
            ))
    return found


def parsed_terms(version: DealVersion, assignment: Assignment) -> ParsedTerms:
    """Parse a version's terms with an assignment's overrides, once (both are immutable)."""
    key = (version.id, assignment.id if assignment.overrides else "")
    cached = _PARSED.get(key)
    if cached is None:
        if len(_PARSED) > _PARSED_LIMIT:
            _PARSED.clear()
        cached = parse_terms(version.kind, effective_terms(version, assignment))
        _PARSED[key] = cached
    return cached


def brand_formulas(conn: sa.Connection, brand_ids: Iterable[str]) -> dict[str, Any]:
    """Brand rows (NGR formula columns) by id."""
    b = t.brands
    ids = list(set(brand_ids))
    if not ids:
        return {}
    return {row.id: row for row in conn.execute(sa.select(b).where(b.c.id.in_(ids)))}


def parents(conn: sa.Connection, affiliate_ids: Iterable[str],
            max_depth: int = 10) -> dict[str, str | None]:
    """Parent of every given affiliate and of its ancestors, ``max_depth`` levels up."""
    known: dict[str, str | None] = {}
    frontier = set(affiliate_ids)
    for _ in range(max_depth + 1):
        todo = [a for a in frontier if a not in known]
        if not todo:
            break
        frontier = set()
        for chunk in chunks(todo):
            for row in conn.execute(sa.select(text_id(t.affiliates.c.id),
                                              text_id(t.affiliates.c.parent_id))
                                    .where(t.affiliates.c.id.in_(chunk))):
                known[row.id] = row.parent_id
                if row.parent_id:
                    frontier.add(row.parent_id)
    return known


def touch_time(moment: datetime) -> datetime:
    """A moment as UTC (helper for callers building rows)."""
    return utc(moment)
