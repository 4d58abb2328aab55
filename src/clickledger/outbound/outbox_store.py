"""The outbox in the database: claim due rows under a lease, record attempts, release.

Claiming is one statement on both databases::

    WITH due AS MATERIALIZED (SELECT id FROM outbox WHERE <due and unleased>
                              ORDER BY next_attempt_at LIMIT :n FOR UPDATE SKIP LOCKED)
    UPDATE outbox SET claimed_by = :me, claimed_until = :lease_end
    WHERE id IN (SELECT id FROM due) AND <due and unleased> RETURNING …

On PostgreSQL ``SKIP LOCKED`` lets several dispatchers claim disjoint rows
without waiting; on SQLite (which renders no ``FOR UPDATE``) the statement runs
under the database's single write lock, so the claim is atomic too.  A claimed
row belongs to its dispatcher until ``claimed_until``; a dispatcher that
crashes simply lets the lease run out and the row becomes due again.  Hence
delivery is at least once: receivers deduplicate on ``webhook-id`` (webhooks)
or ``txn_id`` (URL postbacks).  Results are written only while the lease is
still held (``WHERE claimed_by = :me``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from clickledger.domain.delivery import Outcome
from clickledger.ids import new_id
from clickledger.store import tables as t

MAX_ERROR_CHARS = 1000
FRAUD_SETTLE_MAX = timedelta(seconds=60)  # longest an outbound postback waits for fraud
MAX_EXCERPT_CHARS = 1000


@dataclass(frozen=True, slots=True)
class Claimed:
    """One delivery this dispatcher holds the lease on."""

    id: str
    template_id: str
    method: str
    url: str
    body: str | None
    attempts: int
    resend_count: int
    webhook_secret: str | None


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    """What one attempt did and what happens next."""

    outbox_id: str
    template_id: str
    attempt: int
    cycle: int
    at: datetime
    outcome: Outcome
    next_attempt_at: datetime | None
    status_code: int | None
    error: str | None
    excerpt: str | None
    duration_ms: int


@dataclass(frozen=True, slots=True)
class Deferral:
    """A claimed row not sent (host throttled, or dispatcher stopping): due again at ``due_at``."""

    outbox_id: str
    due_at: datetime


def _due(now: datetime) -> sa.ColumnElement[bool]:
    o, q = t.outbox, t.fraud_queue
    # An event still waiting for its fraud assessment is not announced yet (the fraud worker
    # renders the postbacks of held players again), for at most FRAUD_SETTLE_MAX.
    assessing = sa.exists().where(q.c.event_id == o.c.event_id,
                                  q.c.enqueued_at > now - FRAUD_SETTLE_MAX)
    return sa.and_(
        o.c.status == "pending",
        o.c.next_attempt_at <= now,
        sa.or_(o.c.claimed_until.is_(None), o.c.claimed_until <= now),
        ~assessing,
    )


def claim_due(
    conn: sa.Connection, worker_id: str, now: datetime, lease_until: datetime, limit: int
) -> list[Claimed]:
    """Lease up to ``limit`` due rows to ``worker_id`` (oldest due first)."""
    o, pt = t.outbox, t.postback_templates
    # A materialized CTE: PostgreSQL may re-run an IN (… LIMIT n) subquery and so claim
    # more than n rows; a CTE is evaluated once.
    due = (
        sa.select(o.c.id).where(_due(now)).order_by(o.c.next_attempt_at).limit(limit)
        .with_for_update(skip_locked=True).cte("due")
    )
    postgres = conn.dialect.name == "postgresql"
    if postgres:
        due = due.prefix_with("MATERIALIZED")
    claimable: sa.ColumnElement[bool] = o.c.id.in_(sa.select(due.c.id))
    if postgres:
        claimable = sa.and_(claimable, _due(now))  # re-checked after the row lock
    # On SQLite the statement runs under the single write lock, so the rows ``due`` found
    # are still due; re-checking there would make SQLite walk the whole due index for
    # every claim (the planner prefers it to the primary key), O(backlog) per claim.
    rows = conn.execute(
        sa.update(o)
        .where(claimable)
        .values(claimed_by=worker_id, claimed_until=lease_until)
        .returning(o.c.id, o.c.template_id, o.c.method, o.c.url, o.c.body, o.c.attempts,
                   o.c.resend_count)
    ).all()
    if not rows:
        return []
    secrets = {
        template_id: secret for template_id, secret in conn.execute(
            sa.select(pt.c.id, pt.c.webhook_secret)
            .where(pt.c.id.in_({row.template_id for row in rows}), pt.c.kind == "webhook"))
    }
    return [
        Claimed(id=row.id, template_id=row.template_id, method=row.method, url=row.url,
                body=row.body, attempts=row.attempts, resend_count=row.resend_count,
                webhook_secret=secrets.get(row.template_id))
        for row in rows
    ]


def _clip(text: str | None, limit: int) -> str | None:
    return None if text is None else text[:limit]


def record_attempts(conn: sa.Connection, worker_id: str, records: Sequence[AttemptRecord],
                    now: datetime) -> None:
    """Write attempts and new states in one transaction; disable templates that answered 410."""
    if not records:
        return
    o = t.outbox
    conn.execute(t.outbox_attempts.insert(), [
        {"id": new_id(), "outbox_id": r.outbox_id, "attempt": r.attempt, "cycle": r.cycle,
         "at": r.at, "status_code": r.status_code,
         "response_excerpt": _clip(r.excerpt, MAX_EXCERPT_CHARS),
         "error": _clip(r.error, MAX_ERROR_CHARS), "duration_ms": r.duration_ms}
        for r in records
    ])
    update = (
        sa.update(o)
        .where(o.c.id == sa.bindparam("b_id"), o.c.claimed_by == worker_id)
        .values(status=sa.bindparam("b_status"), attempts=sa.bindparam("b_attempts"),
                next_attempt_at=sa.bindparam("b_next"),
                last_status_code=sa.bindparam("b_code"), last_error=sa.bindparam("b_error"),
                claimed_by=None, claimed_until=None, updated_at=now)
    )
    conn.execute(update, [
        {"b_id": r.outbox_id, "b_status": "pending" if r.outcome is Outcome.RETRY
         else r.outcome.value, "b_attempts": r.attempt,
         "b_next": r.next_attempt_at or r.at, "b_code": r.status_code,
         "b_error": _clip(r.error, MAX_ERROR_CHARS)}
        for r in records
    ])
    gone = {r.template_id: r.at for r in records if r.outcome is Outcome.DISABLE}
    for template_id, at in gone.items():
        disable_template(conn, template_id, f"target answered 410 Gone at {at.isoformat()}", now)


def defer(conn: sa.Connection, worker_id: str, deferrals: Sequence[Deferral],
          now: datetime) -> None:
    """Give rows back unsent, due again at each deferral's time; no attempt is counted."""
    if not deferrals:
        return
    o = t.outbox
    conn.execute(
        sa.update(o)
        .where(o.c.id == sa.bindparam("b_id"), o.c.claimed_by == worker_id)
        .values(next_attempt_at=sa.bindparam("b_due"), claimed_by=None, claimed_until=None,
                updated_at=now),
        [{"b_id": d.outbox_id, "b_due": d.due_at} for d in deferrals],
    )


def disable_template(conn: sa.Connection, template_id: str, reason: str, now: datetime) -> int:
    """Disable a template and every pending delivery it still has; returns rows disabled."""
    pt, o = t.postback_templates, t.outbox
    conn.execute(
        sa.update(pt).where(pt.c.id == template_id, pt.c.status == "active")
        .values(status="disabled", disabled_reason=reason[:200], updated_at=now)
    )
    result = conn.execute(
        sa.update(o).where(o.c.template_id == template_id, o.c.status == "pending")
        .values(status="disabled", last_error=reason[:MAX_ERROR_CHARS], claimed_by=None,
                claimed_until=None, updated_at=now)
    )
    return int(result.rowcount or 0)


def counts_by_status(conn: sa.Connection) -> dict[str, int]:
    """How many outbox rows are in each status (for the worker's summary line)."""
    o = t.outbox
    rows = conn.execute(sa.select(o.c.status, sa.func.count()).group_by(o.c.status))
    return {status: int(count) for status, count in rows}
