"""``/api/v1/affiliates/{id}/payment-details``: the affiliate proposes, a manager confirms.

An affiliate edits only its own details (anyone else's answers 404); the
change waits in ``pending`` until a manager confirms that submission.
Finance and managers read both; payout runs use only the confirmed ones.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import StringConstraints

from clickledger.domain.roles import Principal, Role
from clickledger.http.api.deps import ConnDep, ManagerDep, PrincipalDep, RuntimeDep
from clickledger.http.api.errors import not_found
from clickledger.http.api.schemas.common import IdText, StrictInput
from clickledger.services import payment_details
from clickledger.services.programme import actor_label

Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]


class PaymentDetailsIn(StrictInput):
    """One method's fields: bank (account_holder, iban, bic), ewallet (provider,
    account_id) or crypto (network, address)."""

    method: Text
    account_holder: Text | None = None
    iban: Text | None = None
    bic: Text | None = None
    provider: Text | None = None
    account_id: Text | None = None
    network: Text | None = None
    address: Text | None = None


class DecisionIn(StrictInput):
    submission_id: IdText
    reason: Annotated[str, StringConstraints(max_length=500)] = ""


router = APIRouter(prefix="/api/v1/affiliates/{affiliate_id}/payment-details",
                   tags=["payment details"])


def _may_read(principal: Principal, affiliate_id: str) -> None:
    if principal.role in (Role.MANAGER, Role.FINANCE):
        return
    if principal.role is Role.AFFILIATE and principal.affiliate_id == affiliate_id:
        return
    raise not_found("affiliate")


@router.get("")
def read_details(principal: PrincipalDep, affiliate_id: str, conn: ConnDep) -> dict[str, Any]:
    _may_read(principal, affiliate_id)
    return payment_details.view(conn, affiliate_id)


@router.put("")
def submit_details(principal: PrincipalDep, affiliate_id: str, body: PaymentDetailsIn,
                   conn: ConnDep, runtime: RuntimeDep) -> dict[str, Any]:
    if principal.role is not Role.AFFILIATE or principal.affiliate_id != affiliate_id:
        raise not_found("affiliate")
    return payment_details.submit(conn, affiliate_id, body.model_dump(exclude_none=True),
                                  actor=actor_label(principal), now=runtime.clock.now())


@router.post("/confirm")
def confirm_details(principal: ManagerDep, affiliate_id: str, body: DecisionIn, conn: ConnDep,
                    runtime: RuntimeDep) -> dict[str, Any]:
    return payment_details.confirm(conn, affiliate_id, body.submission_id,
                                   actor=actor_label(principal), now=runtime.clock.now())


@router.post("/reject")
def reject_details(principal: ManagerDep, affiliate_id: str, body: DecisionIn, conn: ConnDep,
                   runtime: RuntimeDep) -> dict[str, Any]:
    return payment_details.reject(conn, affiliate_id, body.submission_id, reason=body.reason,
                                  actor=actor_label(principal), now=runtime.clock.now())
