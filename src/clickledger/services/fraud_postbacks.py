"""What an affiliate's tracker hears when fraud changes a conversion after its postback.

Outbound postbacks are rendered in the transaction that accepts an event, and
the dispatcher holds them back while the event waits for its assessment — at
most ``outbox_store.FRAUD_SETTLE_MAX`` (60 s).  A verdict that lands later (a
worker behind under load, a peer found sharing the player's card, a manager's
confirm or dismiss) changes the status of something already announced.

``announce`` brings the postbacks of the given events up to date, one (event,
template) pair at a time, in the caller's transaction.  A pair's current row is
the one keyed ``{event}:{template}`` (the key ``outbound.enqueue`` gives it):

- not yet sent (pending, never attempted, not leased): it is rendered again
  with today's status and payout (deleted and queued anew);
- already sent, or being sent: it is kept under the key
  ``{event}:{template}:was:{row id}`` and the pair is rendered anew as a
  follow-up — kept only when it says something else (its URL or body differ:
  the ``{status}`` word, the payout); otherwise the sent row stays current.
  A kept follow-up is not due before the row it follows.

So every change of what the tracker would be told is announced exactly once,
whoever makes it; the follow-up carries the same ``txn_id`` (trackers update a
conversion's status by it) and, as a webhook, a new ``webhook-id``.  Two
transactions announcing the same pair at once cannot both archive its row
(the rename is guarded by the current key), so the loser queues nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from clickledger.clock import utc
from clickledger.outbound.enqueue import enqueue_for_events
from clickledger.store import tables as t

CHUNK = 400
ARCHIVED = ":was:"  # infix of a superseded row's dedupe key


@dataclass(frozen=True, slots=True)
class Announced:
    """What one ``announce`` call queued."""

    rerendered: int = 0  # unsent rows rendered again
    follow_ups: int = 0  # rows already sent, followed by one saying the new status

    @property
    def total(self) -> int:
        return self.rerendered + self.follow_ups


def announce(
    conn: sa.Connection, event_ids: Iterable[str], now: datetime, *, secret_key: str | None = None
) -> Announced:
    """Bring the outbound postbacks of ``event_ids`` up to date (see the module doc)."""
    ids = sorted(set(event_ids))
    keys = _pair_keys(conn, ids)
    if not keys:
        return Announced()
    current = _rows(conn, sorted(keys))
    unsent = [row for row in current if _unsent(row)]
    deleted = _delete_unsent(conn, [str(row.id) for row in unsent])
    archived = _archive(conn, [row for row in current if str(row.id) not in deleted])
    before = {row.dedupe_key: row for row in current if str(row.id) in archived}
    events = sorted({keys[row.dedupe_key] for row in current})
    enqueue_for_events(conn, events, now, secret_key=secret_key)
    kept = _settle(conn, before, now)
    rerendered = sum(1 for row in unsent if str(row.id) in deleted)
    return Announced(rerendered=rerendered, follow_ups=kept)


def events_of_players(conn: sa.Connection, player_ids: Iterable[str]) -> list[str]:
    """Every event of the given players (whose postbacks a change of theirs may concern)."""
    e = t.player_events
    players = sorted(set(player_ids))
    found: list[str] = []
    for start in range(0, len(players), CHUNK):
        found += [
            str(v)
            for v in conn.execute(
                sa.select(e.c.id).where(e.c.player_id.in_(players[start : start + CHUNK]))
            ).scalars()
        ]
    return found


def _pair_keys(conn: sa.Connection, event_ids: Sequence[str]) -> dict[str, str]:
    """``{event}:{template}`` → event, for every active template of each event's affiliate."""
    e, p, pt = t.player_events, t.players, t.postback_templates
    affiliate_of: dict[str, str] = {}
    for start in range(0, len(event_ids), CHUNK):
        chunk = list(event_ids[start : start + CHUNK])
        for event_id, affiliate_id in conn.execute(
            sa.select(e.c.id, p.c.affiliate_id)
            .join(p, p.c.id == e.c.player_id)
            .where(e.c.id.in_(chunk), p.c.affiliate_id.is_not(None))
        ):
            affiliate_of[str(event_id)] = str(affiliate_id)
    templates: dict[str, list[str]] = {}
    affiliates = sorted(set(affiliate_of.values()))
    for start in range(0, len(affiliates), CHUNK):
        for template_id, affiliate_id in conn.execute(
            sa.select(pt.c.id, pt.c.affiliate_id).where(
                pt.c.affiliate_id.in_(affiliates[start : start + CHUNK]), pt.c.status == "active"
            )
        ):
            templates.setdefault(str(affiliate_id), []).append(str(template_id))
    return {
        f"{event}:{template}": event
        for event, affiliate in affiliate_of.items()
        for template in templates.get(affiliate, ())
    }


def _rows(conn: sa.Connection, keys: Sequence[str]) -> list[Any]:
    o = t.outbox
    found: list[Any] = []
    for start in range(0, len(keys), CHUNK):
        found += conn.execute(
            sa.select(
                o.c.id,
                o.c.dedupe_key,
                o.c.url,
                o.c.body,
                o.c.status,
                o.c.attempts,
                o.c.claimed_by,
                o.c.next_attempt_at,
            ).where(o.c.dedupe_key.in_(list(keys[start : start + CHUNK])))
        ).all()
    return found


def _unsent(row: Any) -> bool:
    return bool(row.status == "pending" and row.attempts == 0 and row.claimed_by is None)


def _unsent_clause() -> sa.ColumnElement[bool]:
    o = t.outbox
    return sa.and_(o.c.status == "pending", o.c.attempts == 0, o.c.claimed_by.is_(None))


def _delete_unsent(conn: sa.Connection, ids: list[str]) -> set[str]:
    """Delete the rows still unsent (a dispatcher may have leased one meanwhile)."""
    o = t.outbox
    deleted: set[str] = set()
    for start in range(0, len(ids), CHUNK):
        deleted.update(
            str(v)
            for v in conn.execute(
                o.delete()
                .where(o.c.id.in_(ids[start : start + CHUNK]), _unsent_clause())
                .returning(o.c.id)
            ).scalars()
        )
    return deleted


def _archive(conn: sa.Connection, rows: list[Any]) -> set[str]:
    """Move sent rows off their pair's key (only rows still holding it); returns their ids."""
    o = t.outbox
    archived: set[str] = set()
    for row in rows:
        result = conn.execute(
            o.update()
            .where(o.c.id == row.id, o.c.dedupe_key == row.dedupe_key)
            .values(dedupe_key=f"{row.dedupe_key}{ARCHIVED}{row.id}")
        )
        if result.rowcount:
            archived.add(str(row.id))
    return archived


def _settle(conn: sa.Connection, before: dict[str, Any], now: datetime) -> int:
    """Keep each follow-up that says something new (due no earlier than the row it follows);
    otherwise drop it and give the sent row its key back.  Returns the follow-ups kept."""
    if not before:
        return 0
    o = t.outbox
    fresh = {row.dedupe_key: row for row in _rows(conn, sorted(before))}
    kept = 0
    for key, old in before.items():
        new = fresh.get(key)
        if new is not None and (new.url, new.body) != (old.url, old.body):
            if old.status == "pending" and utc(old.next_attempt_at) > now:
                conn.execute(
                    o.update().where(o.c.id == new.id).values(next_attempt_at=old.next_attempt_at)
                )
            kept += 1
            continue
        if new is not None:
            conn.execute(o.delete().where(o.c.id == new.id))
        conn.execute(o.update().where(o.c.id == old.id).values(dedupe_key=key))
    return kept
