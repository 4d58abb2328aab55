"""The review queue: managers confirm or dismiss assessments; affiliates see why they were held.

- confirm: the player is rejected — conversions rejected, commission reversed
  with a reference to each original line — and the assessment is final;
- dismiss: every hold is released to its prior status; later signals of the
  same checks at the same strength do not reopen it;
- either way the affiliate's tracker is told the new status once, on the
  postbacks already sent (``fraud_postbacks``);
- an affiliate sees only assessments that held or rejected money of its own
  tree (flags are internal), and anything else answers not found.
Both decisions are audited.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from clickledger.domain.fraud.scoring import Action
from clickledger.domain.roles import Principal, Role
from clickledger.services import audit, fraud_postbacks
from clickledger.services import fraud_actions as actions
from clickledger.services.errors import conflict, missing
from clickledger.services.fraud import summary
from clickledger.store import fraud as repo
from clickledger.store import tables as t
from clickledger.store.paging import Page, fetch_page, is_uuid

QUEUE_ACTIONS = (Action.FLAG.value, Action.HOLD.value, Action.REJECT.value)
AFFILIATE_ACTIONS = (Action.HOLD.value, Action.REJECT.value)
STATUSES = ("open", "confirmed", "dismissed", "superseded")


def _visible(principal: Principal, row: dict[str, Any]) -> bool:
    if principal.role in (Role.MANAGER, Role.FINANCE):
        return True
    if principal.role is not Role.AFFILIATE:
        return False
    return (row["action"] in AFFILIATE_ACTIONS and row["status"] != "superseded"
            and principal.can_see_affiliate(str(row["affiliate_id"])))


def list_assessments(conn: sa.Connection, principal: Principal, *, status: str | None,
                     action: str | None, affiliate_id: str | None, player_id: str | None,
                     limit: int, cursor: str | None) -> Page:
    """A page of assessments the caller may see; managers' default is the open queue."""
    a = t.fraud_assessments
    where: list[sa.ColumnElement[bool]] = []
    if principal.role is Role.AFFILIATE:
        visible = sorted(principal.visible_affiliate_ids or ())
        where += [a.c.affiliate_id.in_(visible), a.c.action.in_(AFFILIATE_ACTIONS),
                  a.c.status != "superseded"]
    elif status is None and action is None:
        where += [a.c.status == "open", a.c.action.in_(QUEUE_ACTIONS)]
    if status is not None:
        where.append(a.c.status == status)
    if action is not None:
        where.append(a.c.action == action)
    if affiliate_id is not None:
        where.append(a.c.affiliate_id == affiliate_id)
    if player_id is not None:
        where.append(a.c.player_id == player_id)
    return fetch_page(conn, a, where=where, limit=limit, cursor=cursor)


def get_assessment(conn: sa.Connection, principal: Principal, assessment_id: str) -> dict[str, Any]:
    """The assessment if the caller may see it; otherwise not found, as if absent."""
    row = repo.get_assessment(conn, assessment_id) if is_uuid(assessment_id) else None
    if row is None or not _visible(principal, row):
        raise missing("assessment")
    return row


def for_conversion(conn: sa.Connection, principal: Principal,
                   conversion_id: str) -> dict[str, Any]:
    """Why a conversion was held or rejected: the conversion and its player's latest
    assessment the caller may see."""
    c = t.conversions
    conversion = None
    if is_uuid(conversion_id):
        found = conn.execute(sa.select(c).where(c.c.id == conversion_id)).mappings().first()
        conversion = dict(found) if found else None
    if conversion is None or not principal.can_see_affiliate(str(conversion["affiliate_id"])):
        raise missing("conversion")
    a = t.fraud_assessments
    rows = [dict(r) for r in conn.execute(
        sa.select(a).where(a.c.player_id == conversion["player_id"]).order_by(a.c.id.desc())
    ).mappings()]
    assessment = next((r for r in rows if _visible(principal, r)), None)
    if assessment is None:
        raise missing("assessment")
    return {"conversion_id": str(conversion["id"]), "conversion_status": conversion["status"],
            "conversion_reason": conversion["reason"], "assessment": assessment}


def _open(conn: sa.Connection, assessment_id: str) -> dict[str, Any]:
    row = repo.get_assessment(conn, assessment_id) if is_uuid(assessment_id) else None
    if row is None:
        raise missing("assessment")
    if row["status"] != "open":
        raise conflict(f"the assessment is {row['status']}, not open",
                       {"status": row["status"]})
    if row["player_id"] is None:
        raise conflict("the assessment names no player")
    return row


def _decide(conn: sa.Connection, row: dict[str, Any], status: str, held: dict[str, Any],
            actor: str, note: str | None, now: datetime) -> dict[str, Any]:
    a = t.fraud_assessments
    claimed = conn.execute(a.update().where(a.c.id == row["id"], a.c.status == "open").values(
        status=status, held=held, reviewed_by=actor[:200], reviewed_at=now,
        review_note=(note or None) and note[:1000], updated_at=now))
    if not claimed.rowcount:
        raise conflict("the assessment was decided concurrently")
    audit.record(conn, actor=actor, action=f"fraud.{status}", entity="fraud_assessment",
                 entity_id=str(row["id"]), now=now,
                 before={"status": "open", "action": row["action"], "score": row["score"]},
                 after={"status": status, "note": note, "reversals": held.get("reversals"),
                        "released_entries": len(held.get("entries") or {})})
    updated = repo.get_assessment(conn, str(row["id"]))
    assert updated is not None
    return updated


def confirm(conn: sa.Connection, assessment_id: str, *, actor: str, note: str | None,
            now: datetime) -> dict[str, Any]:
    """Confirm fraud: reject the player's conversions and reverse its commission."""
    row = _open(conn, assessment_id)
    held = actions.copy_held(row["held"])
    reason = f"confirmed by review: {summary(row['reasons'])}"
    actions.reject(conn, str(row["player_id"]), reason, now, held)
    decided = _decide(conn, row, "confirmed", held, actor, note, now)
    _announce(conn, str(row["player_id"]), now)
    return decided


def dismiss(conn: sa.Connection, assessment_id: str, *, actor: str, note: str | None,
            now: datetime) -> dict[str, Any]:
    """Not fraud: release every hold to its prior status."""
    row = _open(conn, assessment_id)
    held = actions.copy_held(row["held"])
    actions.release(conn, held, now, player_id=str(row["player_id"]))
    decided = _decide(conn, row, "dismissed", held, actor, note, now)
    _announce(conn, str(row["player_id"]), now)
    return decided


def _announce(conn: sa.Connection, player_id: str, now: datetime) -> None:
    """Tell the affiliate's tracker the player's conversions changed (rejected, or released
    from the hold), once, on the postbacks that already went out."""
    fraud_postbacks.announce(conn, fraud_postbacks.events_of_players(conn, [player_id]), now)
