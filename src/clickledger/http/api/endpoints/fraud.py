"""``/api/v1/fraud``: the managers' review queue and the affiliate's "why was I held".

Managers list open assessments with their evidence, confirm (reject and
reverse) or dismiss (release the hold).  Affiliates see assessments that held
or rejected their own tree's conversions; everything else answers 404.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, StringConstraints

from clickledger.domain.roles import Principal, Role
from clickledger.http.api.deps import ConnDep, ManagerDep, ReaderDep, RuntimeDep
from clickledger.http.api.paging import PageDep
from clickledger.http.api.schemas.common import IdText, PageOut, ReadModel, StrictInput, UtcTime
from clickledger.services import fraud_review
from clickledger.services.programme import actor_label

router = APIRouter(prefix="/api/v1/fraud", tags=["fraud"])

Status = Literal["open", "confirmed", "dismissed", "superseded"]
ActionName = Literal["allow", "flag", "hold", "reject"]


class Reason(BaseModel):
    family: str
    check: str
    points: int
    reason: str
    evidence: dict[str, Any]


class AssessmentRead(ReadModel):
    """One assessment: the score, the action it led to and each reason with its numbers."""

    id: str
    player_id: str | None
    affiliate_id: str | None
    event_id: str | None
    click_id: str | None
    score: int
    action: ActionName
    status: Status
    reasons: list[Reason]
    reviewed_at: UtcTime | None
    created_at: UtcTime
    updated_at: UtcTime


class StaffAssessmentRead(AssessmentRead):
    """What staff see in addition: who decided, their note, and what was held or reversed."""

    reviewed_by: str | None
    review_note: str | None
    held: dict[str, Any] | None


class ConversionFraudRead(BaseModel):
    conversion_id: str
    conversion_status: str
    conversion_reason: str | None
    assessment: AssessmentRead


class Decision(StrictInput):
    note: Annotated[str, StringConstraints(max_length=1000)] | None = None


def _out(principal: Principal, row: dict[str, Any]) -> AssessmentRead:
    data = {k: (str(v) if k.endswith("_id") and v is not None else v) for k, v in row.items()}
    data["id"] = str(row["id"])
    if principal.role is Role.AFFILIATE:
        return AssessmentRead.model_validate(data)
    return StaffAssessmentRead.model_validate(data)


@router.get("/assessments", response_model=PageOut[StaffAssessmentRead | AssessmentRead])
def list_assessments(
    principal: ReaderDep, page: PageDep, conn: ConnDep,
    status: Status | None = None, action: ActionName | None = None,
    affiliate_id: IdText | None = None, player_id: IdText | None = None,
) -> PageOut[StaffAssessmentRead | AssessmentRead]:
    """Managers: the open queue by default (flag, hold, reject), newest last; filter freely.
    Affiliates: the holds and rejections of their own tree."""
    found = fraud_review.list_assessments(
        conn, principal, status=status, action=action, affiliate_id=affiliate_id,
        player_id=player_id, limit=page.limit, cursor=page.cursor)
    return PageOut[StaffAssessmentRead | AssessmentRead](
        items=[_out(principal, row) for row in found.rows], next_cursor=found.next_cursor)


@router.get("/assessments/{assessment_id}",
            response_model=StaffAssessmentRead | AssessmentRead)
def get_assessment(principal: ReaderDep, assessment_id: str,
                   conn: ConnDep) -> AssessmentRead:
    return _out(principal, fraud_review.get_assessment(conn, principal, assessment_id))


@router.post("/assessments/{assessment_id}/confirm", response_model=StaffAssessmentRead)
def confirm(principal: ManagerDep, assessment_id: str, conn: ConnDep, runtime: RuntimeDep,
            body: Decision | None = None) -> AssessmentRead:
    """Fraud confirmed: the conversions are rejected and every commission line is reversed
    by a new entry that references it."""
    row = fraud_review.confirm(conn, assessment_id, actor=actor_label(principal),
                               note=body.note if body else None, now=runtime.clock.now())
    return _out(principal, row)


@router.post("/assessments/{assessment_id}/dismiss", response_model=StaffAssessmentRead)
def dismiss(principal: ManagerDep, assessment_id: str, conn: ConnDep, runtime: RuntimeDep,
            body: Decision | None = None) -> AssessmentRead:
    """Not fraud: every held line and conversion gets its prior status back."""
    row = fraud_review.dismiss(conn, assessment_id, actor=actor_label(principal),
                               note=body.note if body else None, now=runtime.clock.now())
    return _out(principal, row)


@router.get("/conversions/{conversion_id}", response_model=ConversionFraudRead)
def conversion_reason(principal: ReaderDep, conversion_id: str,
                      conn: ConnDep) -> ConversionFraudRead:
    """Why this conversion was held or rejected (404 when it was not, or is not yours)."""
    found = fraud_review.for_conversion(conn, principal, conversion_id)
    return ConversionFraudRead(
        conversion_id=found["conversion_id"], conversion_status=found["conversion_status"],
        conversion_reason=found["conversion_reason"],
        assessment=_out(principal, found["assessment"]))
