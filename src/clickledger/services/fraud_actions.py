"""What a fraud verdict does to money: hold, release and reject (reverse) a player's commission.

- hold: the player's unpaid commission lines (``approved``/``pending``) become
  ``on_hold`` and its conversions ``on_hold``; the prior statuses are kept in
  the assessment's ``held`` map so a release restores exactly them.  Payout runs
  pay only ``approved`` lines, so held money stays put.
- release: every line and conversion still ``on_hold`` from that map gets its
  prior status back.
- reject: first release (so each reversal nets out the line it cancels), then
  the commission engine's ``reject_conversion`` for each conversion (it
  reverses the line and its sub-affiliate shares with ``reverses_entry_id``),
  and the same reversal posting for the player's other lines (IB rebates).
  Paid lines are reversed too: the reversal lands in the first open period.

Each of them changes the ledger or what the engine counts (a held conversion is
not counted for tiers and caps), so each is numbered as an evaluation step
(``evaluation_order.record_fraud``, under the evaluation lock) before it reads
anything, and ``ledger rebuild`` replays it there (``ordered_replay``): a hold,
a release (``release`` with the player: a dismissal), a rejection's start (its
release; each conversion rejection is a step of its own) and the reversal of the
player's other lines.  The ``apply_*`` functions do the same without numbering a
step: the replay's side.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from clickledger.domain.ledger import EntryKind
from clickledger.services import evaluation_order
from clickledger.services.conversion import reject_conversion
from clickledger.services.posting import Context, ensure_periods, post, reversals_for
from clickledger.store import ledger as ledger_store
from clickledger.store import tables as t

HOLDABLE = ("approved", "pending")
FINAL_CONVERSIONS = ("rejected", "reversed")
ENGINE_KEYED = ("cpa:", "cpl:", "sub:", "rev:")
LINE_KINDS = (EntryKind.COMMISSION.value, EntryKind.ADJUSTMENT.value)
CHUNK_PLAYERS = 400

Held = dict[str, Any]


def empty_held() -> Held:
    return {"entries": {}, "conversions": {}, "reversals": []}


def copy_held(held: Mapping[str, Any] | None) -> Held:
    base = empty_held()
    if held:
        base["entries"].update(held.get("entries") or {})
        base["conversions"].update(held.get("conversions") or {})
        base["reversals"] = list(held.get("reversals") or [])
    return base


def players_with_work(conn: sa.Connection, held: Mapping[str, Mapping[str, Any] | None],
                      rejected: Mapping[str, Mapping[str, Any] | None]) -> set[str]:
    """Of the held and of the rejected players (each with its assessment's ``held`` map),
    those for whom ``hold`` or ``reject`` would change something now: two reads for all of
    them, where ``hold`` and ``reject`` take several per player.  A held player has a line
    or conversion still to hold; a rejected one a hold to release, a conversion not yet
    final, or a line of its own (not the engine's) without its reversal."""
    players = sorted(set(held) | set(rejected))
    if not players:
        return set()
    e, c = t.ledger_entries, t.conversions
    lines: dict[str, list[Any]] = {player: [] for player in players}
    conversions: dict[str, list[Any]] = {player: [] for player in players}
    for start in range(0, len(players), CHUNK_PLAYERS):
        chunk = players[start:start + CHUNK_PLAYERS]
        for row in conn.execute(sa.select(
                e.c.player_id, e.c.id, e.c.entry_key, e.c.kind, e.c.status, e.c.payout_id,
                e.c.reverses_entry_id).where(e.c.player_id.in_(chunk))):
            lines[str(row.player_id)].append(row)
        for conversion in conn.execute(sa.select(c.c.player_id, c.c.id, c.c.status)
                                       .where(c.c.player_id.in_(chunk))):
            conversions[str(conversion.player_id)].append(conversion)
    found = {player for player in held
             if _holdable(lines[player], conversions[player])}
    found |= {player for player, map_ in rejected.items()
              if _rejectable(lines[player], conversions[player], map_ or {})}
    return found


def _holdable(lines: list[Any], conversions: list[Any]) -> bool:
    reversed_ids = {str(line.reverses_entry_id) for line in lines if line.reverses_entry_id}
    return any(conversion.status in HOLDABLE for conversion in conversions) or any(
        line.status in HOLDABLE and line.payout_id is None and line.kind in LINE_KINDS
        and str(line.id) not in reversed_ids for line in lines)


def _rejectable(lines: list[Any], conversions: list[Any], held: Mapping[str, Any]) -> bool:
    held_entries, held_conversions = held.get("entries") or {}, held.get("conversions") or {}
    if any(str(line.id) in held_entries and line.status == "on_hold" for line in lines):
        return True  # release
    if any(str(row.id) in held_conversions and row.status == "on_hold" for row in conversions):
        return True  # release
    if any(conversion.status not in FINAL_CONVERSIONS for conversion in conversions):
        return True  # reject_conversion
    keys = {line.entry_key for line in lines}
    return any(line.kind in LINE_KINDS and not line.entry_key.startswith(ENGINE_KEYED)
               and f"rev:{line.entry_key}" not in keys for line in lines)


def _reversed_ids(conn: sa.Connection, player_id: str) -> set[str]:
    e = t.ledger_entries
    rows = conn.execute(sa.select(e.c.reverses_entry_id).where(
        e.c.player_id == player_id, e.c.reverses_entry_id.is_not(None))).scalars()
    return {str(r) for r in rows}


def hold(conn: sa.Connection, player_id: str, reason: str, now: datetime, held: Held) -> int:
    """Hold the player's unpaid lines and its conversions; returns how many lines were held."""
    evaluation_order.record_fraud(conn, now, evaluation_order.HOLD, player_id=player_id,
                                  reason=reason)
    return apply_hold(conn, player_id, reason, now, held)


def apply_hold(conn: sa.Connection, player_id: str, reason: str, now: datetime,
               held: Held) -> int:
    """``hold`` without numbering a step."""
    e, c = t.ledger_entries, t.conversions
    reversed_ids = _reversed_ids(conn, player_id)
    lines = [row for row in conn.execute(sa.select(e.c.id, e.c.status).where(
        e.c.player_id == player_id, e.c.status.in_(HOLDABLE), e.c.payout_id.is_(None),
        e.c.kind.in_((EntryKind.COMMISSION.value, EntryKind.ADJUSTMENT.value))))
        if str(row.id) not in reversed_ids]
    for row in lines:
        held["entries"].setdefault(str(row.id), row.status)
    if lines:
        conn.execute(e.update().where(e.c.id.in_([row.id for row in lines]))
                     .values(status="on_hold"))
    conversions = conn.execute(sa.select(c.c.id, c.c.status, c.c.reason).where(
        c.c.player_id == player_id, c.c.status.in_(HOLDABLE))).all()
    for conversion in conversions:
        held["conversions"].setdefault(str(conversion.id),
                                       {"status": conversion.status, "reason": conversion.reason})
    if conversions:
        conn.execute(c.update().where(c.c.id.in_([r.id for r in conversions])).values(
            status="on_hold", reason=f"held for fraud review: {reason}"[:500], updated_at=now))
    return len(lines)


def release(conn: sa.Connection, held: Mapping[str, Any], now: datetime, *,
            player_id: str) -> int:
    """Give every line and conversion of the player still on hold its prior status back
    (the hold is dismissed: the engine counts its conversions again)."""
    evaluation_order.record_fraud(conn, now, evaluation_order.RELEASE, player_id=player_id)
    return apply_release(conn, held, now)


def apply_release(conn: sa.Connection, held: Mapping[str, Any], now: datetime) -> int:
    """``release`` without numbering a step."""
    e, c = t.ledger_entries, t.conversions
    released = 0
    for entry_id, status in (held.get("entries") or {}).items():
        result = conn.execute(e.update().where(e.c.id == entry_id, e.c.status == "on_hold")
                              .values(status=status))
        released += int(result.rowcount or 0)
    for conversion_id, prior in (held.get("conversions") or {}).items():
        conn.execute(c.update().where(c.c.id == conversion_id, c.c.status == "on_hold").values(
            status=prior.get("status") or "approved", reason=prior.get("reason"),
            updated_at=now))
    return released


def reject(conn: sa.Connection, player_id: str, reason: str, now: datetime,
           held: Held) -> list[str]:
    """Release, then reject the conversions and reverse every commission line of the player;
    returns the reversal entry keys posted now."""
    evaluation_order.record_fraud(conn, now, evaluation_order.FRAUD_REJECT,
                                  player_id=player_id, reason=reason)
    apply_release(conn, held, now)
    c = t.conversions
    keys: list[str] = []
    kinds = conn.execute(sa.select(c.c.kind).where(
        c.c.player_id == player_id, c.c.status.not_in(FINAL_CONVERSIONS))).scalars().all()
    for kind in kinds:
        keys += reject_conversion(conn, player_id, str(kind), reason, now)
    evaluation_order.record_fraud(conn, now, evaluation_order.REVERSE_LINES,
                                  player_id=player_id, reason=reason)
    keys += reverse_other_lines(conn, player_id, reason, now)
    held["reversals"] = sorted(set(held.get("reversals") or []) | set(keys))
    return keys


def reverse_other_lines(conn: sa.Connection, player_id: str, reason: str,
                        now: datetime) -> list[str]:
    """Reverse the player's lines the engine's conversions do not key (IB rebates and other
    adjustments), once each; returns the reversal entry keys posted now."""
    lines = ledger_store.lines_for_players(conn, [player_id])
    already = {line.entry_key for line in lines if line.kind == EntryKind.REVERSAL.value}
    targets = [line for line in lines
               if line.kind in (EntryKind.COMMISSION.value, EntryKind.ADJUSTMENT.value)
               and not line.entry_key.startswith(ENGINE_KEYED)]
    if not targets:
        return []
    ctx = Context(conn)
    drafts = reversals_for(ctx, targets, f"rejected for fraud: {reason}", None, now, already)
    ensure_periods(ctx, [d.caused_at for d in drafts])
    post(ctx, drafts, now)
    return [d.entry_key for d in drafts]
