"""``ledger rebuild``: recompute the whole ledger from raw events and compare line by line.

Lines are compared on entry key, kind, affiliate, player, amount, currency,
deal version, deal type, period, what they reverse, explanation and source
events (in canonical UUID text; a RevShare line's as a set, since the
databases aggregate them in no particular order) — not on ids or creation
times.  Only engine lines are compared (commission,
reversal, sub-affiliate, RevShare keys); payouts and manual adjustments made
elsewhere are not derived from events.  Nor are the lines a reconciliation
approval posts: the adjustment (``recon:<item>``) and the sub-affiliate shares
paid on it (``sub:<ancestor>:recon:<item>``) come from a finance decision on an
operator statement, so they are left out of the comparison too.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from clickledger.clock import utc
from clickledger.services import ordered_replay, replay
from clickledger.store import tables as t

_HEX32 = re.compile(r"[0-9a-f]{32}")
ENGINE_KEY_PREFIXES = ("cpa:", "cpl:", "ib:", "rs:", "rev:", "sub:")
RECONCILIATION_SHARES = "sub:%:recon:%"  # shares of an approved reconciliation adjustment
COMPARED = ("kind", "affiliate_id", "player_id", "amount_minor", "currency", "deal_version_id",
            "deal_type", "period_start", "reverses", "explanation", "source_event_ids")


@dataclass
class RebuildReport:
    live_lines: int
    rebuilt_lines: int
    missing: list[str] = field(default_factory=list)  # live only
    extra: list[str] = field(default_factory=list)  # rebuilt only
    changed: list[tuple[str, str, Any, Any]] = field(default_factory=list)  # key, field, live, new

    @property
    def equal(self) -> bool:
        return not (self.missing or self.extra or self.changed)


def engine_lines(conn: sa.Connection) -> dict[str, dict[str, Any]]:
    """Engine-made ledger lines by entry key, in comparable form."""
    e = t.ledger_entries
    is_engine = sa.and_(sa.or_(*[e.c.entry_key.startswith(p) for p in ENGINE_KEY_PREFIXES]),
                        e.c.entry_key.not_like(RECONCILIATION_SHARES))
    rows = list(conn.execute(sa.select(e).where(is_engine)).mappings())
    key_of = {r["id"]: r["entry_key"] for r in rows}
    lines = {}
    for row in rows:
        line = {name: row[name] for name in COMPARED if name in row}
        line["period_start"] = utc(row["period_start"])
        reverses = row["reverses_entry_id"]
        line["reverses"] = key_of.get(reverses) if reverses else None
        line["source_event_ids"] = _sources(row["entry_key"], row["source_event_ids"])
        lines[row["entry_key"]] = line
    return lines


def _sources(entry_key: str, ids: list[Any] | None) -> tuple[str, ...]:
    """Source event ids as canonical text (lines written before SQLite's RevShare ids had
    their dashes compare equal), in order — but as a set for RevShare lines and their
    shares."""
    canonical = tuple(str(uuid.UUID(str(i))) if _HEX32.fullmatch(str(i)) else str(i)
                      for i in ids or ())
    return tuple(sorted(canonical)) if ("rs:" in entry_key) else canonical


def compare(live: dict[str, dict[str, Any]], rebuilt: dict[str, dict[str, Any]]) -> RebuildReport:
    report = RebuildReport(len(live), len(rebuilt))
    report.missing = sorted(set(live) - set(rebuilt))
    report.extra = sorted(set(rebuilt) - set(live))
    for key in sorted(set(live) & set(rebuilt)):
        for name in COMPARED:
            if live[key].get(name) != rebuilt[key].get(name):
                report.changed.append((key, name, live[key].get(name), rebuilt[key].get(name)))
    return report


def rebuild(live_engine: sa.Engine) -> RebuildReport:
    """Replay every evaluation step into a scratch database, in the order live evaluation
    took them (``services.ordered_replay``), and compare with the live ledger."""
    scratch = replay.scratch_engine()
    try:
        with _snapshot(live_engine) as live, scratch.begin() as target:
            for table in replay.PROGRAMME_TABLES:
                replay.copy_rows(live, target, table)
            ordered_replay.replay(live, target)
            return compare(engine_lines(live), engine_lines(target))
    finally:
        scratch.dispose()


def _snapshot(live_engine: sa.Engine) -> sa.Connection:
    """A connection that reads one state of the database throughout (PostgreSQL: one
    repeatable-read transaction, so steps committed meanwhile are not half seen)."""
    conn = live_engine.connect()
    if conn.dialect.name == "postgresql":
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
    return conn
