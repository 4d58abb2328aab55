"""Configured fee and withholding lines that payout runs take off each payment.

A rule is ``percent`` of the converted gross plus ``fixed_minor`` (in its
``currency``), optionally only for one payment method or one affiliate.
Rules are never edited: a change is a new rule and the old one deactivated
(both audited), so a run's lines always trace back to a rule as it was.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa

from clickledger.domain.money import MoneyError, normalize_currency
from clickledger.domain.payment_methods import Method
from clickledger.domain.payouts import DeductionKind, DeductionRule, PayoutError
from clickledger.ids import new_id
from clickledger.services import audit
from clickledger.services.errors import invalid, missing
from clickledger.store import tables as t
from clickledger.store.programme import get_row

MAX_RULES = 1000


def _rule(name: str, kind: str, percent: str, fixed_minor: int, currency: str | None,
          method: str | None, affiliate_id: str | None) -> DeductionRule:
    try:
        return DeductionRule(
            name=name, kind=DeductionKind(kind), percent=Decimal(percent),
            fixed_minor=fixed_minor,
            currency=normalize_currency(currency) if currency else None,
            method=Method(method).value if method else None, affiliate_id=affiliate_id,
        )
    except (PayoutError, MoneyError, InvalidOperation, ValueError) as exc:
        raise invalid("invalid_deduction", str(exc)) from exc


def create(
    conn: sa.Connection, *, name: str, kind: str, percent: str = "0", fixed_minor: int = 0,
    currency: str | None = None, method: str | None = None, affiliate_id: str | None = None,
    actor: str, now: datetime,
) -> dict[str, Any]:
    rule = _rule(name, kind, percent, fixed_minor, currency, method, affiliate_id)
    if affiliate_id is not None and get_row(conn, t.affiliates, affiliate_id) is None:
        raise missing("affiliate")
    count = conn.execute(sa.select(sa.func.count()).select_from(t.payout_deductions)
                         .where(t.payout_deductions.c.active.is_(True))).scalar_one()
    if count >= MAX_RULES:
        raise invalid("too_many_deductions", f"at most {MAX_RULES} active deduction rules")
    rule_id = new_id()
    values: dict[str, Any] = {"id": rule_id, "name": rule.name, "kind": rule.kind.value,
              "percent": str(rule.percent), "fixed_minor": rule.fixed_minor,
              "currency": rule.currency, "method": rule.method, "affiliate_id": affiliate_id,
              "active": True, "created_by": actor, "created_at": now}
    conn.execute(t.payout_deductions.insert().values(**values))
    audit.record(conn, actor=actor, action="payout_deduction.create", entity="payout_deduction",
                 entity_id=rule_id, now=now, after=values)
    return values


def list_active(conn: sa.Connection) -> list[dict[str, Any]]:
    d = t.payout_deductions
    rows = conn.execute(sa.select(d).where(d.c.active.is_(True)).order_by(d.c.id).limit(MAX_RULES))
    return [dict(row) for row in rows.mappings()]


def deactivate(conn: sa.Connection, rule_id: str, *, actor: str, now: datetime) -> dict[str, Any]:
    row = get_row(conn, t.payout_deductions, rule_id)
    if row is None:
        raise missing("deduction rule")
    if row["active"]:
        conn.execute(t.payout_deductions.update().where(t.payout_deductions.c.id == row["id"])
                     .values(active=False))
        audit.record(conn, actor=actor, action="payout_deduction.deactivate",
                     entity="payout_deduction", entity_id=str(row["id"]), now=now,
                     before={"active": True}, after={"active": False})
    return {**row, "active": False}
