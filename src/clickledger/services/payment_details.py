"""Affiliate payment details: the affiliate proposes, a manager confirms, runs use the confirmed.

A change by the affiliate is validated (``domain.payment_methods``) and kept
in ``affiliates.pending_payment_details`` with a submission id; payout runs
keep using the confirmed ``payment_details`` until a manager confirms that
very submission (a newer one in between answers 409 ``pending_changed``).
Every submission, confirmation and rejection is in the audit log.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from clickledger.domain.payment_methods import PaymentDetailsError, validate_payment_details
from clickledger.ids import new_id
from clickledger.services import audit
from clickledger.services.errors import ServiceError, invalid, missing
from clickledger.store import tables as t
from clickledger.store.programme import get_row


def _affiliate(conn: sa.Connection, affiliate_id: str) -> dict[str, Any]:
    row = get_row(conn, t.affiliates, affiliate_id)
    if row is None:
        raise missing("affiliate")
    return row


def view(conn: sa.Connection, affiliate_id: str) -> dict[str, Any]:
    """The confirmed details and the pending submission, if any."""
    row = _affiliate(conn, affiliate_id)
    return {"affiliate_id": str(row["id"]), "method": row["payment_method"],
            "confirmed": row["payment_details"], "pending": row["pending_payment_details"]}


def submit(conn: sa.Connection, affiliate_id: str, details: Mapping[str, Any], *, actor: str,
           now: datetime) -> dict[str, Any]:
    """Validate and park new details for a manager; the confirmed ones stay in use."""
    row = _affiliate(conn, affiliate_id)
    try:
        normalized = validate_payment_details(details)
    except PaymentDetailsError as exc:
        raise invalid(exc.code, exc.message, {"field": exc.field}) from exc
    pending = {"submission_id": new_id(), "details": normalized,
               "submitted_by": actor, "submitted_at": now.isoformat()}
    conn.execute(t.affiliates.update().where(t.affiliates.c.id == row["id"])
                 .values(pending_payment_details=pending, updated_at=now))
    audit.record(conn, actor=actor, action="payment_details.submit", entity="affiliate",
                 entity_id=str(row["id"]), now=now, before=row["pending_payment_details"],
                 after=pending)
    return view(conn, affiliate_id)


def _pending(row: Mapping[str, Any], submission_id: str) -> dict[str, Any]:
    pending = row["pending_payment_details"]
    if not pending:
        raise ServiceError("conflict", "nothing_pending", "no payment details await confirmation")
    if pending.get("submission_id") != submission_id:
        raise ServiceError("conflict", "pending_changed",
                           "the affiliate submitted newer details; review them first",
                           {"submission_id": pending.get("submission_id")})
    return dict(pending)


def confirm(conn: sa.Connection, affiliate_id: str, submission_id: str, *, actor: str,
            now: datetime) -> dict[str, Any]:
    """A manager accepts the pending submission: the next payout run uses it."""
    row = _affiliate(conn, affiliate_id)
    details = _pending(row, submission_id)["details"]
    conn.execute(t.affiliates.update().where(t.affiliates.c.id == row["id"]).values(
        payment_method=details["method"], payment_details=details,
        pending_payment_details=None, updated_at=now))
    audit.record(conn, actor=actor, action="payment_details.confirm", entity="affiliate",
                 entity_id=str(row["id"]), now=now,
                 before={"method": row["payment_method"], "details": row["payment_details"]},
                 after={"method": details["method"], "details": details,
                        "submission_id": submission_id})
    return view(conn, affiliate_id)


def reject(conn: sa.Connection, affiliate_id: str, submission_id: str, *, reason: str,
           actor: str, now: datetime) -> dict[str, Any]:
    """A manager refuses the pending submission; the confirmed details stay."""
    row = _affiliate(conn, affiliate_id)
    pending = _pending(row, submission_id)
    conn.execute(t.affiliates.update().where(t.affiliates.c.id == row["id"])
                 .values(pending_payment_details=None, updated_at=now))
    audit.record(conn, actor=actor, action="payment_details.reject", entity="affiliate",
                 entity_id=str(row["id"]), now=now, before=pending,
                 after={"rejected": submission_id, "reason": reason[:500]})
    return view(conn, affiliate_id)
