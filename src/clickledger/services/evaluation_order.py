"""The order live evaluation happened in, recorded so ``ledger rebuild`` replays it exactly.

What the commission engine pays for an event can depend on what it paid before
(caps, tiers, qualification counts), so a replay must take the same steps in the
same order.  That order is the order transactions evaluated in, which neither
``received_at`` nor the event ids give: a group commit can split requests across
batches, and on PostgreSQL several server processes evaluate at once.  So every
step that changes what is paid — a batch of arriving events, a manager's remap,
a conversion rejection, a period close, a fraud hold, release or rejection — writes
one ``evaluation_steps`` row in its own transaction, numbered (``seq``) under the lock
that serialises evaluation:

* SQLite has one writer at a time.  A step numbers itself after its
  transaction's first write (events and players are written before evaluation;
  a remap updates the player first; a rejection, a fraud action and a close
  write the step first), so ``seq`` follows the order the transactions evaluated and committed.
* PostgreSQL: an event batch takes the evaluation lock *shared*, then one lock per
  affiliate its players are bound to (affiliates hashed into
  ``AFFILIATE_LOCK_SLOTS`` slots, taken in slot order in one statement: at most
  that many locks per transaction, and two batches never deadlock on them); a
  remap, a rejection, a fraud action and a period close take the evaluation lock
  *exclusively*.
  Locks are held until commit and ``seq`` is drawn after them, so two steps that
  touch one affiliate are numbered in the order they evaluated, and steps with
  no affiliate in common evaluate independently (their relative order does not
  change what either pays).  The batch's locks are taken after its players and
  events are written and before evaluation: what a step writes after them
  (ledger, conversions, periods, rollups, queues) no step writes before them, so
  waiting for them cannot close a cycle.

Cost: one statement per event batch on SQLite, two on PostgreSQL; the row holds
the batch's event ids (about 40 bytes an event).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from clickledger.store import tables as t
from clickledger.store.batch_reads import driver_execute

EVENTS, REMAP, REJECT, CLOSE = "events", "remap", "reject", "close"
# fraud actions: a hold, a release (dismissal), a rejection's start (before its conversion
# rejections, each a REJECT step) and its reversal of the player's other lines (IB rebates)
# (``kind`` is at most 10 characters)
HOLD, RELEASE, FRAUD_REJECT, REVERSE_LINES = "hold", "release", "fraud_rej", "rev_lines"
FRAUD_KINDS = (HOLD, RELEASE, FRAUD_REJECT, REVERSE_LINES)
AFFILIATE_LOCK_SLOTS = 1024  # at most this many affiliate locks per transaction (a power of 2)
EVALUATION_LOCK = (74_001_122, 0)  # (class, key): shared by batches, exclusive otherwise
AFFILIATE_LOCK_CLASS = 74_001_123  # (class, slot) per affiliate slot

# the players' affiliates, read after the shared lock, locked in slot order (fixed text)
_LOCK_SLOTS = (
    f"SELECT count(pg_advisory_xact_lock({AFFILIATE_LOCK_CLASS}, s.slot)) AS locked"  # noqa: S608
    f" FROM (SELECT DISTINCT hashtext(CAST(affiliate_id AS text)) & {AFFILIATE_LOCK_SLOTS - 1}"
    " AS slot FROM players WHERE id = ANY(CAST(%s AS uuid[])) AND affiliate_id IS NOT NULL"
    " ORDER BY slot) s")
_PG_EXCLUSIVE = f"SELECT pg_advisory_xact_lock({EVALUATION_LOCK[0]}, {EVALUATION_LOCK[1]})"
_PG_SHARED = f"SELECT pg_advisory_xact_lock_shared({EVALUATION_LOCK[0]}, {EVALUATION_LOCK[1]})"
_PG_LOCK_AND_INSERT = (  # the slots' locks, then the step numbered after them
    f"WITH locked AS MATERIALIZED ({_LOCK_SLOTS})"  # noqa: S608 - fixed text
    " INSERT INTO evaluation_steps (kind, at, detail)"
    " SELECT %s, %s, CAST(%s AS json) FROM locked RETURNING seq")
_PG_INSERT = ("INSERT INTO evaluation_steps (kind, at, detail)"
              " VALUES (%s, %s, CAST(%s AS json)) RETURNING seq")
_SQLITE_INSERT = "INSERT INTO evaluation_steps (kind, at, detail) VALUES (?, ?, ?) RETURNING seq"
_AT = t.evaluation_steps.c.at.type


def _postgres(conn: sa.Connection) -> bool:
    return conn.dialect.name == "postgresql"


def lock_exclusive(conn: sa.Connection) -> None:
    """Wait until no other transaction evaluates, and keep it so until commit (PostgreSQL;
    SQLite's single writer already is)."""
    if _postgres(conn):
        driver_execute(conn, _PG_EXCLUSIVE, ())


def lock_players(conn: sa.Connection, player_ids: Collection[str]) -> None:
    """Lock what evaluating these players' events depends on (PostgreSQL; SQLite: nothing)."""
    if _postgres(conn):
        driver_execute(conn, _PG_SHARED, ())
        driver_execute(conn, _LOCK_SLOTS, (sorted(player_ids),))


_PG_SHARE_PLAYERS = (  # row locks in id order: waits for a registration being committed
    "SELECT count(*) FROM (SELECT id FROM players WHERE id = ANY(CAST(%s AS uuid[]))"
    " ORDER BY id FOR SHARE) s")


def wait_for_registrations(conn: sa.Connection, pending_player_ids: Sequence[str]) -> None:
    """Share-lock players this batch saw unregistered (PostgreSQL; SQLite's single writer
    already serialises): if another process is registering one, wait for its commit, so this
    batch evaluates their events as bound; if this batch locks first, the registration waits
    and then finds these events among the player's earlier ones.  Without it, a chargeback
    or deposit stored at the moment of its player's registration is evaluated by neither."""
    if pending_player_ids and _postgres(conn):
        driver_execute(conn, _PG_SHARE_PLAYERS, (list(pending_player_ids),))


def record_events(conn: sa.Connection, now: datetime, *, arrived: Sequence[str],
                  also: Sequence[str] = (), bound: Iterable[str] = (),
                  lock_for: Collection[str] | None = None) -> int:
    """Number a batch's evaluation: the events stored by it (``arrived``), earlier ones
    evaluated with them (``also``) and the players a registration bound (``bound``).

    ``lock_for``: the batch's player ids, to lock first (PostgreSQL) — leave it out when
    ``lock_players`` already locked them in this transaction.  Call it right before
    ``evaluate_events``, after the batch's players and events are written.
    """
    detail: dict[str, Any] = {"arrived": list(arrived)}
    if also:
        detail["also"] = list(also)
    bound_ids = sorted(bound)
    if bound_ids:
        detail["bound"] = bound_ids
    if lock_for is not None and _postgres(conn):
        driver_execute(conn, _PG_SHARED, ())
        cursor = driver_execute(conn, _PG_LOCK_AND_INSERT,
                                (sorted(lock_for), EVENTS, now, json.dumps(detail)))
        return int(cursor.fetchall()[0][0])
    return _insert(conn, EVENTS, now, detail)


def record_remap(conn: sa.Connection, now: datetime, *, player_id: str, before: str | None,
                 after: str | None, audit_id: str) -> int:
    """Number a manager's remap (after the player row is updated, before re-evaluation)."""
    lock_exclusive(conn)
    return _insert(conn, REMAP, now, {"player_id": player_id, "before": before, "after": after,
                                      "audit_id": audit_id})


def record_reject(conn: sa.Connection, now: datetime, *, player_id: str, kind: str,
                  reason: str) -> int:
    """Number a conversion's rejection (fraud or manager), before anything is reversed."""
    lock_exclusive(conn)
    return _insert(conn, REJECT, now, {"player_id": player_id, "kind": kind, "reason": reason})


def record_fraud(conn: sa.Connection, now: datetime, kind: str, *, player_id: str,
                 reason: str = "") -> int:
    """Number a fraud action on a player's commission (one of ``FRAUD_KINDS``), before it
    reads what it holds, releases or reverses."""
    if kind not in FRAUD_KINDS:
        raise ValueError(f"not a fraud step: {kind!r}")
    lock_exclusive(conn)
    return _insert(conn, kind, now, {"player_id": player_id, "reason": reason})


def record_close(conn: sa.Connection, now: datetime, period_start: datetime) -> int:
    """Number a period close, before it reads what it counts."""
    lock_exclusive(conn)
    return _insert(conn, CLOSE, now, {"period_start": period_start.isoformat()})


def _insert(conn: sa.Connection, kind: str, now: datetime, detail: dict[str, Any]) -> int:
    """The step's row, below the Core compiler (one per batch: keep it cheap)."""
    if _postgres(conn):
        cursor = driver_execute(conn, _PG_INSERT, (kind, now, json.dumps(detail)))
    else:
        process = _AT.dialect_impl(conn.dialect).bind_processor(conn.dialect)
        at = process(now) if process is not None else now
        cursor = driver_execute(conn, _SQLITE_INSERT, (kind, at, json.dumps(detail)))
    return int(cursor.fetchall()[0][0])
