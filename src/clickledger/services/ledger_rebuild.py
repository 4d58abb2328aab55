"""``ledger rebuild``: recompute the whole ledger from raw events and compare line by line.

Lines are compared on entry key, kind, affiliate, player, amount, currency,
deal version, deal type, period, what they reverse and explanation — not on
ids or creation times.  Only engine lines are compared (commission,
reversal, sub-affiliate, RevShare keys); payouts and manual adjustments made
elsewhere are not derived from events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from clickledger.clock import utc
from clickledger.services import replay
from clickledger.store import tables as t

ENGINE_KEY_PREFIXES = ("cpa:", "cpl:", "ib:", "rs:", "rev:", "sub:")
COMPARED = ("kind", "affiliate_id", "player_id", "amount_minor", "currency", "deal_version_id",
            "deal_type", "period_start", "reverses", "explanation")


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
    is_engine = sa.or_(*[e.c.entry_key.startswith(p) for p in ENGINE_KEY_PREFIXES])
    rows = list(conn.execute(sa.select(e).where(is_engine)).mappings())
    key_of = {r["id"]: r["entry_key"] for r in rows}
    lines = {}
    for row in rows:
        line = {name: row[name] for name in COMPARED if name in row}
        line["period_start"] = utc(row["period_start"])
        reverses = row["reverses_entry_id"]
        line["reverses"] = key_of.get(reverses) if reverses else None
        lines[row["entry_key"]] = line
    return lines


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
    """Replay every event into a scratch database and compare with the live ledger."""
    scratch = replay.scratch_engine()
    try:
        with live_engine.connect() as live, scratch.begin() as target:
            for table in (*replay.PROGRAMME_TABLES, t.players):
                replay.copy_rows(live, target, table)
            steps = replay.merged(replay.arrivals(live), replay.closes(live),
                                  replay.rejections(live))
            replay.run(target, steps)
            return compare(engine_lines(live), engine_lines(target))
    finally:
        scratch.dispose()
